// Job kind `tp`: Thought Propagation and its baselines as a resumable batch job on the work-item runner.
// One work item = one (problem, method) pair, item = problem × |methods| + method, dealt over the ranks;
// each rank talks to its own endpoint (llm.endpoints[rank % count]: one server per node) or a shared one,
// and every rank's calls go through the same backend stack, so with the cache layer (the default) all
// ranks share one response cache and a resumed or repeated run never pays for a call twice.
//
// What each item records (results.h5, layout in jobs/work_items.hpp and jobs/tp_calls.hpp):
//   numbers  problem, method_index, calls, prompt_tokens, completion_tokens, http_attempts, failed_calls,
//            failed_steps, llm_seconds (its calls' seconds added up), and per layer L (0 = the first answer; baselines have L0
//            only, TP has L0..K): optimal_L, feasible_L, over_length_L, calls_L, tokens_L
//   texts    method, answer (the final one), answer_L<l>; every call in /calls
// Creative writing (tp.task = "creative_writing") records instead coherence (the judge's mean, 1-10),
// judgements, solve_calls and the passage.
// Summary (root attributes): <method>.optimal_rate / feasible_rate / over_length_rate / calls_per_problem /
// tokens_per_problem, and for TP the same per layer as tp.L<l>.*.
#include "jobs/job_kinds.hpp"
#include "jobs/tp_calls.hpp"
#include "src/llm/backends.hpp"
#include "src/reasoning/tp_creative_writing.hpp"
#include "src/reasoning/tp_shortest_path.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <mutex>

namespace relfm::jobs {
namespace {

using reasoning::SpProblem;

std::vector<SpProblem> read_problem_dir(const std::string& dir, int64_t limit) {
  // The official set is easy/0.json .. easy/99.json: read them in numeric order.
  std::vector<std::pair<int64_t, std::string>> files;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) fail_input("tp.problems_dir: '{}' is not a directory", dir);
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string stem = e.path().stem().string();
    if (e.path().extension() != ".json" || stem.empty() || !std::all_of(stem.begin(), stem.end(), ::isdigit)) continue;
    files.push_back({std::stoll(stem), e.path().string()});
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) fail_input("tp.problems_dir: no <number>.json problem files in '{}'", dir);
  if (limit > 0 && static_cast<int64_t>(files.size()) > limit) files.resize(static_cast<size_t>(limit));
  std::vector<SpProblem> out;
  for (const auto& [index, path] : files) out.push_back(reasoning::read_problem_file(path));
  return out;
}

