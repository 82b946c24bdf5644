// A sequence's attention graph split over ranks (src/graph/sequence_split.hpp): the ranks' local edges
// partition the graph's, the local tiles are valid, and K hops of diffusion computed rank by rank with
// the halo plan (simulated here in one process: the exchange and the reduction of the global rows are
// copies and sums) equal the hops on the whole graph, for contiguous and scattered splits.
#include "src/graph/sequence_split.hpp"

#include "src/core/error.hpp"
#include "src/core/rng.hpp"
#include "src/tensor/ops.hpp"

#include <gtest/gtest.h>

namespace relfm {
namespace {

AttentionGraph official_like(int64_t length) {
  AttentionGraphConfig c;
  c.block = 16;
  c.stride = 8;
  c.num_global = 5;
  c.num_random = 6;
  c.random_mode = "fixed";
  c.first_token_global = true;
  return build_attention_graph(length, c);
}

// A scattered split: token t goes to rank hash(t) mod parts (the worst case for the halo).
SequenceSplit scattered(int64_t length, int parts) {
  const CounterRng rng(5, RngPurpose::kTest, 1);
  std::vector<int32_t> owner(static_cast<size_t>(length));
  for (int64_t t = 0; t < length; ++t) owner[static_cast<size_t>(t)] = static_cast<int32_t>(rng.below(static_cast<uint64_t>(t), static_cast<uint64_t>(parts)));
  return SequenceSplit::from_parts(std::move(owner), parts);
}

TEST(SequenceSplit, LocalEdgesPartitionTheGraphAndTheLocalTilesAreValid) {
  const AttentionGraph g = official_like(300);
  for (int parts : {1, 2, 3, 4})
    for (const bool contiguous : {true, false}) {
      const SequenceSplit split = contiguous ? SequenceSplit::contiguous(300, parts) : scattered(300, parts);
      std::vector<int> times(static_cast<size_t>(g.by_query->nnz()), 0);
      for (int r = 0; r < parts; ++r) {
        const LocalAttentionGraph local = localize_attention_graph(g, split, r);
        ASSERT_NO_THROW(local.tiles->check(*local.by_query)) << parts << " parts, rank " << r;
        const Csr& p = *local.by_query;
        for (int64_t row = 0; row < p.num_rows; ++row)
          for (int64_t e = p.row_ptr[row]; e < p.row_ptr[row + 1]; ++e) {
            const int64_t whole = local.edge[static_cast<size_t>(e)];
            times[static_cast<size_t>(whole)] += 1;
            // The local entry is the whole graph's edge between the same tokens.
            EXPECT_EQ(g.by_query->col[whole], local.columns[static_cast<size_t>(p.col[e])]);
            EXPECT_TRUE(whole >= g.by_query->row_ptr[local.rows[static_cast<size_t>(row)]] &&
                        whole < g.by_query->row_ptr[local.rows[static_cast<size_t>(row)] + 1]);
          }
        if (contiguous && parts > 1) {  // most edges are tiled locally too
          const auto tiled = std::count(local.tiles->tiled.begin(), local.tiles->tiled.end(), uint8_t{1});
          EXPECT_GT(tiled, p.nnz() / 2) << parts << " parts, rank " << r;
        }
      }
      EXPECT_TRUE(std::all_of(times.begin(), times.end(), [](int n) { return n == 1; })) << parts << " parts";
    }
}

// K hops z <- keep A z + alpha v on the whole graph, and rank by rank.
TEST(SequenceSplit, HopsRankByRankEqualHopsOnTheWholeGraph) {
  const int64_t L = 257, d = 6, heads = 2, hops = 4;
  const double alpha = 0.15, keep = 1.0 - alpha;
  const AttentionGraph g = official_like(L);
  const CounterRng rng(3, RngPurpose::kTest, 2);
  MatD a(g.by_query->nnz(), heads), v(L, d);
  for (int64_t k = 0; k < a.size(); ++k) a.data()[k] = rng.uniform_double(static_cast<uint64_t>(k)) / 20.0;
  for (int64_t k = 0; k < v.size(); ++k) v.data()[k] = rng.derive(1).normal(static_cast<uint64_t>(k));
  auto multiply = [](const std::shared_ptr<const Csr>& p, const EdgeTilesPtr& tiles, const MatD& w, const MatD& x) {
    Tape<double> tape;
    tape.set_grad_enabled(false);
    return MatD(spmm(p, tape.input(w), tape.input(x), nullptr, tiles).value());
  };
  MatD whole = v;
  for (int64_t t = 0; t < hops; ++t) whole = keep * multiply(g.by_query, g.tiles, a, whole) + alpha * v;

  for (int parts : {1, 2, 4})
    for (const bool contiguous : {true, false}) {
      const SequenceSplit split = contiguous ? SequenceSplit::contiguous(L, parts) : scattered(L, parts);
      std::vector<LocalAttentionGraph> ranks;
      std::vector<MatD> a_local, z_own;
      for (int r = 0; r < parts; ++r) {
        ranks.push_back(localize_attention_graph(g, split, r));
        const LocalAttentionGraph& l = ranks.back();
        MatD al(static_cast<int64_t>(l.edge.size()), heads), zo(static_cast<int64_t>(l.owned.size()), d);
        for (size_t e = 0; e < l.edge.size(); ++e) al.row(static_cast<int64_t>(e)) = a.row(l.edge[e]);
        for (size_t k = 0; k < l.owned.size(); ++k) zo.row(static_cast<int64_t>(k)) = v.row(l.owned[k]);
        a_local.push_back(al);
        z_own.push_back(zo);
      }
      const auto globals = static_cast<int64_t>(g.global_tokens.size());
      MatD z_global(globals, d);  // replicated on every rank
      for (int64_t k = 0; k < globals; ++k) z_global.row(k) = v.row(g.global_tokens[static_cast<size_t>(k)]);
      for (int64_t t = 0; t < hops; ++t) {
        MatD global_sum = MatD::Zero(globals, d);
        std::vector<MatD> full(static_cast<size_t>(parts));
        for (int r = 0; r < parts; ++r) {
          const LocalAttentionGraph& l = ranks[static_cast<size_t>(r)];
          MatD cols = MatD::Constant(static_cast<int64_t>(l.columns.size()), d, std::nan(""));
          for (size_t k = 0; k < l.owned.size(); ++k) cols.row(l.owned_column[k]) = z_own[static_cast<size_t>(r)].row(static_cast<int64_t>(k));
          for (int64_t k = 0; k < globals; ++k) cols.row(l.global_column[static_cast<size_t>(k)]) = z_global.row(k);
          for (int s = 0; s < parts; ++s) {  // the halo: rank s sends send_to[r] in the order r expects
            const auto& recv = l.recv_from[static_cast<size_t>(s)];
            const auto& send = ranks[static_cast<size_t>(s)].send_to[static_cast<size_t>(r)];
            ASSERT_EQ(recv.size(), send.size()) << "rank " << s << " -> " << r;
            for (size_t k = 0; k < recv.size(); ++k) cols.row(recv[k]) = z_own[static_cast<size_t>(s)].row(send[k]);
          }
          ASSERT_FALSE(cols.hasNaN()) << "a column nobody filled, rank " << r;
          const MatD y = multiply(l.by_query, l.tiles, a_local[static_cast<size_t>(r)], cols);
          full[static_cast<size_t>(r)] = y.topRows(l.full_rows);
          global_sum += y.bottomRows(globals);  // the reduction of the partial rows
        }
        z_global = keep * global_sum;
        for (int64_t k = 0; k < globals; ++k) z_global.row(k) += alpha * v.row(g.global_tokens[static_cast<size_t>(k)]);
        for (int r = 0; r < parts; ++r) {
          const LocalAttentionGraph& l = ranks[static_cast<size_t>(r)];
          int64_t row = 0;
          for (size_t k = 0; k < l.owned.size(); ++k) {
            const int64_t token = l.owned[k];
            const auto at = std::find(g.global_tokens.begin(), g.global_tokens.end(), token);
            z_own[static_cast<size_t>(r)].row(static_cast<int64_t>(k)) =
                at != g.global_tokens.end() ? MatD(z_global.row(at - g.global_tokens.begin()))
                                            : MatD(keep * full[static_cast<size_t>(r)].row(row++) + alpha * v.row(token));
          }
        }
      }
      for (int r = 0; r < parts; ++r) {
        const LocalAttentionGraph& l = ranks[static_cast<size_t>(r)];
        for (size_t k = 0; k < l.owned.size(); ++k)
          EXPECT_LT((z_own[static_cast<size_t>(r)].row(static_cast<int64_t>(k)) - whole.row(l.owned[k])).cwiseAbs().maxCoeff(), 1e-12)
              << parts << " parts (" << (contiguous ? "contiguous" : "scattered") << "), token " << l.owned[k];
      }
    }
}

TEST(SequenceSplit, BadSplitsAreNamed) {
  EXPECT_THROW(SequenceSplit::contiguous(3, 4), InputError);
  EXPECT_THROW(SequenceSplit::from_parts({0, 2, 1}, 2), InputError);
  const AttentionGraph g = official_like(50);
  EXPECT_THROW(localize_attention_graph(g, SequenceSplit::contiguous(49, 2), 0), InputError);
  EXPECT_THROW(localize_attention_graph(g, SequenceSplit::contiguous(50, 2), 2), InputError);
}

}  // namespace
}  // namespace relfm
