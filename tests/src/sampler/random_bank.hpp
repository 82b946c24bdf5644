// Test data and oracle for the proximity-graph tests.
#pragma once

#include "src/core/rng.hpp"
#include "src/sampler/proximity_graph.hpp"

#include <algorithm>
#include <utility>
#include <vector>

namespace relfm::sampler::testing {

// n unit rows of width d, normal directions from (seed).
inline MatF random_bank(int64_t n, int64_t d, uint64_t seed) {
  const CounterRng rng(seed, RngPurpose::kTest);
  MatF bank(n, d);
  for (int64_t i = 0; i < n * d; ++i) bank.data()[i] = static_cast<float>(rng.normal(static_cast<uint64_t>(i)));
  normalise_rows(bank);
  return bank;
}

// Brute force in double over `candidates`: sort by cosine, ties to the smaller id; the K best.
inline std::vector<VertexId> oracle(const MatF& bank, int64_t anchor, const std::vector<VertexId>& candidates, int64_t k) {
  std::vector<std::pair<double, VertexId>> scored;
  for (VertexId c : candidates) scored.emplace_back(bank.row(anchor).cast<double>().dot(bank.row(c).cast<double>()), c);
  std::sort(scored.begin(), scored.end(),
            [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
  std::vector<VertexId> out;
  for (int64_t j = 0; j < k; ++j) out.push_back(scored[static_cast<size_t>(j)].second);
  return out;
}

}  // namespace relfm::sampler::testing
