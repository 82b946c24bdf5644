// Proximity-graph build rate (issue 8): the top-K-of-M build and the exact kNN mode on random unit
// embeddings, against the GEMM rate measured in the same run at the build's own product shape on the same
// backend (the build is "at x% of the GEMM rate" when its scoring products plus selection run at x% of
// what the bare products take). The trainer rebuilds the graph every t steps into memory its heap keeps
// (tune_malloc), so the rate is the steady state's: the best of three builds, as the products' reference is
// the best of three; the first, cold build (which also faults in its output's pages) is printed beside it.
//
//   relfm_proximity_build [N = 100000] [d = 128] [M = 1000] [K = 100] [pool_factor = 4] [exact queries = 0]
//
// With `exact queries` > 0 it also times exact kNN (M = N) for that many anchors against all N.
#include "src/core/malloc_tuning.hpp"
#include "src/sampler/proximity_graph.hpp"
#include "src/tensor/gemm.hpp"

#include <fmt/format.h>

#include <chrono>
#include <string>
#include <vector>

namespace relfm {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Seconds for `reps` products of shape (m x k) (n x k)^T on the active backend, best of three.
double gemm_seconds(int64_t m, int64_t n, int64_t k, int reps) {
  std::vector<float> a(static_cast<size_t>(m * k), 0.5f), b(static_cast<size_t>(n * k), 0.25f), c(static_cast<size_t>(m * n));
  gemm::Product p;
  p.a = a.data();
  p.b = b.data();
  p.c = c.data();
  p.m = m;
  p.n = n;
  p.k = k;
  p.trans_b = true;
  gemm::multiply(p);
  double best = 1e30;
  for (int trial = 0; trial < 3; ++trial) {
    const auto t = Clock::now();
    for (int r = 0; r < reps; ++r) gemm::multiply(p);
    best = std::min(best, seconds_since(t));
  }
  return best;
}

// FNV-1a over the table: two builds of the same graph print the same hash.
uint64_t table_hash(const IndexMat& g) {
  uint64_t h = 1469598103934665603ull;
  for (Eigen::Index i = 0; i < g.size(); ++i) h = (h ^ static_cast<uint32_t>(g.data()[i])) * 1099511628211ull;
  return h;
}

int run(int argc, char** argv) {
  tune_malloc();  // as the trainer does (dist/runtime.cpp)
  auto arg = [&](int i, int64_t fallback) { return argc > i ? std::stoll(argv[i]) : fallback; };
  const int64_t n = arg(1, 100000), d = arg(2, 128), m = arg(3, 1000), k = arg(4, 100), factor = arg(5, 4),
                exact_queries = arg(6, 0);
  gemm::probe_candidates();
  gemm::activate(gemm::apply_gemm_request("auto", "benchmark"));
  const gemm::Selection& sel = gemm::selection();
  MatF bank(n, d);
  const CounterRng rng(1, RngPurpose::kTest);
  for (int64_t i = 0; i < n * d; ++i) bank.data()[i] = static_cast<float>(rng.normal(static_cast<uint64_t>(i)));
  sampler::normalise_rows(bank);

  sampler::ProximityConfig config;
  config.candidates = m;
  config.neighbours = k;
  config.pool_factor = factor;
  IndexMat g;
  double build = 1e30, cold = 0;
  for (int trial = 0; trial < 3; ++trial) {
    const auto t = Clock::now();
    g = sampler::proximity_neighbours(bank, 0, n, config, CounterRng(2, RngPurpose::kSampler));
    const double seconds = seconds_since(t);
    if (trial == 0) cold = seconds;
    build = std::min(build, seconds);
  }
  const int64_t blocks = (n + config.block - 1) / config.block, pool = factor * m;
  const double flops = 2.0 * static_cast<double>(n) * static_cast<double>(pool) * static_cast<double>(d);
  const double bare = gemm_seconds(config.block, pool, d, 20) / 20 * static_cast<double>(blocks);
  fmt::print("gemm backend {}; N {} d {} M {} K {} pool {} (block {})\n", sel.summary(), n, d, m, k, pool, config.block);
  fmt::print("top-K-of-M build {:.3f} s, best of 3 (cold first build {:.3f} s) ({:.1f} GFLOP/s of scoring); the bare "
             "products {:.3f} s ({:.1f} GFLOP/s): build at {:.0f}% of the GEMM rate ({:.0f}% cold); {} edges (first row {} ...; table hash {:016x})\n",
             build, cold, flops / build / 1e9, bare, flops / bare / 1e9, 100.0 * bare / build, 100.0 * bare / cold, g.size(),
             g(0, 0), table_hash(g));
  if (exact_queries > 0) {
    config.candidates = n;
    const auto t = Clock::now();
    const IndexMat exact = sampler::proximity_neighbours(bank, 0, exact_queries, config, CounterRng(2, RngPurpose::kSampler));
    const double seconds = seconds_since(t);
    const double exact_flops = 2.0 * static_cast<double>(exact_queries) * static_cast<double>(n) * static_cast<double>(d);
    const double exact_bare = gemm_seconds(256, 4096, d, 5) / 5 * (static_cast<double>(exact_queries) / 256.0) *
                              (static_cast<double>(n) / 4096.0);
    fmt::print("exact kNN {} queries x {} : {:.3f} s ({:.1f} GFLOP/s); bare products {:.3f} s: {:.0f}% of the GEMM "
               "rate; {:.0f} queries/s (first row {} ...)\n",
               exact_queries, n, seconds, exact_flops / seconds / 1e9, exact_bare, 100.0 * exact_bare / seconds,
               static_cast<double>(exact_queries) / seconds, exact(0, 0));
  }
  return 0;
}

}  // namespace
}  // namespace relfm

int main(int argc, char** argv) { return relfm::run(argc, argv); }
