// dist/ under real MPI ranks: collective error agreement, gradient all-reduce through small buckets,
// parameter broadcast and buffer averaging, METIS balance of molecule sets and of general graphs, and
// all_gather_rows against a single-process oracle.
#include "dist/data_parallel.hpp"
#include "dist/partition.hpp"
#include "src/tensor/ops.hpp"

#include <gtest/gtest.h>

#include <climits>
#include <numeric>

namespace relfm::dist {
namespace {

TEST(Collective, OneFailingRankMakesEveryRankThrowItsMessage) {
  Comm comm;
  const int culprit = comm.size() - 1;
  try {
    comm.collective([&] {
      if (comm.rank() == culprit) fail_input("data.csv:7: expected 3 fields, found 2");
    });
    FAIL() << "no error raised on rank " << comm.rank();
  } catch (const CollectiveError& e) {
    EXPECT_EQ(std::string(e.what()), "data.csv:7: expected 3 fields, found 2");
    EXPECT_EQ(e.kind(), CollectiveError::Kind::kInput);
    EXPECT_EQ(e.origin_rank(), culprit);
  }
}

TEST(Collective, LowestFailingRankWinsAndResultsPassThrough) {
  Comm comm;
  try {
    comm.collective([&] { throw std::runtime_error("rank " + std::to_string(comm.rank())); });
    FAIL();
  } catch (const CollectiveError& e) {
    EXPECT_EQ(std::string(e.what()), "rank 0");
    EXPECT_EQ(e.kind(), CollectiveError::Kind::kInternal);
  }
  EXPECT_EQ(comm.collective([&] { return comm.rank() * 2; }), comm.rank() * 2);
}

TEST(Comm, GathersInRankOrder) {
  Comm comm;
  std::vector<int64_t> mine(static_cast<size_t>(comm.rank() + 1), comm.rank());
  const auto all = comm.allgatherv(mine);
  size_t k = 0;
  for (int r = 0; r < comm.size(); ++r)
    for (int i = 0; i <= r; ++i) EXPECT_EQ(all[k++], r);
  EXPECT_EQ(k, all.size());
  const auto words = comm.allgather_strings({"r" + std::to_string(comm.rank()), ""});
  ASSERT_EQ(words.size(), 2u * comm.size());
  EXPECT_EQ(words[2 * (comm.size() - 1)], "r" + std::to_string(comm.size() - 1));
  EXPECT_EQ(comm.exclusive_scan(1), comm.rank());
}

TEST(GradientAllReducer, SumsAcrossBucketBoundariesAndScales) {
  Comm comm;
  ParamStore<float> store;
  auto& a = store.add("a", MatF::Zero(3, 5));
  auto& b = store.add("b", MatF::Zero(1, 7));
  auto& c = store.add("c", MatF::Zero(2, 2));  // gets no gradient on any rank
  store.add("buffer", MatF::Zero(1, 3), false);
  const float r = static_cast<float>(comm.rank() + 1);
  a.grad = MatF::Constant(3, 5, r);
  a.grad(2, 4) = 100 * r;
  a.has_grad = true;
  b.grad = MatF::Constant(1, 7, -r);
  b.has_grad = true;
  GradientAllReducer reducer(comm, store.trainable(), 6 * sizeof(float));  // 6-float buckets: 27 floats -> 5
  EXPECT_EQ(reducer.num_buckets(), 5);
  reducer.allreduce(0.5f);
  const float total = comm.size() * (comm.size() + 1) / 2.0f;
  EXPECT_FLOAT_EQ(a.grad(0, 0), 0.5f * total);
  EXPECT_FLOAT_EQ(a.grad(2, 4), 50.0f * total);
  EXPECT_FLOAT_EQ(b.grad(0, 6), -0.5f * total);
  ASSERT_TRUE(c.has_grad);
  EXPECT_EQ(c.grad, MatF::Zero(2, 2));
}

TEST(DataParallel, BroadcastThenAverageMakesReplicasIdentical) {
  Comm comm;
  ParamStore<float> store;
  auto& w = store.add("w", MatF::Constant(2, 2, static_cast<float>(comm.rank())));
  auto& buf = store.add("running_mean", MatF::Constant(1, 2, static_cast<float>(comm.rank())), false);
  broadcast_parameters(comm, store);
  EXPECT_EQ(w.value, MatF::Zero(2, 2));
  buf.value = MatF::Constant(1, 2, static_cast<float>(comm.rank()));
  average_buffers(comm, store);
  EXPECT_FLOAT_EQ(buf.value(0, 1), (comm.size() - 1) / 2.0f);
  const auto prints = comm.allgather(parameter_fingerprint(store));
  for (uint64_t p : prints) EXPECT_EQ(p, prints[0]);
}

TEST(Partition, BalancesAtomsAndMoleculesDeterministically) {
  Comm comm;
  std::vector<int64_t> atoms(1000);
  for (size_t i = 0; i < atoms.size(); ++i) atoms[i] = 5 + static_cast<int64_t>((i * 7919) % 60);
  const auto part = partition_molecules(comm, atoms, 1);
  const auto again = partition_molecules(atoms, comm.size(), 1);
  EXPECT_EQ(part, again);  // a pure function, identical on every rank
  std::vector<int64_t> ones(atoms.size(), 1);
  EXPECT_LE(imbalance(part, atoms, comm.size()), 1.01);
  EXPECT_LE(imbalance(part, ones, comm.size()), 1.01);
  for (int32_t p : part) {
    EXPECT_GE(p, 0);
    EXPECT_LT(p, comm.size());
  }
}

TEST(Partition, SingleRankAndTooManyRanks) {
  EXPECT_EQ(partition_molecules({3, 4, 5}, 1, 0), (std::vector<int32_t>{0, 0, 0}));
  EXPECT_THROW(partition_molecules({3, 4}, 3, 0), InputError);
}

// Two 6-cliques joined by the single edge 5 -> 6, given directed (each pair once, from the smaller
// vertex), with a self loop and a repeated entry that symmetrising must absorb.
Csr two_cliques() {
  std::vector<VertexId> rows, cols;
  for (VertexId base : {0, 6})
    for (VertexId u = base; u < base + 6; ++u)
      for (VertexId v = u + 1; v < base + 6; ++v) rows.push_back(u), cols.push_back(v);
  rows.push_back(5), cols.push_back(6);
  rows.push_back(3), cols.push_back(3);
  rows.push_back(8), cols.push_back(9);
  return Csr::from_pairs(12, 12, rows, cols);
}

TEST(PartitionGraph, CutsTwoCliquesAtTheirOneBridge) {
  const Csr g = two_cliques();
  const auto part = partition_graph(g, {}, 2, 3);
  EXPECT_EQ(edge_cut(g, part), 1);
  for (int v = 1; v < 6; ++v) EXPECT_EQ(part[static_cast<size_t>(v)], part[0]);
  for (int v = 7; v < 12; ++v) EXPECT_EQ(part[static_cast<size_t>(v)], part[6]);
  EXPECT_NE(part[0], part[6]);
}

TEST(PartitionGraph, BalancesWeightedVerticesOfAGridOverTheRanks) {
  // A 24 x 24 grid, both directions stored, with vertex weights 1..3: a low-cut balanced split exists.
  Comm comm;
  const int side = 24, n = side * side;
  std::vector<VertexId> rows, cols;
  for (int y = 0; y < side; ++y)
    for (int x = 0; x < side; ++x) {
      const int v = y * side + x;
      if (x + 1 < side) rows.insert(rows.end(), {v, v + 1}), cols.insert(cols.end(), {v + 1, v});
      if (y + 1 < side) rows.insert(rows.end(), {v, v + side}), cols.insert(cols.end(), {v + side, v});
    }
  const Csr g = Csr::from_pairs(n, n, rows, cols);
  std::vector<int64_t> weights(static_cast<size_t>(n));
  for (int v = 0; v < n; ++v) weights[static_cast<size_t>(v)] = 1 + (v * 7) % 3;
  const auto part = partition_graph(comm, g, weights, 5);
  EXPECT_EQ(part, partition_graph(g, weights, comm.size(), 5));  // rank 0's result, broadcast
  for (int32_t p : part) {
    EXPECT_GE(p, 0);
    EXPECT_LT(p, comm.size());
  }
  if (comm.size() > 1) {
    EXPECT_LE(imbalance(part, weights, comm.size()), 1.08);
    // A straight cut through the grid crosses 24 undirected edges (48 entries) per boundary; METIS's cut
    // must be of that order, far below a random split's (about half of all 2208 entries).
    EXPECT_LE(edge_cut(g, part), 48 * (comm.size() - 1) * 2);
  } else {
    EXPECT_EQ(edge_cut(g, part), 0);
  }
  const auto four = partition_graph(g, weights, 4, 1);
  EXPECT_LE(imbalance(four, weights, 4), 1.08);
  EXPECT_LE(edge_cut(g, four), 4 * 48);
}

TEST(PartitionGraph, RefusesMalformedInput) {
  const Csr g = two_cliques();
  EXPECT_THROW(partition_graph(g, {1, 2, 3}, 2), InputError);  // weights for 3 of 12 vertices
  EXPECT_THROW(partition_graph(g, {}, 13), InputError);
  EXPECT_THROW(partition_graph(Csr::from_pairs(2, 3, {0}, {2}), {}, 2), InputError);
  EXPECT_EQ(partition_graph(g, {}, 1), std::vector<int32_t>(12, 0));
}

// BatchSampler's loss: every rank's anchors against the candidates of all ranks. Summed over ranks, its
// value and gradients must equal one process computing InfoNCE over the whole global batch.
// Also with at most 2 values per MPI call, so the gather and the backward's reduce-scatter go in rounds.
class AllGatherRowsLimits : public ::testing::TestWithParam<int64_t> {};
INSTANTIATE_TEST_SUITE_P(Limits, AllGatherRowsLimits, ::testing::Values(int64_t{INT_MAX}, int64_t{2}));

TEST_P(AllGatherRowsLimits, DistributedInfoNceEqualsTheSingleProcessLoss) {
  Comm comm;
  comm.set_max_count_per_call(GetParam());
  const int64_t d = 5, n = 2 + comm.rank();  // unequal shares
  const int64_t offset = comm.exclusive_scan(n), total = comm.sum(n);
  auto random = [](int64_t rows, uint64_t stream) {
    const CounterRng rng(21, RngPurpose::kTest, stream);
    MatD m(rows, 5);
    for (int64_t k = 0; k < m.size(); ++k) m.data()[k] = rng.normal(static_cast<uint64_t>(k));
    return m;
  };
  const MatD z_local = random(n, 2 * comm.rank()), p_local = random(n, 2 * comm.rank() + 1);
  auto positives = std::make_shared<std::vector<int64_t>>();
  for (int64_t i = 0; i < n; ++i) positives->push_back(offset + i);

  Tape<double> tape;
  Var<double> z = tape.input(z_local, true), p = tape.input(p_local, true);
  Var<double> loss = info_nce(z, all_gather_rows(p, comm), positives, 0.5, static_cast<double>(total));
  tape.backward(loss);
  const double distributed = comm.sum(loss.value()(0, 0));

  // Oracle: gather everything, one tape.
  auto gather = [&](const MatD& m) {
    const std::vector<double> flat = comm.allgatherv(std::vector<double>(m.data(), m.data() + m.size()));
    return MatD(Eigen::Map<const MatD>(flat.data(), total, d));
  };
  Tape<double> t;
  Var<double> z_all = t.input(gather(z_local), true), p_all = t.input(gather(p_local), true);
  auto all_positives = std::make_shared<std::vector<int64_t>>(static_cast<size_t>(total));
  std::iota(all_positives->begin(), all_positives->end(), 0);
  Var<double> single = info_nce(z_all, p_all, all_positives, 0.5, static_cast<double>(total));
  t.backward(single);

  EXPECT_NEAR(distributed, single.value()(0, 0), 1e-12);
  EXPECT_LT((z.grad() - z_all.grad().middleRows(offset, n)).cwiseAbs().maxCoeff(), 1e-12);
  EXPECT_LT((p.grad() - p_all.grad().middleRows(offset, n)).cwiseAbs().maxCoeff(), 1e-12);
}

}  // namespace
}  // namespace relfm::dist
