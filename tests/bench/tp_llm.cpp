// Benchmarks of the LLM client and the Thought Propagation engine against relfm_scripted_llm_server (a
// loopback server with scripted answers, not a model). Not a test: prints numbers for the README.
//   1. Engine overhead: calls/s of one client (one rank) against a server that answers at once — raw
//      batches through the backend stack, and the TP engine itself (prompt rendering, parsing).
//   2. In-flight: against a server that answers in 200 ms, throughput against in-flight / latency.
//   3. TP against IO on the noisy server (per-step error rate e): optimal rates with 95% intervals and
//      the paired difference.
// The server is started by this program; run it pinned (taskset) so both share the same core(s).
#include "src/llm/backends.hpp"
#include "src/reasoning/tp_shortest_path.hpp"
#include "tests/src/llm/scripted_server.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

using namespace relfm;

namespace {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

std::vector<llm::ChatRequest> requests(int64_t n, int64_t offset) {
  std::vector<llm::ChatRequest> out;
  for (int64_t i = 0; i < n; ++i) {
    const reasoning::SpProblem p = reasoning::generate_problem(1, static_cast<uint64_t>((offset + i) % 500));
    llm::ChatRequest r;
    r.model = "bench";
    r.messages = {{"user", "Input:\n" + reasoning::gml_graph(p.graph, true) + "\n\nSource Node: 0\nTarget Node: " +
                               std::to_string(p.target) + "\nAnswer:\n"}};
    r.seed = offset + i;  // distinct requests
    r.sample = offset + i;
    out.push_back(std::move(r));
  }
  return out;
}

void raw_rate(const std::string& url, const std::string& key, int64_t in_flight, int64_t n, const std::string& cache) {
  llm::BackendOptions o;
  o.openai.base_url = url;
  o.openai.max_in_flight = in_flight;
  o.cache_dir = cache;
  auto backend = llm::make_backend(key, o);
  backend->complete(requests(200, 1000000));  // warm the connections
  const std::vector<llm::ChatRequest> batch = requests(n, 0);
  const double t0 = now_s();
  const std::vector<llm::ChatReply> replies = backend->complete(batch);
  const double s = now_s() - t0;
  int64_t ok = 0;
  for (const auto& r : replies) ok += r.ok;
  std::printf("  %-20s in-flight %3lld: %7lld calls in %.2f s = %8.0f calls/s (%lld ok)\n", key.c_str(),
              static_cast<long long>(in_flight), static_cast<long long>(n), s, static_cast<double>(n) / s,
              static_cast<long long>(ok));
}

struct Rate {
  double p, lo, hi;
};
Rate wilson(double k, double n) {
  const double z = 1.96, p = k / n, d = 1 + z * z / n;
  const double c = (p + z * z / (2 * n)) / d, h = z * std::sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d;
  return {p, c - h, c + h};
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t n_calls = argc > 1 ? std::stoll(argv[1]) : 20000;
  const int64_t n_problems = argc > 2 ? std::stoll(argv[2]) : 200;
  const reasoning::PromptSet prompts(std::string(RELFM_SOURCE_DIR) + "/jobs/tp_prompts", reasoning::shortest_path_prompt_names());

  std::printf("1. engine overhead against the instant scripted server (client and server on the same core(s))\n");
  {
    testing::ScriptedServer server({"--mode", "oracle"});
    for (int64_t k : {1, 8, 32}) raw_rate(server.url(), "retry,openai", k, n_calls, "");
    const std::string cache = (std::filesystem::temp_directory_path() / ("relfm_bench_cache_" + std::to_string(::getpid()))).string();
    raw_rate(server.url(), "cache,retry,openai", 32, n_calls, cache);  // cold: every call written to the cache
    raw_rate(server.url(), "cache,retry,openai", 32, n_calls, cache);  // warm: no HTTP at all
    std::filesystem::remove_all(cache);
    llm::BackendOptions o;
    o.openai.base_url = server.url();
    auto backend = llm::make_backend("retry,openai", o);
    reasoning::StepRunner runner(*backend, {});
    int64_t calls = 0;
    const double t0 = now_s();
    for (int64_t i = 0; i < n_problems; ++i)
      calls += static_cast<int64_t>(
          reasoning::run_shortest_path("tp", reasoning::generate_problem(2, static_cast<uint64_t>(i)), prompts, runner, {.layers = 2})
              .calls.size());
    const double s = now_s() - t0;
    std::printf("  TP engine (2 layers, %lld problems): %lld calls in %.2f s = %.0f calls/s (batches of 1-6: latency-bound)\n",
                static_cast<long long>(n_problems), static_cast<long long>(calls), s, static_cast<double>(calls) / s);
  }

  std::printf("2. requests in flight against a server answering in 200 ms\n");
  {
    testing::ScriptedServer server({"--mode", "oracle", "--delay-ms", "200", "--threads", "160"});
    for (int64_t k : {8, 32, 128}) {
      llm::BackendOptions o;
      o.openai.base_url = server.url();
      o.openai.max_in_flight = k;
      auto backend = llm::make_backend("openai", o);
      backend->complete(requests(k, 2000000));  // open the connections
      const std::vector<llm::ChatRequest> batch = requests(10 * k, 3000000 + 100000 * k);
      const double t0 = now_s();
      backend->complete(batch);
      const double s = now_s() - t0, rate = static_cast<double>(batch.size()) / s, ideal = static_cast<double>(k) / 0.2;
      std::printf("  in-flight %3lld: %.1f calls/s, ideal %.1f (in-flight / latency): %.1f%%\n", static_cast<long long>(k), rate,
                  ideal, 100.0 * rate / ideal);
    }
  }

  std::printf("3. TP against IO on the noisy scripted server, %lld generated problems\n", static_cast<long long>(n_problems));
  for (const char* e : {"0.1", "0.2", "0.3"}) {
    testing::ScriptedServer server({"--mode", "noisy", "--error-rate", e, "--seed", "9"});
    llm::BackendOptions o;
    o.openai.base_url = server.url();
    auto backend = llm::make_backend("retry,openai", o);
    reasoning::StepRunner runner(*backend, {});
    double io = 0, tp1 = 0, tp2 = 0, d_sum = 0, d_sq = 0, calls1 = 0, calls2 = 0;
    for (int64_t i = 0; i < n_problems; ++i) {
      const reasoning::SpProblem p = reasoning::generate_problem(4, static_cast<uint64_t>(i));
      const double a = reasoning::score_answer(p, reasoning::run_shortest_path("io", p, prompts, runner, {}).answers[0]).optimal;
      const reasoning::SpOutcome t = reasoning::run_shortest_path("tp", p, prompts, runner, {.layers = 2});
      const double b1 = reasoning::score_answer(p, t.answers[1]).optimal, b2 = reasoning::score_answer(p, t.answers[2]).optimal;
      io += a, tp1 += b1, tp2 += b2, d_sum += b1 - a, d_sq += (b1 - a) * (b1 - a);
      calls1 += static_cast<double>(t.calls_at_layer[1]), calls2 += static_cast<double>(t.calls_at_layer[2]);
    }
    const double n = static_cast<double>(n_problems), mean = d_sum / n, sd = std::sqrt(std::max(0.0, d_sq / n - mean * mean));
    const Rate r_io = wilson(io, n), r1 = wilson(tp1, n), r2 = wilson(tp2, n);
    std::printf("  e = %s: OR IO %.3f [%.3f, %.3f], TP-1 %.3f [%.3f, %.3f], TP-2 %.3f [%.3f, %.3f]; "
                "TP-1 - IO = %+.3f ± %.3f (95%%, paired); calls/problem TP-1 %.2f, TP-2 %.2f\n",
                e, r_io.p, r_io.lo, r_io.hi, r1.p, r1.lo, r1.hi, r2.p, r2.lo, r2.hi, mean, 1.96 * sd / std::sqrt(n),
                calls1 / n, calls2 / n);
  }
  return 0;
}
