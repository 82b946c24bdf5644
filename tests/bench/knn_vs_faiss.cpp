// Exact kNN (the proximity graph's M = N mode) against faiss brute force (IndexFlatIP, Debian's
// libfaiss-dev), on the same unit embeddings, same queries, same K, one thread each, in one run.
//
//   OMP_NUM_THREADS=1 relfm_knn_vs_faiss [N = 1000000] [d = 128] [queries = 4096] [K = 100]
//
// The queries are the first rows of the bank: relfm leaves each query itself out, so faiss is asked for
// K + 1 neighbours and its first (the query) dropped. Prints both times, their ratio and the overlap of
// the two neighbour sets (float ties can order differently).
#include "src/sampler/half_screen.hpp"
#include "src/sampler/proximity_graph.hpp"
#include "src/tensor/gemm.hpp"

#include <faiss/IndexFlat.h>
#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

namespace relfm {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

int run(int argc, char** argv) {
  auto arg = [&](int i, int64_t fallback) { return argc > i ? std::stoll(argv[i]) : fallback; };
  const int64_t n = arg(1, 1000000), d = arg(2, 128), queries = arg(3, 4096), k = arg(4, 100);
  omp_set_num_threads(1);
  gemm::probe_candidates();
  gemm::activate(gemm::apply_gemm_request("auto", "benchmark"));
  MatF bank(n, d);
  const CounterRng rng(3, RngPurpose::kTest);
  for (int64_t i = 0; i < n * d; ++i) bank.data()[i] = static_cast<float>(rng.normal(static_cast<uint64_t>(i)));
  sampler::normalise_rows(bank);

  sampler::ProximityConfig config;
  config.candidates = n;
  config.neighbours = k;
  // relfm twice: every pair scored by the float GEMM, then through the fp16 screen (when this CPU has it).
  config.half_screen = false;
  auto t = Clock::now();
  const IndexMat plain = sampler::proximity_neighbours(bank, 0, queries, config, CounterRng(1, RngPurpose::kSampler));
  const double plain_seconds = seconds_since(t);
  config.half_screen = true;
  t = Clock::now();
  const IndexMat ours = sampler::proximity_neighbours(bank, 0, queries, config, CounterRng(1, RngPurpose::kSampler));
  const double relfm_seconds = seconds_since(t);
  const bool screened = sampler::half_screen_available();

  faiss::IndexFlatIP index(static_cast<int>(d));
  index.add(n, bank.data());
  std::vector<float> distances(static_cast<size_t>(queries * (k + 1)));
  std::vector<faiss::Index::idx_t> labels(static_cast<size_t>(queries * (k + 1)));
  t = Clock::now();
  index.search(queries, bank.data(), k + 1, distances.data(), labels.data());
  const double faiss_seconds = seconds_since(t);

  // Share of the K neighbours of each query that two results agree on (float ties may order differently).
  auto agreement = [&](const IndexMat& ours_, auto&& theirs) {
    int64_t same = 0;
    for (int64_t q = 0; q < queries; ++q) {
      std::vector<int64_t> a(ours_.row(q).data(), ours_.row(q).data() + k), b = theirs(q);
      std::sort(a.begin(), a.end());
      std::sort(b.begin(), b.end());
      std::vector<int64_t> both;
      std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(both));
      same += static_cast<int64_t>(both.size());
    }
    return static_cast<double>(same) / static_cast<double>(queries * k);
  };
  auto faiss_row = [&](int64_t q) {
    std::vector<int64_t> b;
    for (int64_t j = 0; j <= k; ++j)
      if (labels[q * (k + 1) + j] != q) b.push_back(labels[q * (k + 1) + j]);
    b.resize(static_cast<size_t>(k));
    return b;
  };
  auto plain_row = [&](int64_t q) { return std::vector<int64_t>(plain.row(q).data(), plain.row(q).data() + k); };
  fmt::print("exact kNN, N {} d {} queries {} K {}; relfm GEMM {}, faiss IndexFlatIP with OpenMP threads {}\n", n, d,
             queries, k, gemm::selection().summary(), omp_get_max_threads());
  fmt::print("relfm float GEMM {:.3f} s, faiss {:.3f} s: relfm {:.2f}x faster; neighbour sets agree on {:.4f} of entries\n",
             plain_seconds, faiss_seconds, faiss_seconds / plain_seconds, agreement(plain, faiss_row));
  if (screened)
    fmt::print("relfm fp16 screen {:.3f} s: {:.2f}x faiss, {:.2f}x the float GEMM; agrees with faiss on {:.4f}, with the float GEMM "
               "on {:.4f} of entries\n",
               relfm_seconds, faiss_seconds / relfm_seconds, plain_seconds / relfm_seconds, agreement(ours, faiss_row),
               agreement(ours, plain_row));
  else
    fmt::print("relfm fp16 screen: not in this build (no AVX-512 FP16)\n");
  return 0;
}

}  // namespace
}  // namespace relfm

int main(int argc, char** argv) { return relfm::run(argc, argv); }
