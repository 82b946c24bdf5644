// Diffuser attention (src/models/diffuser_attention.hpp) against its two closed forms: on the complete
// graph with one hop and no teleport it is dense softmax attention; with many hops it converges to the
// personalised-PageRank fixed point alpha (I - (1 - alpha) A)^-1 V, per head.
#include "src/graph/attention_graph.hpp"
#include "src/models/diffuser_attention.hpp"
#include "src/tensor/gemm.hpp"
#include "src/tensor/sparse_edges.hpp"

#include <gtest/gtest.h>

#include <Eigen/Dense>

namespace relfm {
namespace {

MatD random_matrix(int64_t r, int64_t c, uint64_t stream) {
  const CounterRng rng(9, RngPurpose::kTest, stream);
  MatD m(r, c);
  for (int64_t k = 0; k < m.size(); ++k) m.data()[k] = rng.normal(static_cast<uint64_t>(k));
  return m;
}

TEST(DiffuserAttention, OnTheCompleteGraphOneHopWithoutTeleportIsDenseAttention) {
  const int64_t L = 23, d = 8, heads = 2;
  const AttentionGraph g = complete_attention_graph(L);
  const AttentionPattern complete{g.by_query, g.by_key, g.tiles};
  DiffusionConfig one_hop;
  one_hop.hops = 1;
  one_hop.alpha = 0.0;
  const MatD q = random_matrix(L, d, 1), k = random_matrix(L, d, 2), v = random_matrix(L, d, 3), w = random_matrix(L, d, 4);
  auto run = [&](bool sparse) {
    Tape<double> tape;
    Var<double> qv = tape.input(q, true), kv = tape.input(k, true), vv = tape.input(v, true);
    Var<double> out = sparse ? diffuser_attention(complete, qv, kv, vv, heads, one_hop, CounterRng(0, RngPurpose::kDropout), true)
                             : dense_attention(qv, kv, vv, heads);
    tape.backward(sum(mul(out, tape.input(w))));
    return std::vector<MatD>{out.value(), qv.grad(), kv.grad(), vv.grad()};
  };
  const auto sparse = run(true), dense = run(false);
  const char* what[] = {"output", "dq", "dk", "dv"};
  for (size_t i = 0; i < sparse.size(); ++i)
    EXPECT_LT((sparse[i] - dense[i]).cwiseAbs().maxCoeff(), 1e-12 * (1 + dense[i].cwiseAbs().maxCoeff())) << what[i];
}

TEST(DiffuserAttention, ManyHopsConvergeToThePersonalisedPageRankFixedPoint) {
  AttentionGraphConfig gc;
  gc.block = 6;
  gc.stride = 3;
  gc.num_global = 1;
  gc.num_random = 2;
  gc.random_mode = "fixed";
  const int64_t L = 30, d = 6, heads = 2, dh = d / heads;
  const AttentionGraph graph = build_attention_graph(L, gc);
  const MatD q = random_matrix(L, d, 5), k = random_matrix(L, d, 6), v = random_matrix(L, d, 7);
  DiffusionConfig many;
  many.hops = 300;
  many.alpha = 0.15;
  Tape<double> tape;
  tape.set_grad_enabled(false);
  Var<double> a = edge_softmax(graph.by_query, sddmm(graph.by_query, tape.input(q), tape.input(k), heads));
  const MatD z = diffuse({graph.by_query, graph.by_key, graph.tiles}, a, tape.input(v), many, CounterRng(0, RngPurpose::kDropout), false).value();
  const Csr& p = *graph.by_query;
  for (int64_t h = 0; h < heads; ++h) {
    Eigen::MatrixXd dense = Eigen::MatrixXd::Zero(L, L);
    for (int64_t i = 0; i < L; ++i)
      for (int64_t e = p.row_ptr[i]; e < p.row_ptr[i + 1]; ++e) dense(i, p.col[e]) = a.value()(e, h);
    EXPECT_LT((dense.rowwise().sum().array() - 1.0).abs().maxCoeff(), 1e-12) << "A is row-stochastic";
    const Eigen::MatrixXd system = Eigen::MatrixXd::Identity(L, L) - (1 - many.alpha) * dense;
    const Eigen::MatrixXd fixed_point = many.alpha * system.partialPivLu().solve(Eigen::MatrixXd(v.middleCols(h * dh, dh)));
    EXPECT_LT((Eigen::MatrixXd(z.middleCols(h * dh, dh)) - fixed_point).cwiseAbs().maxCoeff(), 1e-10) << "head " << h;
  }
}

namespace {

// The official pattern at 3,000 tokens (its tiles, its sparse rest) with K hops and hop dropout, d = 512
// in double: the diffused values and the gradients of A and V, fused or as the composed ops.
struct HopsResult {
  MatD value, grad_a, grad_v;
};
HopsResult diffuse_official_pattern(bool fused, double hop_dropout = 0.2) {
  AttentionGraphConfig gc;
  gc.random_mode = "fixed";
  gc.num_random = 20;
  gc.num_global = 8;
  const int64_t L = 3000, d = 512, heads = 4;
  const AttentionGraph graph = build_attention_graph(L, gc);
  const MatD q = random_matrix(L, d, 1) * 0.05, k = random_matrix(L, d, 2), v = random_matrix(L, d, 3), w = random_matrix(L, d, 4);
  const DiffusionHops hops{4, 0.1, hop_dropout};
  const CounterRng rng(3, RngPurpose::kDropout);
  Tape<double> tape;
  Var<double> vv = tape.input(v, true);
  Var<double> a = edge_softmax(graph.by_query, sddmm(graph.by_query, tape.input(q), tape.input(k), heads));
  Var<double> a_leaf = tape.input(a.value(), true);
  Var<double> z = vv;
  if (fused) {
    z = ppr_diffusion(graph.by_query, a_leaf, vv, hops, rng, true, graph.by_key, graph.tiles);
  } else {
    for (int64_t t = 0; t < hops.hops; ++t) {
      z = add(scale(spmm(graph.by_query, a_leaf, z), 1.0 - hops.alpha), scale(vv, hops.alpha));
      z = dropout(z, hops.dropout, rng.derive(static_cast<uint64_t>(t) + 1), true);
    }
  }
  tape.backward(sum(mul(z, tape.input(w))));
  return {z.value(), a_leaf.grad(), vv.grad()};
}

double relative_gap(const MatD& x, const MatD& y) { return (x - y).cwiseAbs().maxCoeff() / (1.0 + y.cwiseAbs().maxCoeff()); }

// Sets the sparse loops' cache block for one scope (the CPU's default again after it).
struct BlockBytes {
  explicit BlockBytes(int64_t bytes) { sparse::set_cache_block_bytes(bytes); }
  ~BlockBytes() { sparse::set_cache_block_bytes(0); }
};

}  // namespace

// The fused K-hop node against the composition it replaces, with the sparse loops cut into several key
// blocks (1 MB: 256 rows of d = 512 doubles) whatever this CPU's default.
TEST(DiffuserAttention, TheFusedHopsEqualTheComposedOps) {
  const BlockBytes blocks(1 << 20);
  const HopsResult composed = diffuse_official_pattern(false), fused = diffuse_official_pattern(true);
  EXPECT_LT(relative_gap(fused.value, composed.value), 1e-13);
  EXPECT_LT(relative_gap(fused.grad_a, composed.grad_a), 1e-13);
  EXPECT_LT(relative_gap(fused.grad_v, composed.grad_v), 1e-13);
  EXPECT_GT((fused.value.array() == 0.0).count(), 0) << "hop dropout zeroed nothing";
  // Without dropout the node takes its one-visit-per-row path (DiffusionNode::finish_hop).
  const HopsResult composed_plain = diffuse_official_pattern(false, 0.0), fused_plain = diffuse_official_pattern(true, 0.0);
  EXPECT_LT(relative_gap(fused_plain.value, composed_plain.value), 1e-13);
  EXPECT_LT(relative_gap(fused_plain.grad_a, composed_plain.grad_a), 1e-13);
  EXPECT_LT(relative_gap(fused_plain.grad_v, composed_plain.grad_v), 1e-13);
}

// The cache block is chosen per CPU (1 MB on Intel, 4 MB on AMD): any block size, from 16 rows to one block
// for everything, gives the same values and gradients up to the rounding of where a row's sum is split.
TEST(DiffuserAttention, EveryCacheBlockSizeGivesTheSameResult) {
  const HopsResult one_block = [] {
    const BlockBytes blocks(int64_t{1} << 30);
    return diffuse_official_pattern(true);
  }();
  for (const int64_t bytes : {int64_t{0}, int64_t{1} << 20, int64_t{64} << 10, int64_t{1}}) {
    const BlockBytes blocks(bytes);
    const HopsResult r = diffuse_official_pattern(true);
    EXPECT_LT(relative_gap(r.value, one_block.value), 1e-13) << bytes << " bytes";
    EXPECT_LT(relative_gap(r.grad_a, one_block.grad_a), 1e-13) << bytes << " bytes";
    EXPECT_LT(relative_gap(r.grad_v, one_block.grad_v), 1e-13) << bytes << " bytes";
  }
  EXPECT_EQ(sparse::cache_block_rows<double>(512), sparse::cache_block_bytes() / (512 * 8));
}

void float_tiles_match_the_edge_loops(int64_t d, const std::string& random_layout);

// The float kernels for 4 heads move the tiles' values with SIMD shuffles (four cells at a time: runs of
// consecutive edges, holes, scattered edges, the cells left over), which the double gradient checks never
// reach: in float, the tiled layer (scores, softmax, hops, all gradients) matches the one that walks every
// edge through the CSR loops. 7 global tokens make the global-column tile's groups of four straddle rows.
// Heads of 16 and of 64 (d = 256, the AVX-512 kernel that takes the random edges' gradient of A inside
// the backward hops).
// The float tiles run on the selected GEMM backend: every backend this build has.
TEST(DiffuserAttention, FloatTilesOfFourHeadsMatchTheEdgeLoops) {
  for (const std::string& key : gemm::backend_names()) {
    if (key != "eigen" && key != "openblas") continue;  // (tests may register stand-ins)
    SCOPED_TRACE(key);
    gemm::set_active(gemm::make_backend(key));
    for (const int64_t d : {64, 256})
      for (const std::string layout : {"per_query", "per_stride"}) {
        SCOPED_TRACE(d);
        SCOPED_TRACE(layout);
        float_tiles_match_the_edge_loops(d, layout);
      }
  }
  gemm::reset_for_tests();
}

void float_tiles_match_the_edge_loops(int64_t d, const std::string& random_layout) {
  AttentionGraphConfig gc;
  gc.random_mode = "fixed";
  gc.random_layout = random_layout;
  gc.num_random = 9;
  gc.num_global = 7;
  const int64_t L = 1000, heads = 4;
  const AttentionGraph graph = build_attention_graph(L, gc);
  ASSERT_TRUE(graph.tiles);
  struct Result {
    MatF out, gq, gk, gv;
  };
  // Without hop dropout the fused backward runs; with it, the general one (also the split layer's): both
  // take the random edges' gradient of A inside the hops' products where the tiles exist.
  for (const double hop_dropout : {0.0, 0.2}) {
  SCOPED_TRACE(hop_dropout);
  auto layer = [&](EdgeTilesPtr tiles) {
    Tape<float> tape;
    Var<float> q = tape.input(MatF((random_matrix(L, d, 1) * 0.1).cast<float>()), true);
    Var<float> k = tape.input(MatF(random_matrix(L, d, 2).cast<float>()), true);
    Var<float> v = tape.input(MatF(random_matrix(L, d, 3).cast<float>()), true);
    Var<float> a = edge_softmax(graph.by_query, sddmm(graph.by_query, q, k, heads, graph.by_key, tiles));
    Var<float> z = ppr_diffusion(graph.by_query, a, v, DiffusionHops{3, 0.1, hop_dropout}, CounterRng(0, RngPurpose::kDropout), true,
                                 graph.by_key, tiles);
    tape.backward(sum(mul(z, tape.input(MatF(random_matrix(L, d, 4).cast<float>())))));
    return Result{z.value(), q.grad(), k.grad(), v.grad()};
  };
  const Result tiled = layer(graph.tiles), loops = layer(nullptr);
  auto gap = [](const MatF& x, const MatF& y) { return relative_gap(x.cast<double>(), y.cast<double>()); };
  EXPECT_LT(gap(tiled.out, loops.out), 1e-5);
  EXPECT_LT(gap(tiled.gq, loops.gq), 1e-5);
  EXPECT_LT(gap(tiled.gk, loops.gk), 1e-5);
  EXPECT_LT(gap(tiled.gv, loops.gv), 1e-5);
  EXPECT_GT(tiled.gq.cwiseAbs().maxCoeff(), 0.0f);
  }
}

// The edge softmax of 4 float heads runs 16 lanes (four edges) at a time with a masked last vector: rows of
// every length from 0 to 40 edges (and one of 4,000), forward and backward, against the generic loops in
// double.
TEST(DiffuserAttention, FloatEdgeSoftmaxOfFourHeadsMatchesDouble) {
  std::vector<int64_t> lengths;
  for (int64_t n = 0; n <= 40; ++n) lengths.push_back(n);
  lengths.push_back(4000);
  const auto pattern = std::make_shared<const Csr>(Csr::segments(lengths));
  const int64_t nnz = pattern->nnz(), heads = 4;
  const MatD s = random_matrix(nnz, heads, 5) * 3.0, w = random_matrix(nnz, heads, 6);
  Tape<double> td;
  Var<double> sd = td.input(s, true);
  Var<double> ad = edge_softmax(pattern, sd);
  td.backward(sum(mul(ad, td.input(w))));
  Tape<float> tf;
  Var<float> sf = tf.input(MatF(s.cast<float>()), true);
  Var<float> af = edge_softmax(pattern, sf);
  tf.backward(sum(mul(af, tf.input(MatF(w.cast<float>())))));
  EXPECT_LT((af.value().cast<double>() - ad.value()).cwiseAbs().maxCoeff(), 1e-6);
  EXPECT_LT((sf.grad().cast<double>() - sd.grad()).cwiseAbs().maxCoeff(), 1e-5);
  // Every head of every non-empty row sums to one.
  for (int64_t i = 0; i < pattern->num_rows; ++i) {
    if (pattern->row_ptr[i + 1] == pattern->row_ptr[i]) continue;
    for (int64_t h = 0; h < heads; ++h) {
      EXPECT_NEAR(af.value().col(h).segment(pattern->row_ptr[i], pattern->row_ptr[i + 1] - pattern->row_ptr[i]).sum(), 1.0f, 1e-5f);
    }
  }
}

TEST(DiffuserAttention, FiveOfficialHopsPutMostWeightOnFiveHopPaths) {
  // With alpha 0.1 and K 5 the operator is sum_t c_t A^t with c_t = 0.1 * 0.9^t (t < 5) and 0.9^5 = 0.59 on
  // A^5 (research §1.4). With A the cyclic shift of 6 tokens, applied to V = I, entry (i, i + t mod 6) is c_t.
  const int64_t n = 6;
  const AttentionPattern g{complete_attention_graph(n).by_query, nullptr, nullptr};
  MatD shift = MatD::Zero(n * n, 1);
  for (int64_t i = 0; i < n; ++i) shift(i * n + (i + 1) % n, 0) = 1.0;
  Tape<double> tape;
  const MatD z = diffuse(g, tape.input(shift), tape.input(MatD(MatD::Identity(n, n))), DiffusionConfig{},
                         CounterRng(0, RngPurpose::kDropout), false)
                     .value();
  const double c[] = {0.1, 0.09, 0.081, 0.0729, 0.06561, 0.59049};
  for (int64_t i = 0; i < n; ++i)
    for (int64_t t = 0; t < n; ++t) EXPECT_NEAR(z(i, (i + t) % n), c[t], 1e-12) << "row " << i << ", " << t << " hops";
}

TEST(DiffuserAttention, TheDiffusedRowAndTheShareBeyondOneHop) {
  // A pattern of only the cyclic shift (query i's one key is i + 1): the diffused row of query i puts c_t
  // on token i + t, so the share outside its key is 1 - c_1 = 0.91.
  const int64_t n = 6;
  Csr shift;
  shift.num_rows = shift.num_cols = n;
  for (int64_t i = 0; i < n; ++i) {
    shift.col.push_back(static_cast<VertexId>((i + 1) % n));
    shift.row_ptr.push_back(i + 1);
  }
  const MatF ones = MatF::Ones(n, 1);
  const std::vector<double> row = diffused_attention_row(shift, ones, 0, 2, DiffusionConfig{});
  const double c[] = {0.1, 0.09, 0.081, 0.0729, 0.06561, 0.59049};
  for (int64_t t = 0; t < n; ++t) EXPECT_NEAR(row[static_cast<size_t>((2 + t) % n)], c[t], 1e-7) << t;
  EXPECT_NEAR(attention_beyond_one_hop(shift, ones, 0, 2, DiffusionConfig{}), 0.91, 1e-7);
  // One hop without teleport stays on the query's keys.
  DiffusionConfig one;
  one.hops = 1;
  one.alpha = 0.0;
  EXPECT_NEAR(attention_beyond_one_hop(shift, ones, 0, 4, one), 0.0, 1e-12);
}

TEST(DiffuserAttention, BadDiffusionSettingsNameTheirKey) {
  DiffusionConfig c;
  c.hops = 0;
  EXPECT_THROW(validate_diffusion_config(c), InputError);
  c = DiffusionConfig{};
  c.alpha = 1.5;
  EXPECT_THROW(validate_diffusion_config(c), InputError);
  c = DiffusionConfig{};
  c.hop_dropout = 1.0;
  EXPECT_THROW(validate_diffusion_config(c), InputError);
}

}  // namespace
}  // namespace relfm
