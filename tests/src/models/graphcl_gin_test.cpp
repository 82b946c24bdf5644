// GraphCL's encoder in double: every parameter's gradient of the contrastive loss between two augmented
// views (normalised projections, InfoNCE with tau 0.2) against central differences; the collated batch's
// structure; the embedding's layout; bad configurations.
#include "src/models/graphcl_gin.hpp"

#include "src/core/error.hpp"
#include "src/tensor/ops.hpp"
#include "tests/src/models/parameter_gradients.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace relfm {
namespace {

GraphView small_graph(int n, int shift) {
  std::vector<VertexId> src, dst;
  for (int v = 0; v < n; ++v) {
    const int u = (v + 1 + shift % 2) % n;
    src.push_back(v), dst.push_back(u);
    src.push_back(u), dst.push_back(v);
  }
  GraphView g;
  g.adjacency = Csr::from_pairs(n, n, src, dst);
  g.features.resize(n, 3);
  for (int v = 0; v < n; ++v) g.features.row(v) << 1.0f, static_cast<float>((v + shift) % 3) * 0.5f, static_cast<float>(v % 2);
  return g;
}

double contrastive_loss(const GraphClGin<double>& model, const FeatureGraphBatch& a, const FeatureGraphBatch& b,
                        Tape<double>& tape, Var<double>* out = nullptr) {
  Var<double> za = l2_normalize_rows(model.project(tape, model.embed(tape, a, true, false)));
  Var<double> zb = l2_normalize_rows(model.project(tape, model.embed(tape, b, true, false)));
  auto positive = std::make_shared<std::vector<int64_t>>();
  for (int64_t i = 0; i < a.num_graphs; ++i) positive->push_back(i);
  Var<double> loss = info_nce(za, zb, positive, 0.2, static_cast<double>(a.num_graphs));
  if (out) *out = loss;
  return loss.value()(0, 0);
}

// GraphCL's loss_cal on normalised rows: -mean_i log(exp(s_ii / T) / (sum_j exp(s_ij / T) - exp(s_ii / T))).
TEST(GraphClGin, NegativesOnlyInfoNceIsGraphClsLossCal) {
  Mat<double> a(4, 3), b(4, 3);
  a << 1, 0.5, -0.2, 0.3, 0.9, 0.1, -0.4, 0.2, 0.8, 0.6, -0.6, 0.3;
  b << 0.9, 0.4, -0.1, 0.2, 1.0, 0.0, -0.5, 0.1, 0.9, 0.5, -0.5, 0.4;
  a.rowwise().normalize();
  b.rowwise().normalize();
  double expected = 0;
  for (int i = 0; i < 4; ++i) {
    double all = 0;
    for (int j = 0; j < 4; ++j) all += std::exp(a.row(i).dot(b.row(j)) / 0.2);
    const double pos = std::exp(a.row(i).dot(b.row(i)) / 0.2);
    expected -= std::log(pos / (all - pos)) / 4;
  }
  Tape<double> tape;
  auto positive = std::make_shared<std::vector<int64_t>>(std::vector<int64_t>{0, 1, 2, 3});
  const Var<double> loss = info_nce(tape.input(a), tape.input(b), positive, 0.2, 4.0, InfoNceDenominator::kNegatives);
  EXPECT_NEAR(loss.value()(0, 0), expected, 1e-12);
  // The SimCLR form keeps the positive in the denominator: a larger denominator, a larger loss.
  const Var<double> with_positive = info_nce(tape.input(a), tape.input(b), positive, 0.2, 4.0);
  EXPECT_GT(with_positive.value()(0, 0), loss.value()(0, 0));
}

TEST(GraphClGin, EveryParameterGradientMatchesCentralDifferences) {
  std::vector<GraphView> graphs, views;
  for (int i = 0; i < 5; ++i) graphs.push_back(small_graph(5 + i, i));
  for (int i = 0; i < 5; ++i) views.push_back(drop_nodes(graphs[i], 0.2, CounterRng(i, RngPurpose::kTest)));
  const FeatureGraphBatch a = collate_views(graphs), b = collate_views(views);
  a.adjacency->validate();
  b.adjacency->validate();
  ParamStore<double> store;
  GraphClConfig config;
  config.in_features = 3;
  config.hidden = 4;
  GraphClGin<double> model(store, config, 7);
  Tape<double> tape;
  Var<double> loss;
  contrastive_loss(model, a, b, tape, &loss);
  store.zero_grad();
  tape.backward(loss);
  const int checked =
      test::check_parameter_gradients(store, [&](Tape<double>& t) { return contrastive_loss(model, a, b, t); }, 4);
  EXPECT_GE(checked, 40);
}

TEST(GraphClGin, CollatedBatchAndEmbeddingLayout) {
  const std::vector<GraphView> graphs = {small_graph(3, 0), small_graph(4, 1)};
  const FeatureGraphBatch batch = collate_views(graphs);
  EXPECT_EQ(batch.num_graphs, 2);
  EXPECT_EQ(*batch.graph_offsets, (std::vector<int64_t>{0, 3, 7}));
  batch.adjacency->validate();
  EXPECT_EQ(batch.adjacency->nnz(), graphs[0].adjacency.nnz() + graphs[1].adjacency.nnz());
  for (int64_t v = 3; v < 7; ++v)
    for (int64_t e = batch.adjacency->row_begin(v); e < batch.adjacency->row_end(v); ++e) EXPECT_GE(batch.adjacency->col[e], 3);
  ParamStore<float> store;
  GraphClConfig config;
  config.in_features = 3;
  GraphClGin<float> model(store, config, 1);
  Tape<float> tape;
  Var<float> emb = model.embed(tape, batch, false);
  EXPECT_EQ(emb.rows(), 2);
  EXPECT_EQ(emb.cols(), 96);  // 3 layers x hidden 32, GraphCL's default
  EXPECT_EQ(model.project(tape, emb).cols(), 96);
}

TEST(GraphClGin, BadInputs) {
  ParamStore<float> store;
  GraphClConfig config;
  config.hidden = 0;
  EXPECT_THROW(GraphClGin<float>(store, config, 1), InputError);
  config = {};
  config.in_features = 5;
  GraphClGin<float> model(store, config, 1);
  Tape<float> tape;
  EXPECT_THROW(model.embed(tape, collate_views({small_graph(3, 0)}), false), InputError);
  EXPECT_THROW(collate_views({}), InputError);
}

}  // namespace
}  // namespace relfm
