// GIN end to end in double precision: every parameter's gradient (through embeddings, fused message
// passing, fused batch norm with relu and dropout, pooling and the masked loss) against central
// differences; determinism; the stable parameter names checkpoints rely on.
#include "src/models/gin.hpp"
#include "tests/src/models/gin_test_batch.hpp"
#include "tests/src/models/parameter_gradients.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace relfm {
namespace {

GraphBatch tiny_batch() {
  return test::four_molecule_batch({"CC(=O)Oc1ccccc1C(=O)O", "C[C@@H](N)C(=O)O", "C=CC#N", "[Na+].[Cl-]"});
}

double loss_of(const Gin<double>& model, const GraphBatch& batch, Tape<double>& tape, Var<double>* out = nullptr) {
  ForwardOptions fo;
  fo.training = true;
  fo.dropout_rng = CounterRng(3, RngPurpose::kDropout, 1);
  fo.update_running_stats = false;
  const ConstMatPtr<double> labels = std::make_shared<const MatD>(batch.labels->cast<double>());
  Var<double> loss = bce_with_logits(model.forward(tape, batch, fo), labels, static_cast<double>(count_labelled(*labels)));
  if (out) *out = loss;
  return loss.value()(0, 0);
}

TEST(Gin, EveryParameterGradientMatchesCentralDifferences) {
  const GraphBatch batch = tiny_batch();
  ParamStore<double> store;
  Gin<double> model(store, test::tiny_gin_config(), 5);
  Tape<double> tape;
  Var<double> loss;
  loss_of(model, batch, tape, &loss);
  store.zero_grad();
  tape.backward(loss);
  // Up to 6 entries per tensor, spread over it; embedding tables: the rows actually used.
  const int checked = test::check_parameter_gradients(
      store, [&](Tape<double>& t) { return loss_of(model, batch, t); }, 6,
      [](const Parameter<double>& p, int64_t s) {
        const int64_t n = p.value.size();
        if (p.name.find("encoder") != std::string::npos) return (5 + s % 2) * p.value.cols() + s;  // carbon/nitrogen rows
        return s * (n / std::min<int64_t>(n, 6));
      });
  EXPECT_GT(checked, 40);
}

TEST(Gin, DeterministicPerSeedAndStableNames) {
  const GraphBatch batch = tiny_batch();
  ParamStore<float> a, b, c;
  Gin<float> ma(a, test::tiny_gin_config(), 1), mb(b, test::tiny_gin_config(), 1), mc(c, test::tiny_gin_config(), 2);
  ForwardOptions fo;
  fo.training = true;
  Tape<float> ta, tb, tc;
  const MatF ya = ma.forward(ta, batch, fo).value(), yb = mb.forward(tb, batch, fo).value(), yc = mc.forward(tc, batch, fo).value();
  EXPECT_EQ(ya, yb);
  EXPECT_NE(ya, yc);
  for (const char* name : {"gin.atom_encoder.weight", "gin.layers.0.bond_encoder.weight", "gin.layers.1.eps",
                           "gin.layers.0.mlp.0.linear.weight", "gin.layers.0.mlp.0.norm.running_mean",
                           "gin.layers.1.mlp.1.linear.bias", "gin.layers.1.norm.running_var", "gin.head.weight"})
    EXPECT_NE(a.find(name), nullptr) << name;
  EXPECT_EQ(a.get("gin.layers.0.mlp.0.linear.weight").value.rows(), 4);
  EXPECT_EQ(a.get("gin.layers.0.mlp.0.linear.weight").value.cols(), 8);
}

TEST(Gin, EvalModeIsDeterministicAndIgnoresDropout) {
  const GraphBatch batch = tiny_batch();
  ParamStore<float> store;
  Gin<float> model(store, test::tiny_gin_config(), 1);
  ForwardOptions fo;
  fo.training = false;
  fo.dropout_rng = CounterRng(1, RngPurpose::kDropout, 1);
  Tape<float> t1, t2;
  const MatF y1 = model.forward(t1, batch, fo).value();
  fo.dropout_rng = CounterRng(1, RngPurpose::kDropout, 2);
  EXPECT_EQ(y1, model.forward(t2, batch, fo).value());
}


TEST(Gin, InferenceKeepsOneLayerOfActivationsAndGivesTheSameOutput) {
  const GraphBatch batch = tiny_batch();
  ParamStore<float> store;
  GinConfig config = test::tiny_gin_config();
  config.num_layers = 4;
  Gin<float> model(store, config, 1);
  ForwardOptions fo;
  fo.training = false;
  Tape<float> recorded, inference;
  Var<float> before = inference.input(MatF::Constant(1, 1, 7.0f));  // the caller's node survives
  inference.set_grad_enabled(false);
  const MatF y_recorded = model.forward(recorded, batch, fo).value();
  const MatF y_inference = model.forward(inference, batch, fo).value();
  EXPECT_EQ(y_recorded, y_inference);
  // Recorded: every layer's nodes. Inference: the caller's leaf, the last layer's output as a leaf,
  // and pooling + head.
  EXPECT_LT(inference.size(), recorded.size() / 3) << recorded.size();
  EXPECT_EQ(before.value()(0, 0), 7.0f);
  Tape<float> recording;
  EXPECT_THROW(recording.compact_since(0, recording.input(MatF::Zero(1, 1))), Error);
}
TEST(Gin, MatmulFlopCountMatchesTheLayerShapes) {
  ParamStore<float> store;
  GinConfig c = test::tiny_gin_config();
  c.hidden = 300;
  c.num_layers = 5;
  c.num_tasks = 12;
  Gin<float> model(store, c, 0);
  const double per_layer_forward = 2.0 * 1000 * 300 * 600 + 2.0 * 1000 * 600 * 300;
  const double head_forward = 2.0 * 64 * 300 * 12;
  EXPECT_DOUBLE_EQ(model.training_matmul_flops(1000, 64), 3.0 * (5 * per_layer_forward + head_forward));
}

TEST(Gin, RejectsBadConfiguration) {
  ParamStore<float> store;
  GinConfig c = test::tiny_gin_config();
  c.num_layers = 0;
  EXPECT_THROW(Gin<float>(store, c, 0), InputError);
  c = test::tiny_gin_config();
  c.dropout = 1.0;
  EXPECT_THROW(Gin<float>(store, c, 0), InputError);
}

}  // namespace
}  // namespace relfm