class TpJob final : public WorkItemJob {
 public:
  void setup(const dist::Comm& comm, const JobConfig& config) override {
    comm.collective([&] {
      task_ = config.get_string("tp.task");
      writing_ = task_ == "creative_writing";
      methods_ = config.get_string_list("tp.methods");
      if (methods_.empty()) fail_input("{}: tp.methods is empty", config.source());
      const std::vector<std::string>& known = writing_ ? reasoning::creative_writing_methods() : reasoning::shortest_path_methods();
      for (const std::string& m : methods_)
        if (std::find(known.begin(), known.end(), m) == known.end())
          fail_input("{}: tp.methods: unknown method '{}' for tp.task = {} (methods: {})", config.source(), m, task_,
                     writing_ ? "io, cot, tp" : "io, cot, bag, tot, tp");
      writing_settings_.analogues = config.get_int("tp.analogues");
      writing_settings_.samples = config.get_int("tp.samples");
      writing_settings_.votes = config.get_int("tp.votes");
      writing_settings_.judge_samples = config.get_int("tp.judge_samples");
      settings_.base = config.get_string("tp.base");
      settings_.layers = config.get_int("tp.layers");
      settings_.aggregation = config.get_string("tp.aggregation");
      settings_.votes = config.get_int("tp.votes");
      const std::string dir = config.get_string("tp.problems_dir");
      if (writing_) {
        std::string file = config.get_string("tp.instances_file");
        if (file.empty()) file = std::string(RELFM_SOURCE_DIR) + "/data/tp/creative_writing/data_100_random_text.txt";
        instances_ = reasoning::read_creative_writing_file(file);
        const int64_t limit = config.get_int("tp.num_problems");
        if (limit > 0 && static_cast<int64_t>(instances_.size()) > limit) instances_.resize(static_cast<size_t>(limit));
      } else if (!dir.empty()) {
        problems_ = read_problem_dir(dir, config.get_int("tp.num_problems"));
      } else {
        for (int64_t i = 0; i < config.get_int("tp.num_problems"); ++i)
          problems_.push_back(reasoning::generate_problem(static_cast<uint64_t>(config.get_int("tp.generator_seed")),
                                                          static_cast<uint64_t>(i)));
      }
      std::string prompts_dir = config.get_string("tp.prompts_dir");
      if (prompts_dir.empty()) prompts_dir = std::string(RELFM_SOURCE_DIR) + "/jobs/tp_prompts";
      prompts_ = reasoning::PromptSet(prompts_dir, writing_ ? reasoning::creative_writing_prompt_names()
                                                            : reasoning::shortest_path_prompt_names());

      const std::vector<std::string>& endpoints = config.get_string_list("llm.endpoints");
      if (endpoints.empty()) fail_input("{}: llm.endpoints is empty (give one URL, or one per node)", config.source());
      llm::BackendOptions o;
      o.openai.base_url = endpoints[static_cast<size_t>(comm.rank()) % endpoints.size()];
      o.openai.api_key_env = config.get_string("llm.api_key_env");
      o.openai.timeout_s = config.get_real("llm.timeout_s");
      o.openai.connect_timeout_s = config.get_real("llm.connect_timeout_s");
      o.openai.max_in_flight = config.get_int("llm.max_in_flight");
      // One bound for the whole rank, however many items it works on at once.
      o.openai.permits = std::make_shared<llm::RequestPermits>(o.openai.max_in_flight);
      o.retry.max_attempts = config.get_int("llm.max_attempts");
      o.retry.initial_backoff_s = config.get_real("llm.initial_backoff_s");
      o.retry.max_backoff_s = config.get_real("llm.max_backoff_s");
      o.cache_dir = config.get_string("llm.cache_dir");
      if (o.cache_dir.empty()) o.cache_dir = config.get_string("output.dir") + "/llm_cache";
      reasoning::SamplingSettings sampling;
      sampling.model = config.get_string("llm.model");
      sampling.temperature = config.get_real("llm.temperature");
      sampling.max_tokens = config.get_int("llm.max_tokens");
      sampling.seed = config.get_int("llm.seed");
      // One backend stack per item in flight (a stack is used by one thread at a time), built here,
      // before any item: a missing API key or a bad backend key stops every rank now.
      const int64_t at_once = config.get_int("tp.items_in_flight");
      for (int64_t w = 0; w < at_once; ++w) {
        o.retry.seed = static_cast<uint64_t>(comm.rank() * at_once + w);  // jitter only
        Worker worker;
        worker.backend = llm::make_backend(config.get_string("llm.backend"), o, config.source() + ": llm.backend");
        worker.runner = std::make_unique<reasoning::StepRunner>(*worker.backend, sampling);
        workers_.push_back(std::move(worker));
        idle_workers_.push_back(static_cast<size_t>(w));
      }
      describe_ = workers_.front().backend->describe();
    });
  }

  int64_t items_at_once() const override { return static_cast<int64_t>(workers_.size()); }

  int64_t num_items() const override {
    return static_cast<int64_t>((writing_ ? instances_.size() : problems_.size()) * methods_.size());
  }
  std::string item_unit() const override { return "problem-methods"; }

