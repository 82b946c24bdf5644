// Proximity graphs: top-K-of-M against a brute-force oracle on the same candidates (the draws are
// replayed from the documented streams), the M = K and M = N extremes, and independence of how the
// anchors are split.
#include "src/sampler/proximity_graph.hpp"
#include "tests/src/sampler/random_bank.hpp"

#include "src/core/error.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>

namespace relfm::sampler {
namespace {

using testing::oracle;
using testing::random_bank;

// The candidates of `anchor` as proximity_graph.hpp defines them.
std::vector<VertexId> candidates_of(int64_t n, int64_t anchor, const ProximityConfig& c, const CounterRng& stream) {
  const int64_t block = anchor / c.block, pool = c.pool_factor * c.candidates;
  const CounterRng draws = stream.derive(1).derive(static_cast<uint64_t>(block));
  std::vector<VertexId> ids(static_cast<size_t>(pool));
  for (int64_t j = 0; j < pool; ++j) ids[j] = static_cast<VertexId>(draws.below(static_cast<uint64_t>(j), static_cast<uint64_t>(n)));
  if (c.pool_factor == 1) return ids;
  // Candidate j: word j % 4 of block j / 4 of the anchor's stream, times the pool size, high half.
  const CounterRng mine = stream.derive(2).derive(static_cast<uint64_t>(anchor));
  std::vector<VertexId> out;
  for (int64_t j = 0; j < c.candidates; ++j) {
    uint32_t w[4];
    mine.block(static_cast<uint64_t>(j / 4), w);
    out.push_back(ids[(static_cast<uint64_t>(w[j % 4]) * static_cast<uint64_t>(pool)) >> 32]);
  }
  return out;
}

// The build of anchors 0 .. anchors-1 under top-K-of-M against the double oracle on the replayed
// candidates, for each pool factor: how many table entries differ (float against double can swap two
// nearly equal cosines; more than a few is a bug).
void expect_oracle_table(const MatF& bank, int64_t anchors, ProximityConfig c, const CounterRng& stream,
                         std::initializer_list<int64_t> pool_factors, int allowed_mismatches) {
  const int64_t n = bank.rows(), k = c.neighbours;
  for (int64_t factor : pool_factors) {
    c.pool_factor = factor;
    const IndexMat got = proximity_neighbours(bank, 0, anchors, c, stream);
    ASSERT_EQ(got.rows(), anchors);
    ASSERT_EQ(got.cols(), k);
    int mismatches = 0;
    for (int64_t a = 0; a < anchors; ++a) {
      const std::vector<VertexId> want = oracle(bank, a, candidates_of(n, a, c, stream), k);
      for (int64_t j = 0; j < k; ++j) mismatches += got(a, j) != want[static_cast<size_t>(j)];
    }
    EXPECT_LE(mismatches, allowed_mismatches) << "pool factor " << factor;
  }
}

TEST(ProximityGraph, TopKOfMEqualsBruteForceOnTheSameCandidates) {
  ProximityConfig c;
  c.candidates = 60;
  c.neighbours = 7;
  c.block = 64;
  expect_oracle_table(random_bank(700, 24, 1), 700, c, CounterRng(4, RngPurpose::kTest).derive(9), {1, 4}, 2);
}

TEST(ProximityGraph, LargeMTakesTheThresholdedSelectionAndStillEqualsBruteForce) {
  // M >= 4 K with a sample smaller than M: the build's sampled-threshold path (candidate_selection.hpp).
  ProximityConfig c;
  c.candidates = 1200;
  c.neighbours = 40;
  c.block = 128;
  expect_oracle_table(random_bank(3000, 24, 6), 400, c, CounterRng(8, RngPurpose::kTest).derive(2), {1, 3}, 4);
}

TEST(ProximityGraph, MEqualsKKeepsEveryCandidate) {
  const MatF bank = random_bank(300, 8, 2);
  const CounterRng stream(5, RngPurpose::kTest);
  ProximityConfig c;
  c.candidates = c.neighbours = 10;
  c.pool_factor = 1;
  c.block = 32;
  const IndexMat got = proximity_neighbours(bank, 0, 300, c, stream);
  for (int64_t a = 0; a < 300; ++a) {
    std::vector<VertexId> want = candidates_of(300, a, c, stream), have(got.row(a).data(), got.row(a).data() + 10);
    std::sort(want.begin(), want.end());
    std::sort(have.begin(), have.end());
    EXPECT_EQ(have, want) << a;
  }
}

TEST(ProximityGraph, MAtLeastNIsTheExactKnnGraphWithoutSelf) {
  const MatF bank = random_bank(500, 16, 3);
  ProximityConfig c;
  c.candidates = 500;
  c.neighbours = 9;
  const IndexMat got = proximity_neighbours(bank, 0, 500, c, CounterRng(1, RngPurpose::kTest));
  std::vector<VertexId> everyone_else;
  int mismatches = 0;
  for (int64_t a = 0; a < 500; ++a) {
    everyone_else.clear();
    for (VertexId v = 0; v < 500; ++v)
      if (v != a) everyone_else.push_back(v);
    const std::vector<VertexId> want = oracle(bank, a, everyone_else, 9);
    for (int j = 0; j < 9; ++j) mismatches += got(a, j) != want[j];
    for (int j = 0; j < 9; ++j) EXPECT_NE(got(a, j), a);
  }
  EXPECT_LE(mismatches, 2);
}

// Splitting the anchors at block boundaries (what ranks do), or the exact-mode candidates into shards
// in any order (the ring), gives the same graph.
TEST(ProximityGraph, SplitsAndShardOrderDoNotChangeTheGraph) {
  const MatF bank = random_bank(1000, 12, 4);
  const CounterRng stream(6, RngPurpose::kTest);
  ProximityConfig c;
  c.candidates = 100;
  c.neighbours = 10;
  c.block = 128;
  const IndexMat whole = proximity_neighbours(bank, 0, 1000, c, stream);
  const IndexMat low = proximity_neighbours(bank, 0, 384, c, stream), high = proximity_neighbours(bank, 384, 1000, c, stream);
  EXPECT_EQ(whole.topRows(384), low);
  EXPECT_EQ(whole.bottomRows(616), high);

  c.candidates = 1000;
  const IndexMat exact = proximity_neighbours(bank, 0, 1000, c, stream);
  const MatF anchors = bank.middleRows(200, 300);
  TopK top(300, 10, 200);
  for (int64_t s0 : {700, 0, 350}) {  // three shards, out of order
    const int64_t len = s0 == 0 ? 350 : (s0 == 350 ? 350 : 300);
    const MatF shard = bank.middleRows(s0, len);
    add_shard(top, anchors, shard, static_cast<VertexId>(s0));
  }
  EXPECT_EQ(top.neighbours(), exact.middleRows(200, 300));
}

// Hardness: the neighbours' cosines rise with M (M = K random, M = N the nearest).
TEST(ProximityGraph, MeanNeighbourSimilarityGrowsWithM) {
  const MatF bank = random_bank(2000, 6, 5);
  const CounterRng stream(7, RngPurpose::kTest);
  double previous = -1;
  for (int64_t m : {10, 100, 2000}) {
    ProximityConfig c;
    c.candidates = m;
    c.neighbours = 10;
    const IndexMat g = proximity_neighbours(bank, 0, 2000, c, stream);
    double mean = 0;
    for (int64_t a = 0; a < 2000; ++a)
      for (int j = 0; j < 10; ++j) mean += bank.row(a).dot(bank.row(g(a, j)));
    mean /= 20000;
    EXPECT_GT(mean, previous + 0.05) << "M = " << m;
    previous = mean;
  }
}

TEST(ProximityGraph, BadConfigurations) {
  const MatF bank = random_bank(50, 4, 6);
  const CounterRng stream(1, RngPurpose::kTest);
  ProximityConfig c;
  c.candidates = 5;
  c.neighbours = 6;
  EXPECT_THROW(proximity_neighbours(bank, 0, 50, c, stream), InputError);
  c.candidates = 50;
  c.neighbours = 50;
  EXPECT_THROW(proximity_neighbours(bank, 0, 50, c, stream), InputError);
  c.neighbours = 0;
  EXPECT_THROW(proximity_neighbours(bank, 0, 50, c, stream), InputError);
}

}  // namespace
}  // namespace relfm::sampler
