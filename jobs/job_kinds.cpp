#include "jobs/job_kinds.hpp"

#include "dist/gemm_select.hpp"
#include "dist/runtime.hpp"
#include "io/checkpoint.hpp"
#include "io/h5.hpp"
#include "src/core/log.hpp"

#include <toml++/toml.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace relfm::jobs {
namespace {

std::map<std::string, JobKind>& registry() {
  static std::map<std::string, JobKind> kinds;
  return kinds;
}

std::string choices_text() {
  std::string list;
  for (const auto& name : job_kind_names()) list += (list.empty() ? "" : ", ") + name;
  return list;
}

std::vector<KeySpec> shared_keys() {
  return {
      {"job.kind", ValueKind::kString, "\"gin\"", "Job kind: which registered job runs.", job_kind_names(), {}, {},
       Resume::kBlocks},
      {"job.name", ValueKind::kString, "\"\"", "Name shown in logs and stored in results; empty = the job file's stem."},
      {"compute.gemm", ValueKind::kString, "\"auto\"",
       "Matrix-product backend: `auto` (the fastest correct one measured at start-up; on resume, the one that "
       "wrote the checkpoint), `eigen`, `openblas` (the kernel OpenBLAS detects, or OPENBLAS_CORETYPE) or "
       "`openblas:<Core>`. The environment variable RELFM_GEMM overrides it. A forced backend that fails its check "
       "is an error."},
  };
}

}  // namespace

// job.kind before the full parse: the last --set wins over the file; the line is named when it is wrong.
std::string peek_job_kind(const std::string& text, const std::string& source, const std::vector<std::string>& overrides) {
  std::string kind = "gin";
  std::string origin = source;
  toml::table table;
  try {
    table = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    fail_input("{}, line {}, column {}: {}", source, e.source().begin.line, e.source().begin.column, e.description());
  }
  if (const toml::node* node = table.at_path("job.kind").node()) {
    if (!node->is_string()) fail_input("{}, line {}: key 'job.kind' must be a string", source, node->source().begin.line);
    kind = *node->value<std::string>();
    origin = fmt::format("{}, line {}", source, node->source().begin.line);
  }
  for (const std::string& item : overrides)
    if (item.rfind("job.kind=", 0) == 0) {
      kind = item.substr(9);
      if (kind.size() >= 2 && kind.front() == '"' && kind.back() == '"') kind = kind.substr(1, kind.size() - 2);
      origin = "--set " + item;
    }
  if (!registry().count(kind)) fail_input("{}: key 'job.kind' must be one of {}, not '{}'", origin, choices_text(), kind);
  return kind;
}


bool register_job_kind(JobKind kind) {
  const std::string name = kind.name;
  if (!kind.make_epoch_job == !kind.make_work_job) fail("job kind '{}' needs exactly one runner", name);
  if (registry().count(name)) fail("job kind '{}' registered twice", name);
  registry().emplace(name, std::move(kind));
  return true;
}

std::vector<std::string> job_kind_names() {
  std::vector<std::string> names;
  for (const auto& [name, kind] : registry()) names.push_back(name);
  return names;
}

const JobKind& job_kind(const std::string& name) {
  auto it = registry().find(name);
  if (it == registry().end()) fail_input("unknown job kind '{}' (one of {})", name, choices_text());
  return it->second;
}

const Schema& job_schema(const std::string& kind) {
  static std::map<std::string, std::unique_ptr<Schema>> schemas;
  auto it = schemas.find(kind);
  if (it != schemas.end()) return *it->second;
  const JobKind& k = job_kind(kind);
  std::vector<KeySpec> keys = shared_keys();
  if (k.make_epoch_job)
    for (auto& spec : epoch_trainer_keys()) keys.push_back(spec);
  if (k.make_work_job)
    for (auto& spec : work_item_keys()) keys.push_back(spec);
  for (auto& spec : k.keys()) keys.push_back(spec);
  return *schemas.emplace(kind, std::make_unique<Schema>(std::move(keys))).first->second;
}

JobConfig parse_job_config(const std::string& text, const std::string& source, const std::vector<std::string>& overrides) {
  return JobConfig::parse(text, source, overrides, job_schema(peek_job_kind(text, source, overrides)));
}

JobConfig load_job_config(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream in(path);
  if (!in) fail_input("cannot read job file '{}'", path);
  std::stringstream text;
  text << in.rdbuf();
  return parse_job_config(text.str(), path, overrides);
}