  ItemRecord process(int64_t item) override {
    const size_t problem = static_cast<size_t>(item) / methods_.size(), method = static_cast<size_t>(item) % methods_.size();
    if (writing_) return process_writing(problem, method);
    const SpProblem& p = problems_[problem];
    const WorkerLease worker(*this);
    const reasoning::SpOutcome out = reasoning::run_shortest_path(methods_[method], p, prompts_, worker.runner(), settings_);
    ItemRecord r;
    r.numbers["problem"] = static_cast<double>(problem);
    r.numbers["method_index"] = static_cast<double>(method);
    r.texts["method"] = methods_[method];
    r.texts["answer"] = out.answers.back();
    const CallTotals total = total_of(out.calls);
    r.numbers["calls"] = static_cast<double>(out.calls.size());
    r.numbers["prompt_tokens"] = total.prompt_tokens;
    r.numbers["completion_tokens"] = total.completion_tokens;
    r.numbers["http_attempts"] = total.http_attempts;
    r.numbers["failed_calls"] = total.failed;
    r.numbers["llm_seconds"] = total.seconds;
    r.numbers["failed_steps"] = static_cast<double>(out.failed_steps);
    for (size_t l = 0; l < out.answers.size(); ++l) {
      const reasoning::SpScore s = reasoning::score_answer(p, out.answers[l]);
      const std::string L = "_L" + std::to_string(l);
      r.numbers["optimal" + L] = s.optimal;
      r.numbers["feasible" + L] = s.feasible;
      r.numbers["over_length" + L] = s.feasible ? s.over_length : std::nan("");
      r.numbers["calls" + L] = static_cast<double>(out.calls_at_layer[l]);
      r.numbers["tokens" + L] = static_cast<double>(out.tokens_at_layer[l]);
      r.texts["answer" + L] = out.answers[l];
    }
    r.texts["_calls"] = calls_to_jsonl(out.calls);
    return r;
  }

  ItemRecord process_writing(size_t instance, size_t method) {
    const WorkerLease worker(*this);
    const reasoning::CwOutcome out =
        reasoning::run_creative_writing(methods_[method], instances_[instance], prompts_, worker.runner(), writing_settings_);
    ItemRecord r;
    r.numbers["problem"] = static_cast<double>(instance);
    r.numbers["method_index"] = static_cast<double>(method);
    r.numbers["coherence"] = out.coherence;
    r.numbers["judgements"] = static_cast<double>(out.judgements);
    r.numbers["solve_calls"] = static_cast<double>(out.solve_calls);
    r.numbers["calls"] = static_cast<double>(out.calls.size());
    r.numbers["failed_steps"] = static_cast<double>(out.failed_steps);
    const CallTotals total = total_of(out.calls);
    r.numbers["tokens"] = total.prompt_tokens + total.completion_tokens;
    r.numbers["http_attempts"] = total.http_attempts;
    r.numbers["failed_calls"] = total.failed;
    r.numbers["llm_seconds"] = total.seconds;
    r.texts["method"] = methods_[method];
    r.texts["answer"] = out.passage;
    r.texts["_calls"] = calls_to_jsonl(out.calls);
    return r;
  }

  std::map<std::string, double> summarize_writing(const std::map<int64_t, ItemRecord>& records) const {
    // Mean ± standard deviation of the judge's coherence over the instances it scored (Table 2's numbers).
    std::map<std::string, std::vector<double>> scores;
    std::map<std::string, double> calls, tokens, n;
    for (const auto& [item, r] : records) {
      const std::string& m = r.texts.at("method");
      if (std::isfinite(r.numbers.at("coherence"))) scores[m].push_back(r.numbers.at("coherence"));
      calls[m] += r.numbers.at("solve_calls");
      tokens[m] += r.numbers.at("tokens");
      n[m] += 1;
    }
    std::map<std::string, double> out;
    for (const auto& [m, count] : n) {
      const std::vector<double>& s = scores[m];
      double mean = 0, var = 0;
      for (double x : s) mean += x / static_cast<double>(s.size());
      for (double x : s) var += (x - mean) * (x - mean) / static_cast<double>(s.size());
      out[m + ".coherence_mean"] = s.empty() ? std::nan("") : mean;
      out[m + ".coherence_std"] = s.empty() ? std::nan("") : std::sqrt(var);
      out[m + ".calls_per_problem"] = calls[m] / count;  // without the judge's calls
      out[m + ".tokens_per_problem"] = tokens[m] / count;
    }
    return out;
  }

