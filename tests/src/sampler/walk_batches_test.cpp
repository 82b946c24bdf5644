// Walk batches: exact batch sizes without repeats, the epoch modes' coverage rules, the restart
// schedule, the step cap on a graph too small for a batch, and B >= N.
#include "src/sampler/walk_batches.hpp"

#include <gtest/gtest.h>

#include <set>

namespace relfm::sampler {
namespace {

// A ring of n vertices, each also pointing 5 and 17 ahead (out-degree 3).
WalkGraph ring(int n) {
  std::vector<VertexId> src, dst;
  for (int v = 0; v < n; ++v)
    for (int hop : {1, 5, 17}) {
      src.push_back(v);
      dst.push_back((v + hop) % n);
    }
  return WalkGraph::whole(Csr::from_pairs(n, n, src, dst));
}

void expect_distinct(const std::vector<VertexId>& batch) {
  EXPECT_EQ(std::set<VertexId>(batch.begin(), batch.end()).size(), batch.size());
}

TEST(WalkBatches, OfficialEpochCoversByStartsAndTrainsTheLeftoverOnce) {
  const WalkGraph g = ring(1000);
  WalkBatchConfig config;
  config.batch_size = 64;
  WalkBatchPlanner planner(1000, config, 7, local_walk_runner(g));
  planner.begin_epoch(3);
  EXPECT_DOUBLE_EQ(planner.alpha(), 0.2 - 0.06);
  std::set<VertexId> covered;
  int64_t walk_batches = 0, leftover_vertices = 0;
  bool in_leftover = false;
  while (!planner.epoch_done()) {
    const int64_t covered_before = planner.coverage().covered_count();
    const WalkBatch b = planner.next_batch();
    expect_distinct(b.vertices);
    if (b.from_walk) {
      ASSERT_FALSE(in_leftover) << "a walk batch after the leftover pass";
      EXPECT_EQ(b.vertices.size(), 64u);
      EXPECT_LT(covered_before, 1000 / 64 * 64);
      EXPECT_FALSE(covered.count(b.vertices.front())) << "a walk starts at an uncovered vertex";
      ++walk_batches;
    } else {
      in_leftover = true;
      for (VertexId v : b.vertices) EXPECT_FALSE(covered.count(v)) << "the leftover pass repeats " << v;
      leftover_vertices += static_cast<int64_t>(b.vertices.size());
    }
    covered.insert(b.vertices.begin(), b.vertices.end());
  }
  EXPECT_EQ(covered.size(), 1000u);
  EXPECT_GT(walk_batches, 1000 / 64) << "official walks repeat vertices across batches";
  EXPECT_LT(leftover_vertices, 64 + 1000 % 64);
}

TEST(WalkBatches, StrictEpochIsAPartition) {
  const WalkGraph g = ring(1000);
  WalkBatchConfig config;
  config.batch_size = 64;
  config.mode = EpochMode::kStrict;
  WalkBatchPlanner planner(1000, config, 7, local_walk_runner(g));
  planner.begin_epoch(0);
  std::vector<int> seen(1000, 0);
  int batches = 0;
  while (!planner.epoch_done()) {
    const WalkBatch b = planner.next_batch();
    for (VertexId v : b.vertices) ++seen[v];
    ++batches;
    if (planner.epoch_done()) EXPECT_EQ(b.vertices.size(), 1000u % 64 == 0 ? 64u : 1000u % 64);
    else EXPECT_EQ(b.vertices.size(), 64u);
  }
  EXPECT_EQ(batches, (1000 + 63) / 64);
  for (int v = 0; v < 1000; ++v) EXPECT_EQ(seen[v], 1) << v;
}

TEST(WalkBatches, FixedEpochHasItsBatchCountAndDeterministicBatches) {
  const WalkGraph g = ring(300);
  WalkBatchConfig config;
  config.batch_size = 32;
  config.mode = EpochMode::kFixed;
  config.batches_per_epoch = 25;  // more than 300 / 32: coverage starts afresh within the epoch
  config.official_schedule = false;
  config.restart = 0.3;
  auto run = [&](uint64_t seed, int64_t epoch) {
    WalkBatchPlanner planner(300, config, seed, local_walk_runner(g));
    planner.begin_epoch(epoch);
    std::vector<std::vector<VertexId>> out;
    while (!planner.epoch_done()) out.push_back(planner.next_batch().vertices);
    EXPECT_DOUBLE_EQ(planner.alpha(), 0.3);
    return out;
  };
  const auto a = run(1, 0);
  ASSERT_EQ(a.size(), 25u);
  for (const auto& b : a) {
    EXPECT_EQ(b.size(), 32u);
    expect_distinct(b);
  }
  EXPECT_EQ(run(1, 0), a);
  EXPECT_NE(run(2, 0), a);
  EXPECT_NE(run(1, 1), a);
}

TEST(WalkBatches, RestartSchedule) {
  WalkBatchConfig config;
  config.restart = 0.2;
  const double expected[] = {0.2, 0.18, 0.16, 0.14, 0.12, 0.10, 0.08, 0.06, 0.05, 0.05, 0.05};
  for (int e = 0; e <= 10; ++e) EXPECT_NEAR(config.restart_at(e), expected[e], 1e-12) << e;
  config.official_schedule = false;
  EXPECT_EQ(config.restart_at(9), 0.2);
}

// Components of 10 vertices cannot give a batch of 16: the walk hits the step cap and is filled.
TEST(WalkBatches, StepCapFillsFromUncoveredVertices) {
  std::vector<VertexId> src, dst;
  for (int c = 0; c < 10; ++c)
    for (int i = 0; i < 10; ++i) {
      src.push_back(c * 10 + i);
      dst.push_back(c * 10 + (i + 1) % 10);
    }
  const WalkGraph g = WalkGraph::whole(Csr::from_pairs(100, 100, src, dst));
  WalkBatchConfig config;
  config.batch_size = 16;
  config.step_cap = 500;
  WalkBatchPlanner planner(100, config, 3, local_walk_runner(g));
  planner.begin_epoch(0);
  const WalkBatch b = planner.next_batch();
  EXPECT_EQ(b.vertices.size(), 16u);
  EXPECT_EQ(b.walk_steps, 500);
  EXPECT_EQ(b.filled, 6);
  expect_distinct(b.vertices);
  const VertexId component = b.vertices.front() / 10;
  for (int i = 0; i < 10; ++i) EXPECT_EQ(b.vertices[i] / 10, component);
  for (int i = 10; i < 16; ++i) EXPECT_NE(b.vertices[i] / 10, component);
}

TEST(WalkBatches, BatchAsLargeAsTheDataIsFullBatch) {
  const WalkGraph g = ring(50);
  for (int64_t b : {50, 80}) {
    for (EpochMode mode : {EpochMode::kOfficial, EpochMode::kStrict}) {
      WalkBatchConfig config;
      config.batch_size = b;
      config.mode = mode;
      WalkBatchPlanner planner(50, config, 1, local_walk_runner(g));
      planner.begin_epoch(0);
      const WalkBatch batch = planner.next_batch();
      EXPECT_EQ(batch.vertices.size(), 50u) << b << " " << to_string(mode);
      expect_distinct(batch.vertices);
      EXPECT_TRUE(planner.epoch_done()) << b << " " << to_string(mode);
    }
  }
}

TEST(WalkBatches, SavedStateContinuesWithTheSameBatchesInEveryMode) {
  const WalkGraph g = ring(500);
  for (EpochMode mode : {EpochMode::kOfficial, EpochMode::kStrict, EpochMode::kFixed}) {
    WalkBatchConfig config;
    config.batch_size = 32;
    config.mode = mode;
    config.batches_per_epoch = 20;
    auto batches = [&](WalkBatchPlanner& p, int count) {
      std::vector<std::vector<VertexId>> out;
      for (int i = 0; i < count; ++i) {
        if (p.epoch_done()) p.begin_epoch(p.epoch() + 1);
        out.push_back(p.next_batch().vertices);
      }
      return out;
    };
    WalkBatchPlanner whole(500, config, 4, local_walk_runner(g)), first(500, config, 4, local_walk_runner(g)),
        second(500, config, 4, local_walk_runner(g));
    whole.begin_epoch(2);
    first.begin_epoch(2);
    auto expected = batches(whole, 70);  // runs into the leftover pass and the next epoch
    auto got = batches(first, 23);
    second.restore_state(first.save_state());
    EXPECT_EQ(second.save_state(), first.save_state());
    const auto rest = batches(second, 47);
    got.insert(got.end(), rest.begin(), rest.end());
    EXPECT_EQ(got, expected) << to_string(mode);
  }
  WalkBatchConfig config;
  WalkBatchPlanner small(100, config, 1, local_walk_runner(g));
  WalkBatchPlanner big(500, config, 1, local_walk_runner(g));
  big.begin_epoch(0);
  EXPECT_THROW(small.restore_state(big.save_state()), InputError);
  std::vector<int64_t> broken = big.save_state();
  broken[6] = 499;  // a coverage vertex listed twice
  EXPECT_THROW(big.restore_state(broken), InputError);
}

TEST(WalkBatches, BadConfigurations) {
  WalkBatchConfig config;
  config.batch_size = 0;
  EXPECT_THROW(config.validate(), InputError);
  config = {};
  config.restart = 1.0;
  EXPECT_THROW(config.validate(), InputError);
  config = {};
  config.mode = EpochMode::kFixed;
  EXPECT_THROW(config.validate(), InputError);
  EXPECT_THROW(parse_epoch_mode("random"), InputError);
  EXPECT_EQ(parse_epoch_mode("strict"), EpochMode::kStrict);
}

}  // namespace
}  // namespace relfm::sampler
