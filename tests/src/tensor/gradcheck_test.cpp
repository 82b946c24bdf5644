// The single gradient-check suite: every differentiable op, from one generic forward per case, is checked
// against central differences in double precision, in float against double, and to second order (Dual
// tangents against differences of gradients); OpCoverage fails while any OpKind is not exercised by some
// case below.
// To add an op: add its cases to all_cases() (see src/tensor/op_kind.hpp for the other two steps).
#include "src/tensor/gradcheck.hpp"
#include "src/graph/attention_graph.hpp"
#include "src/models/sequence_parallel.hpp"
#include "tests/src/tensor/running_stats.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <numbers>
#include <set>
#include <type_traits>

namespace relfm {
namespace {

using V = Var<double>;
using Inputs = std::vector<V>;

// A case from one generic forward, [](auto& tape, const auto& x) {...}, run at every scalar type.
template <typename F>
GradCheckCase make(std::string name, std::vector<std::pair<int64_t, int64_t>> shapes, F fwd) {
  return make_gradcheck_case(std::move(name), std::move(shapes), std::move(fwd));
}
// A double-only case (the harness's own self-test).
GradCheckCase make_double(std::string name, std::vector<std::pair<int64_t, int64_t>> shapes,
                          std::function<V(Tape<double>&, const Inputs&)> fwd) {
  GradCheckCase c;
  c.name = std::move(name);
  c.input_shapes = std::move(shapes);
  c.forward = std::move(fwd);
  return c;
}

using testing::RunningStats;

// Labels at the forward's scalar type.
template <typename T>
ConstMatPtr<T> typed(const std::shared_ptr<const MatD>& labels) {
  if constexpr (std::is_same_v<T, double>) return labels;
  else return std::make_shared<const Mat<T>>(labels->cast<T>());
}

// Moves values at least `margin` away from zero so that kinks (relu, max) are not straddled.
void away_from_zero(std::vector<MatD>& in, double margin = 0.05) {
  for (auto& m : in)
    for (int64_t k = 0; k < m.size(); ++k) m.data()[k] += m.data()[k] >= 0 ? margin : -margin;
}

CsrPtr small_graph() {
  // 4 vertices; rows are destinations. Vertex 3 has no incoming edge; vertex 0 receives a self-loop.
  auto g = std::make_shared<Csr>();
  g->num_rows = g->num_cols = 4;
  g->row_ptr = {0, 3, 5, 7, 7};
  g->col = {1, 2, 0, 0, 3, 1, 3};
  return g;
}

std::shared_ptr<const MatD> labels_with_missing(int64_t r, int64_t c, bool binary) {
  auto y = std::make_shared<MatD>(r, c);
  for (int64_t i = 0; i < r; ++i)
    for (int64_t j = 0; j < c; ++j)
      (*y)(i, j) = (i + 2 * j) % 5 == 3 ? std::nan("") : (binary ? double((i * 7 + j) % 2) : 0.3 * i - 0.5 * j);
  return y;
}

std::vector<GradCheckCase> all_cases() {
  std::vector<GradCheckCase> cases;
  // dense algebra
  cases.push_back(make("matmul", {{3, 4}, {4, 2}}, [](auto&, const auto& x) { return matmul(x[0], x[1]); }));
  cases.push_back(make("linear", {{5, 3}, {3, 4}, {1, 4}}, [](auto&, const auto& x) { return linear(x[0], x[1], x[2]); }));
  cases.push_back(make("linear_no_bias", {{5, 3}, {3, 4}}, [](auto&, const auto& x) { return linear(x[0], x[1]); }));
  for (auto [name, shape_b] : std::vector<std::pair<std::string, std::pair<int64_t, int64_t>>>{
           {"same", {3, 4}}, {"row", {1, 4}}, {"col", {3, 1}}, {"scalar", {1, 1}}}) {
    cases.push_back(make("add_" + name, {{3, 4}, shape_b}, [](auto&, const auto& x) { return add(x[0], x[1]); }));
    cases.push_back(make("add_left_" + name, {shape_b, {3, 4}}, [](auto&, const auto& x) { return add(x[0], x[1]); }));
    cases.push_back(make("sub_" + name, {{3, 4}, shape_b}, [](auto&, const auto& x) { return sub(x[0], x[1]); }));
    cases.push_back(make("sub_left_" + name, {shape_b, {3, 4}}, [](auto&, const auto& x) { return sub(x[0], x[1]); }));
    cases.push_back(make("mul_" + name, {{3, 4}, shape_b}, [](auto&, const auto& x) { return mul(x[0], x[1]); }));
    cases.push_back(make("mul_left_" + name, {shape_b, {3, 4}}, [](auto&, const auto& x) { return mul(x[0], x[1]); }));
  }
  cases.push_back(make("mul_outer", {{3, 1}, {1, 4}}, [](auto&, const auto& x) { return mul(x[0], x[1]); }));
  cases.push_back(make("scale", {{3, 4}}, [](auto&, const auto& x) { using T = scalar_of_t<decltype(x)>;
    return scale(x[0], T(2.5), T(-1.0)); }));

  cases.push_back(make("transpose", {{3, 4}}, [](auto&, const auto& x) { return transpose(x[0]); }));
  cases.push_back(make("concat_cols", {{3, 4}, {3, 2}}, [](auto&, const auto& x) { return concat_cols(x[0], x[1]); }));
  cases.push_back(make("l2_normalize_rows", {{4, 5}}, [](auto&, const auto& x) { return l2_normalize_rows(x[0]); }));
  cases.push_back(make("gate_mix", {{1, 1}, {3, 4}, {3, 4}}, [](auto&, const auto& x) { return gate_mix(x[0], x[1], x[2]); }));

  // element-wise
  auto relu_case = make("relu", {{4, 5}}, [](auto&, const auto& x) { return relu(x[0]); });
  relu_case.prepare = [](auto& in) { away_from_zero(in); };
  cases.push_back(relu_case);
  cases.push_back(make("gelu", {{4, 5}}, [](auto&, const auto& x) { return gelu(x[0]); }));
  cases.push_back(make("sigmoid", {{4, 5}}, [](auto&, const auto& x) { return sigmoid(x[0]); }));
  cases.push_back(make("tanh", {{4, 5}}, [](auto&, const auto& x) { return tanh(x[0]); }));
  cases.push_back(make("softmax", {{4, 5}}, [](auto&, const auto& x) { return softmax(x[0]); }));
  cases.push_back(make("log_softmax", {{4, 5}}, [](auto&, const auto& x) { return log_softmax(x[0]); }));
  cases.push_back(make("sum", {{4, 5}}, [](auto&, const auto& x) { return sum(x[0]); }));
  cases.push_back(make("mean", {{4, 5}}, [](auto&, const auto& x) { return mean(x[0]); }));

  // indexing and graphs
  auto gather_idx = std::make_shared<const std::vector<int32_t>>(std::vector<int32_t>{4, 0, 0, 2, 1, 4});
  cases.push_back(make("gather_rows", {{5, 3}}, [=](auto&, const auto& x) { return gather_rows(x[0], gather_idx); }));
  auto seg = std::make_shared<const std::vector<int64_t>>(std::vector<int64_t>{0, 2, 2, 6});
  cases.push_back(make("segment_sum", {{6, 3}}, [=](auto&, const auto& x) { return segment_sum(x[0], seg); }));
  cases.push_back(make("segment_mean", {{6, 3}}, [=](auto&, const auto& x) { return segment_mean(x[0], seg); }));
  auto emb_rows = std::make_shared<IndexMat>(4, 2);
  *emb_rows << 0, 5, 3, 5, 0, 6, 2, 4;
  cases.push_back(make("embedding_sum", {{7, 3}}, [=](auto&, const auto& x) {
    return embedding_sum(x[0], IndexMatPtr(emb_rows));
  }));
  const CsrPtr graph = small_graph();
  cases.push_back(make("gin_aggregate", {{4, 3}, {7, 3}, {1, 1}},
                       [=](auto&, const auto& x) { return gin_aggregate(x[0], x[1], x[2], graph); }));
  auto edge_rows = std::make_shared<IndexMat>(7, 2);
  *edge_rows << 0, 3, 1, 4, 2, 5, 0, 5, 1, 3, 2, 4, 0, 4;
  cases.push_back(make("gin_aggregate_embedded", {{4, 3}, {6, 3}, {1, 1}}, [=](auto&, const auto& x) {
    return gin_aggregate_embedded(x[0], x[1], IndexMatPtr(edge_rows), x[2], graph);
  }));
  cases.push_back(make("spmm", {{7, 1}, {4, 3}}, [=](auto&, const auto& x) { return spmm(graph, x[0], x[1]); }));
  cases.push_back(make("sddmm", {{4, 3}, {4, 3}}, [=](auto&, const auto& x) { return sddmm(graph, x[0], x[1]); }));
  cases.push_back(make("sddmm_spmm_chain", {{4, 3}, {4, 3}, {4, 3}}, [=](auto&, const auto& x) {
    auto scores = sddmm(graph, x[0], x[1]);
    return spmm(graph, sigmoid(scores), x[2]);
  }));
  // Multi-head: 3 heads of width 2 (features 6), edge tensors 7 x 3.
  cases.push_back(make("spmm_heads", {{7, 3}, {4, 6}}, [=](auto&, const auto& x) { return spmm(graph, x[0], x[1]); }));
  cases.push_back(make("sddmm_heads", {{4, 6}, {4, 6}}, [=](auto&, const auto& x) { return sddmm(graph, x[0], x[1], 3); }));
  const CsrTransposePtr graph_t = std::make_shared<const CsrTranspose>(transpose_with_edges(*graph));
  cases.push_back(make("spmm_heads_transposed", {{7, 3}, {4, 6}},
                       [=](auto&, const auto& x) { return spmm(graph, x[0], x[1], graph_t); }));
  cases.push_back(make("sddmm_heads_transposed", {{4, 6}, {4, 6}},
                       [=](auto&, const auto& x) { return sddmm(graph, x[0], x[1], 3, graph_t); }));
  // A Diffuser pattern (band of 4 every 2, 2 random keys per query, a global token) with its regular parts as dense tiles (global row, band, global column).
  AttentionGraphConfig small;
  small.block = 4;
  small.stride = 2;
  small.num_global = 1;
  small.num_random = 2;
  small.random_mode = "fixed";
  const AttentionGraph ag = build_attention_graph(9, small);
  const int64_t ag_edges = ag.by_query->nnz();
  cases.push_back(make("spmm_tiles", {{ag_edges, 2}, {9, 4}},
                       [=](auto&, const auto& x) { return spmm(ag.by_query, x[0], x[1], ag.by_key, ag.tiles); }));
  cases.push_back(make("spmm_tiles_scatter", {{ag_edges, 2}, {9, 4}},
                       [=](auto&, const auto& x) { return spmm(ag.by_query, x[0], x[1], nullptr, ag.tiles); }));
  cases.push_back(make("sddmm_tiles", {{9, 4}, {9, 4}},
                       [=](auto&, const auto& x) { return sddmm(ag.by_query, x[0], x[1], 2, ag.by_key, ag.tiles); }));
  cases.push_back(make("sddmm_tiles_scatter", {{9, 4}, {9, 4}},
                       [=](auto&, const auto& x) { return sddmm(ag.by_query, x[0], x[1], 2, nullptr, ag.tiles); }));
  cases.push_back(make("edge_softmax", {{7, 3}}, [=](auto&, const auto& x) { return edge_softmax(graph, x[0]); }));
  // Diffuser attention on a fixed pattern: per-head scores -> softmax over each query's keys -> two hops.
  cases.push_back(make("sparse_attention_two_hops", {{4, 6}, {4, 6}, {4, 6}}, [=](auto&, const auto& x) {
    using T = scalar_of_t<decltype(x)>;
    auto a = edge_softmax(graph, sddmm(graph, x[0], x[1], 3));
    auto z = add(scale(spmm(graph, a, x[2]), T(0.9)), scale(x[2], T(0.1)));
    return add(scale(spmm(graph, a, z), T(0.9)), scale(x[2], T(0.1)));
  }));
  // The fused K-hop diffusion: plain pattern (scatter), transposed (gather), tiled; with hop dropout.
  const CounterRng hop_rng(11, RngPurpose::kTest, 5);
  cases.push_back(make("diffusion", {{7, 3}, {4, 6}}, [=](auto&, const auto& x) {
    return ppr_diffusion(graph, x[0], x[1], DiffusionHops{3, 0.1, 0.0}, hop_rng, true);
  }));
  cases.push_back(make("diffusion_transposed_dropout", {{7, 3}, {4, 6}}, [=](auto&, const auto& x) {
    return ppr_diffusion(graph, x[0], x[1], DiffusionHops{2, 0.2, 0.3}, hop_rng, true, graph_t);
  }));
  cases.push_back(make("diffusion_tiles", {{ag_edges, 2}, {9, 4}}, [=](auto&, const auto& x) {
    return ppr_diffusion(ag.by_query, x[0], x[1], DiffusionHops{3, 0.1, 0.0}, hop_rng, true, ag.by_key, ag.tiles);
  }));
  // Sequence parallelism's ops, in one process (a one-part split: no halo, but the global token's partial
  // row and shared column go through the same code; tests/dist/sequence_parallel_test.cpp checks 2 and 4
  // ranks against the unsplit model).
  static const LocalCommunicator one_rank;
  const auto share = share_sequence(ag, SequenceSplit::contiguous(9, 1), one_rank);
  const int64_t share_edges = share->pattern.by_query->nnz(), share_rows = share->layout->pattern_rows();
  cases.push_back(make("split_to_columns", {{9, 4}}, [=](auto&, const auto& x) { return split_to_columns(x[0], share->layout); }));
  cases.push_back(make("split_complete_rows", {{share_rows, 4}},
                       [=](auto&, const auto& x) { return split_complete_rows(x[0], share->layout); }));
  cases.push_back(make("split_edge_softmax", {{share_edges, 2}}, [=](auto&, const auto& x) {
    return split_edge_softmax(share->pattern.by_query, x[0], share->layout);
  }));
  cases.push_back(make("split_ppr_diffusion", {{share_edges, 2}, {9, 4}}, [=](auto&, const auto& x) {
    return split_ppr_diffusion(share->pattern.by_query, x[0], x[1], DiffusionHops{2, 0.2, 0.3}, hop_rng, true, share->layout,
                               share->owned_tokens, share->pattern.by_key, share->pattern.tiles);
  }));
  auto pool_target = std::make_shared<const std::vector<int32_t>>(std::vector<int32_t>{0, -1, 1, 0, 2});
  cases.push_back(make("sum_rows_over_ranks", {{5, 3}},
                       [=](auto&, const auto& x) { return sum_rows_over_ranks(x[0], pool_target, 3, one_rank); }));
  cases.push_back(make("split_diffuser_attention", {{9, 4}, {9, 4}, {9, 4}}, [=](auto&, const auto& x) {
    return split_diffuser_attention(*share, x[0], x[1], x[2], 2, DiffusionConfig{2, 0.2, 0.0, 0.3}, hop_rng, true);
  }));
  auto sequences = std::make_shared<const std::vector<int64_t>>(std::vector<int64_t>{0, 3, 5});
  cases.push_back(make("dense_attention", {{5, 4}, {5, 4}, {5, 6}}, [=](auto&, const auto& x) {
    return dense_attention(x[0], x[1], x[2], 2, sequences);
  }));

  // regularisation and normalisation
  const CounterRng dropout_rng(7, RngPurpose::kTest, 3);
  cases.push_back(make("dropout", {{6, 5}}, [=](auto&, const auto& x) { return dropout(x[0], 0.3, dropout_rng, true); }));
  auto some_rows = std::make_shared<const std::vector<int64_t>>(std::vector<int64_t>{4, 0, 9, 2});
  cases.push_back(make("dropout_rows", {{4, 5}}, [=](auto&, const auto& x) { return dropout(x[0], 0.3, dropout_rng, true, some_rows); }));
  for (bool training : {true, false}) {
    auto stats = std::make_shared<RunningStats>(4, 0.2, 1.7);
    cases.push_back(make(training ? "batch_norm_train" : "batch_norm_eval", {{6, 4}, {1, 4}, {1, 4}},
                         [=](auto&, const auto& x) {
                           using T = scalar_of_t<decltype(x)>;
                           return batch_norm(x[0], x[1], x[2], stats->template state<T>(), training);
                         }));
  }
  for (bool training : {true, false})
    for (bool relu_on : {true, false})
      for (double p : {0.0, 0.4}) {
        auto stats = std::make_shared<RunningStats>(4, -0.1, 0.8);
        const std::string name = fmt::format("batch_norm_act_{}_{}_p{}", training ? "train" : "eval",
                                             relu_on ? "relu" : "linear", p > 0 ? 4 : 0);
        auto c = make(name, {{7, 4}, {1, 4}, {1, 4}}, [=](auto&, const auto& x) {
          using T = scalar_of_t<decltype(x)>;
          BatchNormEpilogue ep;
          ep.relu = relu_on;
          ep.dropout = p;
          ep.dropout_rng = CounterRng(11, RngPurpose::kTest, 5);
          return batch_norm_act(x[0], x[1], x[2], stats->template state<T>(), training, ep);
        });
        // Keep the pre-activation away from the relu kink: beta pushed off zero is not enough when
        // training, so shift inputs per column by distinct offsets and rely on random data otherwise.
        c.prepare = [](auto& in) { away_from_zero(in, 0.1); };
        cases.push_back(c);
      }
  cases.push_back(make("layer_norm", {{5, 4}, {1, 4}, {1, 4}},
                       [](auto&, const auto& x) { return layer_norm(x[0], x[1], x[2]); }));

  // losses
  auto bin = labels_with_missing(5, 3, true);
  cases.push_back(make("bce_with_logits", {{5, 3}}, [=](auto&, const auto& x) {
    return bce_with_logits(x[0], typed<scalar_of_t<decltype(x)>>(bin), static_cast<double>(count_labelled(*bin)));
  }));
  auto reg = labels_with_missing(5, 2, false);
  cases.push_back(make("mse", {{5, 2}}, [=](auto&, const auto& x) { return mse(x[0], typed<scalar_of_t<decltype(x)>>(reg), 3.0); }));
  auto pos = std::make_shared<const std::vector<int64_t>>(std::vector<int64_t>{2, 3, 4});
  auto pos_same = std::make_shared<const std::vector<int64_t>>(std::vector<int64_t>{0, 1, 2});
  cases.push_back(make("info_nce", {{3, 4}, {6, 4}},
                       [=](auto&, const auto& x) { return info_nce(x[0], x[1], pos, 0.5, 3.0); }));
  cases.push_back(make("info_nce_negatives", {{3, 4}, {6, 4}}, [=](auto&, const auto& x) {
    return info_nce(x[0], x[1], pos, 0.5, 3.0, InfoNceDenominator::kNegatives);
  }));

  // Across ranks, in one process: gathering is the identity, InfoNCE over the gathered candidates.
  // (tests/dist/dist_test.cpp checks the same against a single-process oracle on 2 and 4 ranks.)
  auto local = std::make_shared<const LocalCommunicator>();
  cases.push_back(make("all_gather_rows_info_nce", {{3, 4}, {3, 4}}, [=](auto&, const auto& x) {
    return info_nce(x[0], all_gather_rows(x[1], *local), pos_same, 0.7, 3.0);
  }));

  // A GIN layer end to end, as the model composes it.
  auto gin_stats = std::make_shared<RunningStats>(6, 0.0, 1.0);
  auto seg2 = std::make_shared<const std::vector<int64_t>>(std::vector<int64_t>{0, 3, 4});
  cases.push_back(make("gin_layer", {{4, 3}, {7, 3}, {1, 1}, {3, 6}, {1, 6}, {1, 6}, {1, 6}, {6, 3}, {1, 3}},
                       [=](auto&, const auto& x) {
                         using T = scalar_of_t<decltype(x)>;
                         auto a = gin_aggregate(x[0], x[1], x[2], graph);
                         auto z = relu(batch_norm(linear(a, x[3], x[4]), x[5], x[6], gin_stats->template state<T>(), true));
                         return segment_mean(linear(z, x[7], x[8]), seg2);
                       }));
  return cases;
}

class GradCheck : public ::testing::TestWithParam<GradCheckCase> {};

TEST_P(GradCheck, MatchesCentralDifferences) {
  const GradCheckResult r = run_gradcheck(GetParam());
  RecordProperty("worst_error", fmt::format("{:.3g}", r.worst_error));  // margins, in --gtest_output=xml
  EXPECT_TRUE(r.ok) << GetParam().name << ": relative error " << r.worst_error << " at " << r.worst_where;
}

TEST_P(GradCheck, FloatMatchesDouble) {
  const GradCheckResult r = run_float_check(GetParam());
  RecordProperty("worst_error", fmt::format("{:.3g}", r.worst_error));  // margins, in --gtest_output=xml
  EXPECT_TRUE(r.ok) << GetParam().name << ": relative error " << r.worst_error << " at " << r.worst_where;
}

TEST_P(GradCheck, SecondOrderMatchesDifferencesOfGradients) {
  const GradCheckResult r = run_second_order_check(GetParam());
  RecordProperty("worst_error", fmt::format("{:.3g}", r.worst_error));  // margins, in --gtest_output=xml
  EXPECT_TRUE(r.ok) << GetParam().name << ": relative error " << r.worst_error << " at " << r.worst_where;
}

INSTANTIATE_TEST_SUITE_P(AllOps, GradCheck, ::testing::ValuesIn(all_cases()),
                         [](const auto& info) { return info.param.name; });

TEST(GradCheckSuite, OpCoverage) {
  std::set<OpKind> covered;
  for (const auto& c : all_cases())
    for (OpKind k : run_gradcheck(c).ops_used) covered.insert(k);
  for (int k = 1; k < static_cast<int>(OpKind::kCount); ++k)
    EXPECT_TRUE(covered.count(static_cast<OpKind>(k)))
        << "op '" << op_name(static_cast<OpKind>(k)) << "' has no gradient-check case in gradcheck_test.cpp";
}

// The harness itself must catch a wrong gradient: a deliberately broken op fails.
TEST(GradCheckSuite, DetectsAWrongGradient) {
  struct BrokenSquare final : Node<double> {
    Node<double>* x;
    explicit BrokenSquare(Node<double>* x_) : Node<double>(OpKind::kScale), x(x_) {}
    void backward() override { x->accumulate_grad(3.0 * x->value().cwiseProduct(grad())); }  // should be 2x
  };
  GradCheckCase c = make_double("broken", {{3, 3}}, [](Tape<double>& tape, const Inputs& x) {
    auto* n = tape.push<BrokenSquare>(x[0].node());
    n->mutable_value() = x[0].value().cwiseProduct(x[0].value());
    tape.set_requires_grad(n, {x[0]});
    return V(n, &tape);
  });
  EXPECT_FALSE(run_gradcheck(c).ok);
}

// ... and the second-order check must catch a backward that is right in value but not differentiable
// through: x^2 whose backward uses x as a constant (its tangent dropped) passes the first-order check.
template <typename T>
struct FrozenSquare final : Node<T> {
  Node<T>* x;
  explicit FrozenSquare(Node<T>* x_) : Node<T>(OpKind::kScale), x(x_) {}
  void backward() override {
    Mat<T> frozen = x->value();
    if constexpr (std::is_same_v<T, Dual<double>>)
      for (int64_t k = 0; k < frozen.size(); ++k) frozen.data()[k].d = 0.0;
    x->accumulate_grad(T(2.0) * frozen.cwiseProduct(this->grad()));
  }
};

TEST(GradCheckSuite, SecondOrderDetectsABackwardThatDropsTangents) {
  GradCheckCase c = make("frozen_square", {{3, 2}}, [](auto& tape, const auto& x) {
    using T = scalar_of_t<decltype(x)>;
    auto* n = tape.template push<FrozenSquare<T>>(x[0].node());
    n->mutable_value() = x[0].value().cwiseProduct(x[0].value());
    tape.set_requires_grad(n, {x[0]});
    return Var<T>(n, &tape);
  });
  EXPECT_TRUE(run_gradcheck(c).ok);
  EXPECT_TRUE(run_float_check(c).ok);
  EXPECT_FALSE(run_second_order_check(c).ok);
}

TEST(L2NormalizeRows, AZeroRowIsDividedByEpsAsInPyTorch) {
  // F.normalize divides by max(||x||, eps): a zero row stays zero and its gradient is g / eps.
  Tape<double> tape;
  MatD x(2, 3);
  x << 0, 0, 0, 3, 0, 4;
  Var<double> in = tape.input(x, /*requires_grad=*/true);
  Var<double> y = l2_normalize_rows(in, 0.5);
  EXPECT_EQ(y.value().row(0), MatD::Zero(1, 3));
  EXPECT_NEAR(y.value()(1, 2), 0.8, 1e-15);
  MatD w(2, 3);
  w << 1, 2, 3, 1, 1, 1;
  tape.backward(sum(mul(y, tape.input(w))));
  EXPECT_LT((in.grad().row(0) - w.row(0) / 0.5).cwiseAbs().maxCoeff(), 1e-15);
  // ||x|| = 5: (g - y (g . y)) / 5 with y = (0.6, 0, 0.8), g . y = 1.4.
  EXPECT_NEAR(in.grad()(1, 1), 1.0 / 5.0, 1e-15);
  EXPECT_NEAR(in.grad()(1, 0), (1 - 0.6 * 1.4) / 5.0, 1e-15);
}

TEST(Gelu, FloatFollowsTheExactErfFormAcrossItsRange) {
  // Float GELU uses a vectorised erf approximation; its value and derivative must stay within a few float
  // rounding steps of the exact x * Phi(x) (and Phi(x) + x * phi(x)) over the whole range, tails included,
  // and on a length that leaves a scalar remainder after the vector lanes.
  const int64_t n = 20001;
  MatD xd(1, n);
  for (int64_t k = 0; k < n; ++k) xd(0, k) = -12.0 + 24.0 * static_cast<double>(k) / static_cast<double>(n - 1);
  const MatF xf = xd.cast<float>();
  Tape<float> tape;
  Var<float> in = tape.input(xf, /*requires_grad=*/true);
  Var<float> y = gelu(in);
  tape.backward(sum(y));
  double worst_value = 0, worst_slope = 0;
  for (int64_t k = 0; k < n; ++k) {
    const double x = static_cast<double>(xf(0, k));
    const double phi_cdf = 0.5 * (1.0 + std::erf(x / std::sqrt(2.0)));
    const double pdf = std::exp(-0.5 * x * x) / std::sqrt(2.0 * std::numbers::pi);
    worst_value = std::max(worst_value, std::abs(y.value()(0, k) - x * phi_cdf) / std::max(1.0, std::abs(x)));
    worst_slope = std::max(worst_slope, std::abs(in.grad()(0, k) - (phi_cdf + x * pdf)));
  }
  EXPECT_LT(worst_value, 1e-6);
  EXPECT_LT(worst_slope, 1e-6);
  EXPECT_EQ(y.value()(0, n - 1), 12.0f);  // erf saturates: the positive tail is the identity
  EXPECT_EQ(y.value()(0, 0), 0.0f);      // and the negative tail is zero
}

}  // namespace
}  // namespace relfm