  std::map<std::string, double> summarize(const std::map<int64_t, ItemRecord>& records) const override {
    if (writing_) return summarize_writing(records);
    // Rates per method, and for TP per layer (1-layer TP = TP's L1, as the official evaluation reads it).
    struct Acc {
      double n = 0, optimal = 0, feasible = 0, over = 0, calls = 0, tokens = 0;
    };
    std::map<std::string, Acc> acc;
    for (const auto& [item, r] : records) {
      const std::string& m = r.texts.at("method");
      for (int64_t l = 0; r.numbers.count("optimal_L" + std::to_string(l)); ++l) {
        const std::string L = "_L" + std::to_string(l);
        const bool last = !r.numbers.count("optimal_L" + std::to_string(l + 1));
        for (const std::string& name : {m + ".L" + std::to_string(l), last ? m : std::string()}) {
          if (name.empty() || (m != "tp" && name != m)) continue;
          Acc& a = acc[name];
          a.n += 1;
          a.optimal += r.numbers.at("optimal" + L);
          a.feasible += r.numbers.at("feasible" + L);
          if (r.numbers.at("feasible" + L) > 0) a.over += r.numbers.at("over_length" + L);
          a.calls += r.numbers.at("calls" + L);
          a.tokens += r.numbers.at("tokens" + L);
        }
      }
    }
    std::map<std::string, double> out;
    for (const auto& [name, a] : acc) {
      out[name + ".optimal_rate"] = a.optimal / a.n;
      out[name + ".feasible_rate"] = a.feasible / a.n;
      out[name + ".over_length_rate"] = a.feasible > 0 ? a.over / a.feasible : 0.0;
      out[name + ".calls_per_problem"] = a.calls / a.n;
      out[name + ".tokens_per_problem"] = a.tokens / a.n;
    }
    return out;
  }

  std::map<std::string, std::string> attrs() const override {
    return {{"task", task_}, {"llm_backend", describe_}, {"prompts_fingerprint", prompts_.fingerprint()}};
  }
  void write_tables(h5::File& f, const std::map<int64_t, ItemRecord>& records) const override {
    write_calls_table(f, records);
  }
  std::map<std::string, double> run_counters() const override {
    llm::Stats s;
    for (const Worker& w : workers_) w.backend->add_stats(s);
    return {{"http_requests", static_cast<double>(s.http_calls)}, {"http_failures", static_cast<double>(s.http_failures)},
            {"retries", static_cast<double>(s.retries)},         {"cache_hits", static_cast<double>(s.cache_hits)},
            {"cache_misses", static_cast<double>(s.cache_misses)}, {"failed_replies", static_cast<double>(s.failed_replies)}};
  }

 private:
  std::string task_;
  bool writing_ = false;
  std::vector<std::string> methods_;
  std::vector<SpProblem> problems_;
  std::vector<std::string> instances_;
  reasoning::CwSettings writing_settings_;
  reasoning::SpMethodSettings settings_;
  reasoning::PromptSet prompts_;
  struct Worker {
    std::unique_ptr<llm::ChatBackend> backend;
    std::unique_ptr<reasoning::StepRunner> runner;
  };
  // A free worker for the duration of one item (process() runs in several threads at once).
  class WorkerLease {
   public:
    explicit WorkerLease(TpJob& job) : job_(job) {
      std::lock_guard lock(job_.workers_mutex_);
      index_ = job_.idle_workers_.back();  // never empty: at most workers_.size() items run at once
      job_.idle_workers_.pop_back();
    }
    ~WorkerLease() {
      std::lock_guard lock(job_.workers_mutex_);
      job_.idle_workers_.push_back(index_);
    }
    WorkerLease(const WorkerLease&) = delete;
    WorkerLease& operator=(const WorkerLease&) = delete;
    reasoning::StepRunner& runner() const { return *job_.workers_[index_].runner; }

   private:
    TpJob& job_;
    size_t index_ = 0;
  };
  std::vector<Worker> workers_;
  std::mutex workers_mutex_;
  std::vector<size_t> idle_workers_;
  std::string describe_;
};