int run_job(const dist::Comm& comm, const JobConfig& config, const RunOptions& options) {
  const JobKind& kind = job_kind(config.get_string("job.kind"));
  const bool may_resume = options.resume != ResumeMode::kNever && kind.make_epoch_job;
  const std::string out_dir = config.get_string("output.dir");
  if (kind.uses_gemm)
    select_gemm(comm, config, may_resume ? out_dir + "/checkpoint.h5" : std::string(),
                may_resume ? out_dir + "/results.h5" : std::string());
  if (kind.make_epoch_job) {
    std::unique_ptr<EpochJob> job = comm.collective([&] { return kind.make_epoch_job(); });
    return run_epochs(comm, config, options, *job);
  }
  std::unique_ptr<WorkItemJob> job = comm.collective([&] { return kind.make_work_job(); });
  return run_work_items(comm, config, options, *job);
}

void select_gemm(const dist::Comm& comm, const JobConfig& config, const std::string& checkpoint_path,
                 const std::string& results_path) {
  std::string request = config.get_string("compute.gemm");
  std::string source = "compute.gemm";
  if (request == "auto" && !checkpoint_path.empty() && dist::exists_on_root(comm, checkpoint_path)) {
    CheckpointReader reader(checkpoint_path, comm);
    if (reader.has_section("trainer")) {
      const StateSection st = reader.read_state("trainer");
      if (st.texts.count("gemm_key")) {
        request = st.texts.at("gemm_key");
        source = "the checkpoint '" + checkpoint_path + "'";
      }
    }
    reader.close();
  } else if (request == "auto" && !results_path.empty() && dist::exists_on_root(comm, results_path)) {
    // No checkpoint: the trainer keeps the completed runs recorded here, so the new runs take their kernel
    // when they run on the same CPU (elsewhere they cannot repeat those runs' rounding anyway, and the
    // kernel may not exist). A file that cannot be read names no kernel; the trainer reports what is wrong.
    const std::string recorded = comm.collective([&] {
      try {
        h5::File f = h5::File::open(results_path, comm);
        const bool same_cpu = f.has_attr("/", "cpu") && f.attr_string("/", "cpu") == cpu_description();
        const std::string key = same_cpu && f.has_attr("/", "gemm_key") ? f.attr_string("/", "gemm_key") : std::string();
        f.close();
        return key;
      } catch (const Error&) {
        return std::string();
      }
    });
    if (!recorded.empty()) {
      request = recorded;
      source = "the results '" + results_path + "'";
    }
  }
  const gemm::Selection& selection = dist::select_gemm_backend(comm, request, source);
  for (const std::string& line : selection.log_lines()) logging::info("{}", line);
}

std::string cpu_description() {
  // Linux's /proc/cpuinfo: the first processor's model name, family and model (benchmarks and results name
  // the CPU they ran on: these machines differ from session to session).
  std::ifstream in("/proc/cpuinfo");
  std::string line, name, family, model;
  auto value = [](const std::string& l) {
    const size_t colon = l.find(':');
    if (colon == std::string::npos) return std::string();
    const size_t begin = l.find_first_not_of(" \t", colon + 1);
    return begin == std::string::npos ? std::string() : l.substr(begin);
  };
  while (std::getline(in, line) && (name.empty() || family.empty() || model.empty())) {
    if (line.rfind("model name", 0) == 0 && name.empty()) name = value(line);
    else if (line.rfind("cpu family", 0) == 0 && family.empty()) family = value(line);
    else if (line.rfind("model", 0) == 0 && line.rfind("model name", 0) != 0 && model.empty()) model = value(line);
  }
  if (name.empty()) return "unknown";
  return family.empty() ? name : fmt::format("{} (family {} model {})", name, family, model);
}

std::map<std::string, std::string> run_environment_attrs(bool with_gemm) {
  if (!with_gemm) return {{"cpu", cpu_description()}};
  const gemm::Selection& s = gemm::selection();
  return {{"gemm_backend", s.backend}, {"gemm_kernel", s.kernel}, {"gemm_key", s.key}, {"gemm_how", s.how},
          {"cpu", cpu_description()}};
}

void check_eval_split(const dist::Comm& comm, const EvalOptions& options) {
  comm.collective([&] {
    if (options.split != "train" && options.split != "valid" && options.split != "test")
      fail_input("relfm eval: --split must be train, valid or test, not '{}'", options.split);
  });
}

void load_job_for_eval(const dist::Comm& comm, const JobConfig& config, EpochJob& job, const std::string& checkpoint,
                       uint64_t seed) {
  job.setup(comm, config);
  job.build(seed);
  CheckpointReader reader(checkpoint, comm);
  job.load(reader);
  reader.close();
}

}  // namespace relfm::jobs
