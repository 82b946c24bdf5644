// The walker engine across real MPI ranks: walks over a METIS-partitioned graph, handed between ranks as
// messages, end exactly where the same walks end on one process, and walk batches are the same batches
// whatever the number of ranks (run under mpiexec at 1, 2 and 4 ranks).
#include "dist/comm.hpp"
#include "dist/partition.hpp"
#include "src/sampler/batch_source.hpp"
#include "src/sampler/community_batches.hpp"
#include "src/sampler/distributed_walks.hpp"
#include "src/sampler/proximity_graph.hpp"

#include <gtest/gtest.h>

namespace relfm::sampler {
namespace {

// A random directed graph with community structure (so METIS has something to find): 8 groups, most
// edges inside a group. Out-degree 4..11; a few vertices without out-edges.
struct TestGraph {
  Csr csr;
  std::vector<float> weights;
};
TestGraph community_graph(int n) {
  const CounterRng rng(77, RngPurpose::kTest);
  std::vector<VertexId> src, dst;
  std::vector<float> w;
  uint64_t k = 0;
  for (VertexId v = 0; v < n; ++v) {
    if (v % 97 == 13) continue;  // a dead end
    const int degree = 4 + static_cast<int>(rng.below(k++, 8));
    for (int j = 0; j < degree; ++j) {
      const bool inside = rng.uniform_double(k++) < 0.9;
      const VertexId group = inside ? v / (n / 8) : static_cast<VertexId>(rng.below(k++, 8));
      src.push_back(v);
      dst.push_back(std::min<VertexId>(n - 1, group * (n / 8) + static_cast<VertexId>(rng.below(k++, static_cast<uint64_t>(n / 8)))));
      w.push_back(0.1f + static_cast<float>(rng.uniform_double(k++)));
    }
  }
  std::vector<int64_t> order;
  Csr csr = Csr::from_pairs(n, n, src, dst, &order);
  TestGraph g{std::move(csr), std::vector<float>(w.size())};
  for (size_t e = 0; e < order.size(); ++e) g.weights[e] = w[order[e]];
  return g;
}

// Rows [first, last) of a CSR as their own CSR (what one rank computed).
Csr rows_of(const Csr& g, VertexId first, VertexId last, const std::vector<float>& w, std::vector<float>& w_out) {
  Csr out;
  out.num_rows = last - first;
  out.num_cols = g.num_cols;
  out.row_ptr.assign(1, 0);
  for (VertexId v = first; v < last; ++v) {
    for (int64_t e = g.row_begin(v); e < g.row_end(v); ++e) {
      out.col.push_back(g.col[e]);
      w_out.push_back(w[e]);
    }
    out.row_ptr.push_back(static_cast<int64_t>(out.col.size()));
  }
  return out;
}

PartitionedGraph partitioned(const dist::Comm& comm, const TestGraph& g) {
  const auto n = static_cast<VertexId>(g.csr.num_rows);
  const std::vector<int32_t> part = dist::partition_graph(comm, g.csr, {}, 3);
  const VertexId first = n * comm.rank() / comm.size(), last = n * (comm.rank() + 1) / comm.size();
  std::vector<float> w;
  const Csr rows = rows_of(g.csr, first, last, g.weights, w);
  return PartitionedGraph(comm, rows, first, w, part);
}

TEST(DistributedWalks, PprWalksEndWhereTheyEndOnOneProcess) {
  dist::Comm comm;
  const TestGraph g = community_graph(4000);
  const PartitionedGraph pg = partitioned(comm, g);
  WalkRule rule;
  rule.alpha = 0.05;
  rule.action = AlphaAction::kTerminate;
  const CounterRng rng(5, RngPurpose::kSampler, 1);

  // Reference: every walk on one process (every rank computes it).
  const WalkGraph whole = WalkGraph::whole(g.csr, g.weights);
  std::vector<Walker> reference;
  for (VertexId v = 0; v < 4000; ++v) {
    Walker w;
    w.id = static_cast<uint64_t>(v) * 3 + 1;
    w.start = w.cur = v;
    reference.push_back(w);
  }
  std::vector<Walker> departed;
  NoVisits none;
  WalkEngine(whole, rule, rng).advance(reference, departed, none);

  // Distributed: rank r starts the walkers of vertices v with v % ranks == r (anywhere: routed first).
  std::vector<Walker> walkers;
  for (VertexId v = comm.rank(); v < 4000; v += comm.size()) {
    Walker w;
    w.id = static_cast<uint64_t>(v) * 3 + 1;
    w.start = w.cur = pg.to_new(v);
    walkers.push_back(w);
  }
  const DistributedWalkCounts counts = run_walks(comm, WalkEngine(pg.local(), rule, rng), pg.ranges(), walkers, none);
  int64_t steps = 0;
  for (const Walker& w : reference) steps += w.steps;
  EXPECT_EQ(comm.sum(counts.steps), steps);
  if (comm.size() > 1) {
    EXPECT_GT(comm.sum(counts.sent), 0);
  }
  std::vector<int64_t> mine;  // (id, end vertex, steps, status) of the walks that finished here
  for (const Walker& w : walkers) {
    ASSERT_NE(w.status, WalkStatus::kRunning);
    ASSERT_TRUE(pg.local().owns(w.cur));
    mine.insert(mine.end(), {static_cast<int64_t>(w.id), pg.to_original(w.cur), w.steps, static_cast<int64_t>(w.status)});
  }
  const std::vector<int64_t> all = comm.allgatherv(mine);
  ASSERT_EQ(all.size(), 4u * 4000);
  std::vector<int64_t> by_vertex(3 * 4000, -1);
  for (size_t i = 0; i < all.size(); i += 4) {
    const auto v = static_cast<size_t>(all[i] / 3);
    ASSERT_EQ(by_vertex[3 * v], -1) << "walk " << all[i] << " finished twice";
    std::copy(all.begin() + static_cast<std::ptrdiff_t>(i) + 1, all.begin() + static_cast<std::ptrdiff_t>(i) + 4,
              by_vertex.begin() + static_cast<std::ptrdiff_t>(3 * v));
  }
  for (const Walker& w : reference) {
    const size_t i = static_cast<size_t>(w.id / 3) * 3;
    ASSERT_EQ(by_vertex[i], w.cur) << "walk " << w.id;
    ASSERT_EQ(by_vertex[i + 1], w.steps) << "walk " << w.id;
    ASSERT_EQ(by_vertex[i + 2], static_cast<int64_t>(w.status)) << "walk " << w.id;
  }
}

TEST(DistributedWalks, WalkBatchesAreTheSameAtAnyRankCount) {
  dist::Comm comm;
  const TestGraph g = community_graph(800);
  const PartitionedGraph pg = partitioned(comm, g);
  const WalkGraph whole = WalkGraph::whole(g.csr, g.weights);
  for (EpochMode mode : {EpochMode::kOfficial, EpochMode::kStrict}) {
    WalkBatchConfig config;
    config.batch_size = 50;
    config.mode = mode;
    WalkBatchPlanner local(800, config, 9, local_walk_runner(whole));
    WalkBatchPlanner spread(800, config, 9, distributed_walk_runner(comm, pg));
    local.begin_epoch(2);
    spread.begin_epoch(2);
    // The first batches of the epoch: later strict walks pass through thousands of covered vertices, and
    // 4 ranks on 2 cores pay milliseconds per superstep.
    int batches = 0;
    while (!local.epoch_done() && batches < 8) {
      ASSERT_FALSE(spread.epoch_done());
      const WalkBatch a = local.next_batch(), b = spread.next_batch();
      ASSERT_EQ(a.vertices, b.vertices) << to_string(mode) << " batch " << batches;
      ASSERT_EQ(a.walk_steps, b.walk_steps);
      ++batches;
    }
    EXPECT_EQ(batches, 8);
  }
}

// Embeddings in 8 planted clusters on the unit sphere (label = cluster).
MatF clustered_bank(int64_t n, int64_t d, std::vector<int>& label) {
  const CounterRng rng(31, RngPurpose::kTest);
  MatF centres(8, d), bank(n, d);
  for (int64_t i = 0; i < 8 * d; ++i) centres.data()[i] = static_cast<float>(rng.normal(static_cast<uint64_t>(i)));
  label.resize(static_cast<size_t>(n));
  for (int64_t v = 0; v < n; ++v) {
    label[v] = static_cast<int>(rng.below(1000000 + static_cast<uint64_t>(v), 8));
    for (int64_t j = 0; j < d; ++j)
      bank(v, j) = centres(label[v], j) + 0.6f * static_cast<float>(rng.normal(2000000 + static_cast<uint64_t>(v * d + j)));
  }
  normalise_rows(bank);
  return bank;
}

double same_label_share(const std::vector<VertexId>& batch, const std::vector<int>& label) {
  int64_t same = 0, pairs = 0;
  for (size_t i = 0; i < batch.size(); ++i)
    for (size_t j = i + 1; j < batch.size(); ++j) {
      same += label[batch[i]] == label[batch[j]];
      ++pairs;
    }
  return pairs ? static_cast<double>(same) / static_cast<double>(pairs) : 0.0;
}

// The whole sampler pipeline across ranks: the proximity graph built in shares and gathered equals the
// one-process graph; METIS places it; walk batches equal the one-process batches; METIS communities as
// batches cover every instance once and are purer than walk batches, which are purer than uniform.
TEST(DistributedSampler, ProximityGraphWalkAndCommunityBatches) {
  dist::Comm comm;
  std::vector<int> label;
  const MatF bank = clustered_bank(2000, 16, label);
  ProximityConfig config;
  config.candidates = 200;
  config.neighbours = 10;
  config.block = 128;
  const CounterRng stream = CounterRng(4, RngPurpose::kSampler, 1).derive(0);
  const IndexMat table = proximity_neighbours(comm, bank, config, stream);
  ASSERT_EQ(table, proximity_neighbours(bank, 0, 2000, config, stream));
  const Csr graph = neighbour_table_csr(table, 2000);

  const std::vector<int32_t> part = dist::partition_graph(comm, graph, {}, 7);
  const VertexId first = 2000 * comm.rank() / comm.size(), last = 2000 * (comm.rank() + 1) / comm.size();
  std::vector<float> no_weights;
  const PartitionedGraph pg(comm, rows_of(graph, first, last, std::vector<float>(static_cast<size_t>(graph.nnz()), 1.0f), no_weights), first, {}, part);
  const WalkGraph whole = WalkGraph::whole(graph);
  WalkBatchConfig walk_config;
  walk_config.batch_size = 64;
  WalkBatchPlanner local(2000, walk_config, 3, local_walk_runner(whole)), spread(2000, walk_config, 3, distributed_walk_runner(comm, pg));
  local.begin_epoch(4);
  spread.begin_epoch(4);
  double walk_purity = 0;
  for (int b = 0; b < 10; ++b) {
    const WalkBatch x = local.next_batch(), y = spread.next_batch();
    ASSERT_EQ(x.vertices, y.vertices) << "batch " << b;
    walk_purity += same_label_share(x.vertices, label) / 10;
  }

  const int parts = community_count(2000, 64);
  CommunityBatches communities(dist::partition_graph(graph, {}, parts, 7), parts, 3);
  communities.begin_epoch(0);
  std::vector<int> seen(2000, 0);
  double community_purity = 0;
  int batches = 0;
  while (!communities.epoch_done()) {
    const std::vector<VertexId>& batch = communities.next_batch();
    for (VertexId v : batch) ++seen[v];
    community_purity += same_label_share(batch, label);
    ++batches;
  }
  community_purity /= batches;
  for (int v = 0; v < 2000; ++v) ASSERT_EQ(seen[v], 1) << v;
  EXPECT_EQ(batches, parts);
  // Uniform batches would have about 1/8 same-label pairs.
  EXPECT_GT(walk_purity, 0.25);
  EXPECT_GT(community_purity, walk_purity);
}

// The batch sources the GraphCL job uses, across ranks: fed the same bank rows, every kind gives on P
// ranks (METIS-placed distributed walks, background rebuilds) the batches it gives on one process.
TEST(DistributedSampler, BatchSourcesGiveTheOneProcessBatchesOnAnyRankCount) {
  dist::Comm comm;
  std::vector<int> label;
  const MatF bank = clustered_bank(700, 12, label);
  const LocalCommunicator one;
  for (const char* kind : {"uniform", "batchsampler", "knn", "communities"}) {
    for (bool overlap : {false, true}) {
      BatchSourceConfig c;
      c.kind = kind;
      c.num_instances = 700;
      c.batch_size = 48;
      c.seed = 11;
      c.refresh_every = 5;
      c.overlap = overlap;
      c.bank_dim = 12;
      c.proximity.candidates = 80;
      c.proximity.neighbours = 8;
      c.proximity.block = 64;
      c.partition = [](const Csr& g, int parts, uint64_t seed) { return dist::partition_graph(g, {}, parts, seed); };
      c.walk_engine = "distributed";
      auto spread = make_batch_source(comm, c);
      c.walk_engine = "local";
      auto alone = make_batch_source(one, c);
      for (int64_t epoch = 0; epoch < 4; ++epoch) {
        const int64_t steps = spread->begin_epoch(epoch);
        ASSERT_EQ(steps, alone->begin_epoch(epoch));
        for (int64_t k = 0; k < steps; ++k) {
          const std::vector<VertexId> x = alone->next_batch(), y = spread->next_batch();
          ASSERT_EQ(x, y) << kind << " overlap " << overlap << " epoch " << epoch << " step " << k;
          MatF rows(static_cast<int64_t>(x.size()), 12);
          for (size_t i = 0; i < x.size(); ++i) rows.row(static_cast<int64_t>(i)) = bank.row(x[i]);
          // The bank moves a little with each step (as training moves it), the same on every rank.
          rows.array() += 0.01f * static_cast<float>(epoch * steps + k);
          normalise_rows(rows);
          if (alone->bank_dim() > 0) {
            alone->record(x, rows);
            spread->record(y, rows);
          }
        }
      }
      EXPECT_EQ(alone->stats().rebuilds, spread->stats().rebuilds);
    }
  }
}

}  // namespace
}  // namespace relfm::sampler