std::vector<KeySpec> tp_keys() {
  using V = ValueKind;
  const auto B = Resume::kBlocks;
  return {
      {"tp.task", V::kString, "\"shortest_path\"", "The task (research §2.1, §2.2).", {"shortest_path", "creative_writing"}, {}, {}, B},
      {"tp.methods", V::kStringList, "[\"io\", \"tp\"]", "Methods run on every problem: io, cot, bag, tot, tp.", {}, {}, {}, B},
      {"tp.base", V::kString, "\"io\"", "TP's solver prompt.", {"io", "cot", "bag"}, {}, {}, B},
      {"tp.layers", V::kInt, "2", "TP layers K (answers after every layer are scored).", {}, 1, 5, B},
      {"tp.aggregation", V::kString, "\"direct\"", "direct: aggregate + readout; vote: one solve per hint, then sampled votes.",
       {"direct", "vote"}, {}, {}, B},
      {"tp.votes", V::kInt, "5", "Votes per aggregation (shortest path with tp.aggregation = vote; creative writing).", {}, 1, 50, B},
      {"tp.analogues", V::kInt, "5", "Creative writing: rephrasings proposed (analogous problems).", {}, 1, 50, B},
      {"tp.samples", V::kInt, "5", "Creative writing: passages written with the chosen plan.", {}, 1, 50, B},
      {"tp.judge_samples", V::kInt, "5", "Creative writing: judge calls averaged per passage.", {}, 1, 50, B},
      {"tp.instances_file", V::kString, "\"\"", "Creative writing instances; empty = the shipped data/tp/creative_writing file.", {}, {}, {}, B},
      {"tp.problems_dir", V::kString, "\"\"", "Directory of official problem files <n>.json; empty = generate.", {}, {}, {}, B},
      {"tp.num_problems", V::kInt, "100", "Problems generated (or the first files / instances read; 0 = all).", {}, 0, {}, B},
      {"tp.generator_seed", V::kInt, "0", "Seed of the problem generator.", {}, 0, {}, B},
      {"tp.prompts_dir", V::kString, "\"\"", "Prompt templates; empty = the shipped jobs/tp_prompts.", {}, {}, {}, B},
      {"tp.items_in_flight", V::kInt, "8",
       "Items (problem × method) a rank works on at once, each in its own thread with its own backend stack; "
       "together they keep at most llm.max_in_flight requests in flight.",
       {}, 1, 256},
      {"llm.backend", V::kString, "\"cache,retry,openai\"", "Backend stack, outermost first (layers: cache, retry, openai).", {}, {}, {}},
      {"llm.endpoints", V::kStringList, "[\"http://127.0.0.1:8080\"]", "Base URLs; rank r uses entry r % count.", {}, {}, {}},
      {"llm.model", V::kString, "\"default\"", "Model name sent with every request.", {}, {}, {}, B},
      {"llm.api_key_env", V::kString, "\"\"", "Environment variable holding the API key (empty = no key).", {}, {}, {}},
      {"llm.temperature", V::kReal, "0.0", "Sampling temperature.", {}, 0.0, 2.0, B},
      {"llm.max_tokens", V::kInt, "1000", "Completion tokens per call.", {}, 1, {}, B},
      {"llm.seed", V::kInt, "0", "Seed sent with every request (sample k sends seed + k).", {}, 0, {}, B},
      {"llm.timeout_s", V::kReal, "120.0", "Timeout of one HTTP request.", {}, 0.001, {}},
      {"llm.connect_timeout_s", V::kReal, "10.0", "Connection timeout.", {}, 0.001, {}},
      {"llm.max_in_flight", V::kInt, "8", "Requests in flight per rank.", {}, 1, 1024},
      {"llm.max_attempts", V::kInt, "5", "HTTP attempts per call (retry layer).", {}, 1, 100},
      {"llm.initial_backoff_s", V::kReal, "0.5", "First retry delay (doubles, with jitter).", {}, 0.0, {}},
      {"llm.max_backoff_s", V::kReal, "30.0", "Cap of the retry delay.", {}, 0.0, {}},
      {"llm.cache_dir", V::kString, "\"\"", "Response cache; empty = output.dir/llm_cache.", {}, {}, {}},
  };
}

}  // namespace

RELFM_REGISTER_JOB_KIND(JobKind{.name = "tp",
                                .doc = "Thought Propagation and its baselines over LLM endpoints (work items).",
                                .keys = tp_keys,
                                .make_work_job = [] { return std::make_unique<TpJob>(); },
                                .uses_gemm = false});

}  // namespace relfm::jobs
