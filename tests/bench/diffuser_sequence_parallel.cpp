// Sequence-parallel efficiency of one Diffuser attention layer (issue 9: >= 70% on 2 ranks at L = 16k):
// forward + backward of the attention core on one sequence of L tokens, the official pattern (as
// relfm_diffuser_attention), its tokens split over the ranks. Inputs are drawn per token, so every rank
// count computes the same layer. At one rank the unsplit (fused) path runs: the baseline. Prints one JSON
// line (rank 0): median seconds over the repetitions (each the slowest rank's), peak MB of the largest
// rank, the split's edge balance and halo rows. RELFM_RANDOM_LAYOUT=per_stride shares each band stride's
// random keys (attention.random_layout; not the official pattern). The products run on the GEMM backend the trainer would
// pick (its start-up probe before MPI starts, rank 0's choice for all): until stop 31 this benchmark
// skipped the probe and so always ran on Eigen.
//
//   mpirun -n P relfm_diffuser_sequence_parallel L [D=256] [HEADS=4] [HOPS=5] [REPS=3] [contiguous|metis]
#include "dist/comm.hpp"
#include "dist/gemm_select.hpp"
#include "dist/partition.hpp"
#include "dist/runtime.hpp"
#include "src/core/malloc_tuning.hpp"
#include "src/models/sequence_parallel.hpp"
#include "src/tensor/gemm.hpp"

#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

using namespace relfm;

namespace {

int run(const dist::Comm& comm, int argc, char** argv) {
  if (argc < 2) {
    if (comm.is_root()) fmt::print(stderr, "usage: {} L [D=256] [HEADS=4] [HOPS=5] [REPS=3] [contiguous|metis]\n", argv[0]);
    return 2;
  }
  const int64_t L = std::atoll(argv[1]);
  const int64_t d = argc > 2 ? std::atoll(argv[2]) : 256, heads = argc > 3 ? std::atoll(argv[3]) : 4;
  const int64_t hops = argc > 4 ? std::atoll(argv[4]) : 5, reps = argc > 5 ? std::atoll(argv[5]) : 3;
  const std::string how = argc > 6 ? argv[6] : "contiguous";
  tune_malloc();
  dist::select_gemm_backend(comm, "auto", "the benchmark");
  AttentionGraphConfig g;
  g.template_length = std::max<int64_t>(4096, L);
  if (const char* layout = std::getenv("RELFM_RANDOM_LAYOUT")) g.random_layout = layout;  // per_stride: not official
  const AttentionGraph graph = build_attention_graph(L, g);
  const int parts = comm.size();
  SequenceSplit split = SequenceSplit::contiguous(L, parts);
  if (how == "metis") {
    std::vector<int64_t> work(static_cast<size_t>(L));
    for (int64_t t = 0; t < L; ++t) work[static_cast<size_t>(t)] = 1 + graph.by_query->row_ptr[t + 1] - graph.by_query->row_ptr[t];
    split = SequenceSplit::from_parts(dist::partition_graph(comm, *graph.by_query, work), parts);
  }
  const std::shared_ptr<const SequenceShare> share = parts > 1 ? share_sequence(graph, split, comm) : nullptr;
  const std::vector<int64_t> owned = share ? share->graph.owned : [&] {
    std::vector<int64_t> all(static_cast<size_t>(L));
    for (int64_t t = 0; t < L; ++t) all[static_cast<size_t>(t)] = t;
    return all;
  }();
  const CounterRng rng(1, RngPurpose::kTest, 0);
  auto random = [&](uint64_t stream) {  // row t of an L x d matrix, for each owned token t
    MatF m(static_cast<int64_t>(owned.size()), d);
    const CounterRng r = rng.derive(stream);
    for (int64_t i = 0; i < m.rows(); ++i)
      for (int64_t c = 0; c < d; ++c) m(i, c) = static_cast<float>(r.normal(static_cast<uint64_t>(owned[static_cast<size_t>(i)] * d + c)));
    return m;
  };
  const MatF q = random(1) * (1.0f / std::sqrt(static_cast<float>(d / heads))), k = random(2), v = random(3), w = random(4);
  DiffusionConfig diffusion;
  diffusion.hops = hops;
  const AttentionPattern whole{graph.by_query, graph.by_key, graph.tiles};
  std::vector<double> times;
  for (int64_t r = 0; r < reps; ++r) {
    comm.barrier();
    const auto t0 = std::chrono::steady_clock::now();
    Tape<float> tape;
    Var<float> qv = tape.input(q, true), kv = tape.input(k, true), vv = tape.input(v, true);
    const CounterRng dropout(0, RngPurpose::kDropout);
    Var<float> out = share ? split_diffuser_attention(*share, qv, kv, vv, heads, diffusion, dropout, true)
                           : diffuser_attention(whole, qv, kv, vv, heads, diffusion, dropout, true);
    tape.backward(sum(mul(out, tape.input(w))));
    times.push_back(comm.max(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()));
  }
  std::sort(times.begin(), times.end());
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const double peak_mb = comm.max(static_cast<double>(usage.ru_maxrss) / 1024.0);
  const int64_t local_edges = share ? share->pattern.by_query->nnz() : graph.by_query->nnz();
  const int64_t halo = share ? [&] {
    int64_t h = 0;
    for (const auto& cols : share->layout->recv_columns) h += static_cast<int64_t>(cols.size());
    return h;
  }() : 0;
  const int64_t most_edges = comm.max(local_edges), most_halo = comm.max(halo);
  if (comm.is_root())
    fmt::print("{{\"kind\": \"sequence_parallel\", \"split\": \"{}\", \"ranks\": {}, \"L\": {}, \"d\": {}, \"heads\": {}, \"hops\": {}, "
               "\"edges\": {}, \"most_edges_per_rank\": {}, \"most_halo_rows\": {}, \"seconds\": {:.4f}, \"peak_mb\": {:.1f}, "
               "\"gemm\": \"{}\"}}\n",
               how, parts, L, d, heads, hops, graph.by_query->nnz(), most_edges, most_halo, times[times.size() / 2], peak_mb,
               gemm::active().key() + " (" + gemm::active().kernel() + ")");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  gemm::probe_candidates();  // before MPI_Init, as the trainer: the probe forks a child per OpenBLAS kernel
  return dist::run_main(argc, argv, [&](dist::Comm& comm) { return run(comm, argc, argv); });
}
