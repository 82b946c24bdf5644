// Test data for the proximity-graph tests: n unit rows of width d, normal directions from (seed).
#pragma once

#include "src/core/rng.hpp"
#include "src/sampler/proximity_graph.hpp"

namespace relfm::sampler::testing {

inline MatF random_bank(int64_t n, int64_t d, uint64_t seed) {
  const CounterRng rng(seed, RngPurpose::kTest);
  MatF bank(n, d);
  for (int64_t i = 0; i < n * d; ++i) bank.data()[i] = static_cast<float>(rng.normal(static_cast<uint64_t>(i)));
  normalise_rows(bank);
  return bank;
}

}  // namespace relfm::sampler::testing
