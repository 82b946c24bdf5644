// One attention layer's core, forward + backward, at sequence length L (issue 9's speed and memory
// benchmark): Diffuser (the official pattern: blocks of 64 every 32, 64 random keys per column of a
// max(4096, L) template, 64 globals; K hops, alpha 0.1) or relfm's dense softmax attention, on random
// q, k, v of width d with H heads. One configuration per process, so that the peak resident memory it
// prints (ru_maxrss) is that configuration's. Prints one JSON line: median seconds over the repetitions,
// peak MB, edges. tests/bench/diffuser_attention.sh runs the grid and the PyTorch reference.
//
//   relfm_diffuser_attention diffuser|dense L [D=256] [HEADS=4] [HOPS=5] [REPS=3]
// env: RELFM_NO_TILES=1 runs every edge through the CSR loops; RELFM_RANDOM_KEYS=n sets the random keys
// per template column (default 64); RELFM_RANDOM_LAYOUT=per_stride shares each band stride's random keys
// (attention.random_layout); RELFM_PROFILE=1 prints per-op times of the last repetition;
// RELFM_BLOCK_KB=n sets the sparse loops' cache block (default: the CPU's, src/tensor/sparse_edges.cpp).
#include "src/core/malloc_tuning.hpp"
#include "src/graph/attention_graph.hpp"
#include "src/models/diffuser_attention.hpp"
#include "src/tensor/gemm.hpp"
#include "src/tensor/sparse_edges.hpp"

#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

using namespace relfm;

int main(int argc, char** argv) {
  if (argc < 3) {
    fmt::print(stderr, "usage: {} diffuser|dense L [D=256] [HEADS=4] [HOPS=5] [REPS=3]\n", argv[0]);
    return 2;
  }
  const std::string kind = argv[1];
  const int64_t L = std::atoll(argv[2]);
  const int64_t d = argc > 3 ? std::atoll(argv[3]) : 256, heads = argc > 4 ? std::atoll(argv[4]) : 4;
  const int64_t hops = argc > 5 ? std::atoll(argv[5]) : 5, reps = argc > 6 ? std::atoll(argv[6]) : 3;
  tune_malloc();  // as the trainer does (dist/runtime.cpp)
  if (const char* kb = std::getenv("RELFM_BLOCK_KB")) sparse::set_cache_block_bytes(std::atoll(kb) << 10);
  // The backend the trainer would run here: the same probe, then its choice (without the probe "auto"
  // meant Eigen, whatever a faster OpenBLAS kernel would have given dense attention's big products).
  gemm::probe_candidates();
  gemm::activate(gemm::apply_gemm_request("auto"));
  const CounterRng rng(1, RngPurpose::kTest, 0);
  auto random = [&](uint64_t stream) {
    MatF m(L, d);
    const CounterRng r = rng.derive(stream);
    for (int64_t k = 0; k < m.size(); ++k) m.data()[k] = static_cast<float>(r.normal(static_cast<uint64_t>(k)));
    return m;
  };
  const MatF q = random(1) * (1.0f / std::sqrt(static_cast<float>(d / heads))), k = random(2), v = random(3), w = random(4);
  AttentionPattern pattern;
  int64_t edges = L * L;
  if (kind == "diffuser") {
    AttentionGraphConfig g;
    g.template_length = std::max<int64_t>(4096, L);
    if (const char* n = std::getenv("RELFM_RANDOM_KEYS")) g.num_random = std::atoll(n);
    if (const char* layout = std::getenv("RELFM_RANDOM_LAYOUT")) g.random_layout = layout;
    const AttentionGraph graph = build_attention_graph(L, g);
    pattern = {graph.by_query, graph.by_key, std::getenv("RELFM_NO_TILES") ? nullptr : graph.tiles};
    edges = graph.by_query->nnz();
  } else if (kind != "dense") {
    fmt::print(stderr, "unknown kind '{}'\n", kind);
    return 2;
  }
  DiffusionConfig diffusion;
  diffusion.hops = hops;
  // The training job's dropouts (official 0.1 on A and on every hop) take the general backward path.
  if (const char* p = std::getenv("RELFM_DROPOUT")) diffusion.attention_dropout = diffusion.hop_dropout = std::atof(p);
  std::vector<double> times;
  OpProfile profile;
  const bool profiling = std::getenv("RELFM_PROFILE") != nullptr;
  for (int64_t r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    Tape<float> tape;
    if (profiling && r + 1 == reps) tape.set_profile(&profile);
    Var<float> qv = tape.input(q, true), kv = tape.input(k, true), vv = tape.input(v, true);
    Var<float> out = kind == "dense" ? dense_attention(qv, kv, vv, heads)
                                     : diffuser_attention(pattern, qv, kv, vv, heads, diffusion, CounterRng(0, RngPurpose::kDropout), true);
    tape.backward(sum(mul(out, tape.input(w))));
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  if (profiling) fmt::print(stderr, "{}", profile.table());
  std::sort(times.begin(), times.end());
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  fmt::print("{{\"kind\": \"{}\", \"L\": {}, \"d\": {}, \"heads\": {}, \"hops\": {}, \"edges\": {}, \"seconds\": {:.4f}, "
             "\"peak_mb\": {:.1f}, \"gemm\": \"{}\"}}\n",
             kind, L, d, heads, hops, edges, times[times.size() / 2], static_cast<double>(usage.ru_maxrss) / 1024.0,
             gemm::active().key() + " (" + gemm::active().kernel() + ")");
  return 0;
}
