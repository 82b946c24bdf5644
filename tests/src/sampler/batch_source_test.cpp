// The batch sources by key: uniform coverage and order; the warm-up and rebuild schedule of the graph
// kinds; kNN batches against brute force; communities covering each instance once per community epoch;
// the background (double-buffered) rebuild giving the same graphs on the same banks; save/restore
// continuing with the same batches mid-stream for every kind; and the bad configurations.
#include "src/sampler/batch_source.hpp"

#include "src/core/error.hpp"
#include "src/sampler/community_batches.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>

namespace relfm::sampler {
namespace {

// n points in `clusters` tight clusters (unit rows).
MatF clustered(int64_t n, int64_t d, int clusters, uint64_t seed) {
  MatF centres(clusters, d), x(n, d);
  const CounterRng rng(seed, RngPurpose::kTest);
  for (int c = 0; c < clusters; ++c)
    for (int64_t j = 0; j < d; ++j) centres(c, j) = static_cast<float>(rng.normal(static_cast<uint64_t>(c * d + j)));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j)
      x(i, j) = centres(i % clusters, j) + 0.05f * static_cast<float>(rng.normal(static_cast<uint64_t>(1000000 + i * d + j)));
  normalise_rows(x);
  return x;
}

// A toy partitioner (METIS is dist/'s; this test suite links no MPI): contiguous id ranges.
std::vector<int32_t> ranges_partition(const Csr& g, int parts, uint64_t) {
  std::vector<int32_t> p(static_cast<size_t>(g.num_rows));
  for (int64_t v = 0; v < g.num_rows; ++v) p[static_cast<size_t>(v)] = static_cast<int32_t>(v * parts / g.num_rows);
  return p;
}

BatchSourceConfig config(const std::string& kind, int64_t n = 300, int64_t b = 32) {
  BatchSourceConfig c;
  c.kind = kind;
  c.num_instances = n;
  c.batch_size = b;
  c.seed = 5;
  c.warmup_epochs = 1;
  c.refresh_every = 4;
  c.bank_dim = 8;
  c.proximity.candidates = 60;
  c.proximity.neighbours = 6;
  c.proximity.block = 64;
  c.walks.batch_size = b;
  c.walk_engine = "local";
  c.partition = ranges_partition;
  return c;
}

// Runs `epochs` trainer epochs, recording the bank rows of every batch from `bank`; returns the batches.
std::vector<std::vector<VertexId>> run(BatchSource& s, const MatF& bank, int64_t first_epoch, int64_t epochs,
                                       int64_t stop_after = -1) {
  std::vector<std::vector<VertexId>> out;
  for (int64_t e = first_epoch; e < first_epoch + epochs; ++e) {
    const int64_t steps = s.begin_epoch(e);
    for (int64_t k = 0; k < steps; ++k) {
      if (stop_after >= 0 && static_cast<int64_t>(out.size()) == stop_after) return out;
      std::vector<VertexId> b = s.next_batch();
      MatF rows(static_cast<int64_t>(b.size()), bank.cols());
      for (size_t i = 0; i < b.size(); ++i) rows.row(static_cast<int64_t>(i)) = bank.row(b[i]);
      if (s.bank_dim() > 0) s.record(b, rows);
      out.push_back(std::move(b));
    }
  }
  return out;
}

void expect_distinct(const std::vector<VertexId>& b, int64_t n) {
  std::set<VertexId> s(b.begin(), b.end());
  EXPECT_EQ(s.size(), b.size());
  for (VertexId v : b) EXPECT_TRUE(v >= 0 && v < n);
}

TEST(BatchSource, UniformCoversEveryInstanceOncePerEpochInOneOrderUnlessReshuffled) {
  const LocalCommunicator comm;
  const MatF bank = clustered(300, 8, 3, 1);
  for (bool reshuffle : {false, true}) {
    BatchSourceConfig c = config("uniform");
    c.reshuffle = reshuffle;
    auto s = make_batch_source(comm, c);
    EXPECT_EQ(s->begin_epoch(0), 10);  // ceil(300 / 32)
    const auto batches = run(*s, bank, 0, 2);
    ASSERT_EQ(batches.size(), 20u);
    for (int e = 0; e < 2; ++e) {
      std::vector<int> seen(300, 0);
      for (int k = 0; k < 10; ++k)
        for (VertexId v : batches[e * 10 + k]) ++seen[v];
      EXPECT_TRUE(std::all_of(seen.begin(), seen.end(), [](int x) { return x == 1; }));
    }
    EXPECT_EQ(batches[0] == batches[10], !reshuffle);
    EXPECT_EQ(batches[9].size(), 300u - 9 * 32);
  }
}

TEST(BatchSource, GraphKindsWarmUpUniformlyThenRebuildEveryRefreshInterval) {
  const LocalCommunicator comm;
  const MatF bank = clustered(300, 8, 3, 2);
  for (const char* kind : {"batchsampler", "knn", "communities"}) {
    auto s = make_batch_source(comm, config(kind));
    auto uniform = make_batch_source(comm, config("uniform"));
    const auto warm = run(*s, bank, 0, 1), plain = run(*uniform, bank, 0, 1);
    EXPECT_EQ(warm, plain) << kind;  // the warm-up is the uniform order
    EXPECT_EQ(s->stats().rebuilds, 0) << kind;
    const auto graph_phase = run(*s, bank, 1, 2);  // 20 batches: built at 0, rebuilt at 4, 8, 12, 16
    EXPECT_EQ(graph_phase.size(), 20u);
    EXPECT_EQ(s->stats().rebuilds, 5) << kind;
    for (const auto& b : graph_phase) expect_distinct(b, 300);
  }
}

TEST(BatchSource, KnnBatchIsAStartAndItsNearestNeighbours) {
  const LocalCommunicator comm;
  const MatF bank = clustered(200, 8, 4, 3);
  BatchSourceConfig c = config("knn", 200, 16);
  auto s = make_batch_source(comm, c);
  run(*s, bank, 0, 1);
  s->begin_epoch(1);
  const std::vector<VertexId> b = s->next_batch();
  ASSERT_EQ(b.size(), 16u);
  // Brute force: the 15 most similar to the start, by descending cosine.
  std::vector<std::pair<float, VertexId>> scored;
  for (VertexId j = 0; j < 200; ++j)
    if (j != b[0]) scored.push_back({-bank.row(b[0]).dot(bank.row(j)), j});
  std::sort(scored.begin(), scored.end());
  for (int k = 0; k < 15; ++k) EXPECT_EQ(b[k + 1], scored[k].second) << k;
  // Batches of one cluster: the kNN sampler's failure mode.
  for (VertexId v : b) EXPECT_EQ(v % 4, b[0] % 4);
}

TEST(BatchSource, CommunitiesCoverEachInstanceOncePerCommunityEpoch) {
  const LocalCommunicator comm;
  const MatF bank = clustered(256, 8, 4, 4);
  BatchSourceConfig c = config("communities", 256, 32);
  c.refresh_every = 0;
  auto s = make_batch_source(comm, c);
  run(*s, bank, 0, 1);
  const auto batches = run(*s, bank, 1, 1);  // 8 steps = one community epoch of community_count parts
  ASSERT_EQ(community_count(256, 32), 8);
  std::vector<int> seen(256, 0);
  for (const auto& b : batches)
    for (VertexId v : b) ++seen[v];
  EXPECT_TRUE(std::all_of(seen.begin(), seen.end(), [](int x) { return x == 1; }));
}

TEST(BatchSource, BackgroundRebuildGivesTheGraphOfTheSameBankOneRefreshLater) {
  // Exact mode (M >= N: no candidate draws) and a fixed bank: every graph is the same, so the
  // double-buffered source must give exactly the batches of the synchronous one.
  const LocalCommunicator comm;
  const MatF bank = clustered(300, 8, 3, 5);
  BatchSourceConfig c = config("batchsampler");
  c.proximity.candidates = 300;
  auto sync = make_batch_source(comm, c);
  c.overlap = true;
  auto overlapped = make_batch_source(comm, c);
  EXPECT_EQ(run(*sync, bank, 0, 4), run(*overlapped, bank, 0, 4));
  EXPECT_GT(overlapped->stats().background_seconds, 0.0);
  // With sampled candidates the two differ (the graphs come from other rebuilds) but each is
  // deterministic.
  c.proximity.candidates = 60;
  auto a = make_batch_source(comm, c), b = make_batch_source(comm, c);
  EXPECT_EQ(run(*a, bank, 0, 4), run(*b, bank, 0, 4));
}

TEST(BatchSource, RestoreContinuesWithTheSameBatchesForEveryKind) {
  const LocalCommunicator comm;
  const MatF bank = clustered(300, 8, 3, 6);
  for (const char* kind : {"uniform", "batchsampler", "knn", "communities"}) {
    for (bool overlap : {false, true}) {
      BatchSourceConfig c = config(kind);
      c.overlap = overlap;
      auto whole = make_batch_source(comm, c);
      const auto expected = run(*whole, bank, 0, 4);
      // Stop after 17 batches (epoch 1, step 7: past the rebuild at graph batch 4, in a pending build).
      auto first = make_batch_source(comm, c);
      auto got = run(*first, bank, 0, 4, 17);
      const auto state = first->save();
      first.reset();
      auto second = make_batch_source(comm, c);
      second->restore(state);
      // Continue epoch 1 from step 7, then epochs 2 and 3.
      std::vector<std::vector<VertexId>> rest;
      second->begin_epoch(1);
      for (int k = 7; k < 10; ++k) {
        std::vector<VertexId> bt = second->next_batch();
        MatF rows(static_cast<int64_t>(bt.size()), 8);
        for (size_t i = 0; i < bt.size(); ++i) rows.row(static_cast<int64_t>(i)) = bank.row(bt[i]);
        if (second->bank_dim() > 0) second->record(bt, rows);
        rest.push_back(bt);
      }
      const auto tail = run(*second, bank, 2, 2);
      rest.insert(rest.end(), tail.begin(), tail.end());
      got.insert(got.end(), rest.begin(), rest.end());
      EXPECT_EQ(got, expected) << kind << " overlap " << overlap;
    }
  }
}

TEST(BatchSource, RejectsUnknownKindsAndBadSettings) {
  const LocalCommunicator comm;
  auto message = [&](BatchSourceConfig c) {
    try {
      make_batch_source(comm, c);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  BatchSourceConfig c = config("shuffle");
  EXPECT_NE(message(c).find("expected one of batchsampler, communities, knn, uniform"), std::string::npos) << message(c);
  c = config("uniform");
  c.batch_size = 0;
  EXPECT_NE(message(c).find("batch size"), std::string::npos);
  c = config("batchsampler");
  c.bank_dim = 0;
  EXPECT_NE(message(c).find("bank"), std::string::npos);
  c = config("batchsampler");
  c.walk_engine = "gpu";
  EXPECT_NE(message(c).find("walk_engine 'gpu'"), std::string::npos);
  c = config("communities");
  c.partition = nullptr;
  EXPECT_NE(message(c).find("partitioner"), std::string::npos);
  // A restore from another data set's state.
  auto s = make_batch_source(comm, config("batchsampler"));
  auto other = make_batch_source(comm, config("batchsampler", 200));
  EXPECT_THROW(s->restore(other->save()), InputError);
}

}  // namespace
}  // namespace relfm::sampler
