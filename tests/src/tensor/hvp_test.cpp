// Forward-over-reverse second derivatives against central differences of first derivatives: for a
// small closed-form function and for the whole GIN (the mixed product MolGroup's meta-gradient needs).
#include "src/tensor/hvp.hpp"

#include "src/models/gin.hpp"
#include "src/nn/param_store.hpp"
#include "tests/src/models/gin_test_batch.hpp"
#include "src/tensor/ops.hpp"

#include <gtest/gtest.h>

namespace relfm {
namespace {

TEST(Dual, ArithmeticAndFunctionsCarryDerivatives) {
  const DualD x(0.7, 1.0);
  const DualD y = exp(x) * sqrt(x) / (DualD(1.0) + tanh(x)) + erf(x) - log1p(x * x);
  const auto f = [](double t) { return std::exp(t) * std::sqrt(t) / (1 + std::tanh(t)) + std::erf(t) - std::log1p(t * t); };
  const double h = 1e-6;
  EXPECT_NEAR(y.v, f(0.7), 1e-15);
  EXPECT_NEAR(y.d, (f(0.7 + h) - f(0.7 - h)) / (2 * h), 1e-8);
  EXPECT_TRUE(DualD(1.0, 5.0) < DualD(2.0, -5.0));
}

TEST(SecondOrder, HessianVectorProductOfAClosedFormLoss) {
  // L(W) = sum(tanh(X W)^2): the exact H v against differences of the analytic gradient.
  const MatD x = (MatD(3, 2) << 0.3, -1.2, 0.8, 0.5, -0.4, 0.9).finished();
  const MatD w0 = (MatD(2, 2) << 0.2, -0.7, 1.1, 0.4).finished();
  const MatD v = (MatD(2, 2) << 0.5, 0.1, -0.3, 0.8).finished();
  ParamStore<DualD> store;
  store.add("w", w0.cast<DualD>());
  auto loss = [&](Tape<DualD>& t) {
    Var<DualD> y = tanh(matmul(t.input(x.cast<DualD>()), t.param(store.get("w"))));
    return sum(mul(y, y));
  };
  const SecondOrderResult r = directional_second_order(store, {{"w", v}}, loss);
  auto grad_at = [&](const MatD& w) {
    ParamStore<double> s;
    Parameter<double>& p = s.add("w", w);
    Tape<double> t;
    Var<double> y = tanh(matmul(t.input(x), t.param(p)));
    t.backward(sum(mul(y, y)));
    return MatD(p.grad);
  };
  const double h = 1e-6;
  const MatD numeric = (grad_at(w0 + h * v) - grad_at(w0 - h * v)) / (2 * h);
  EXPECT_LT((r.hvp.at("w") - numeric).cwiseAbs().maxCoeff(), 1e-7);
  EXPECT_LT((r.gradient.at("w") - grad_at(w0)).cwiseAbs().maxCoeff(), 1e-14);
  EXPECT_EQ(tangent_part(store.get("w").value), MatD::Zero(2, 2));  // tangents are reset
}

TEST(SecondOrder, AWrongShapedDirectionIsRefusedBeforeAnyTangentIsSet) {
  // A 1x1 direction for a 2x3 parameter: reading it element by element would run past its end.
  ParamStore<DualD> store;
  store.add("a", MatD::Ones(1, 2).cast<DualD>());
  store.add("w", MatD::Ones(2, 3).cast<DualD>());
  bool ran = false;
  auto loss = [&](Tape<DualD>& t) {
    ran = true;
    return sum(t.param(store.get("w")));
  };
  const MatD right = MatD::Constant(1, 2, 7.0);
  EXPECT_THROW(directional_second_order(store, {{"a", right}, {"w", MatD::Ones(1, 1)}}, loss), Error);
  EXPECT_THROW(directional_second_order(store, {{"w", MatD::Ones(3, 2)}}, loss), Error);
  EXPECT_THROW(directional_second_order(store, {{"missing", MatD::Ones(1, 1)}}, loss), Error);
  EXPECT_FALSE(ran);
  EXPECT_EQ(tangent_part(store.get("a").value), MatD::Zero(1, 2));  // the valid entry was not applied either
}

GraphBatch batch() {
  return test::four_molecule_batch({"CC(=O)Oc1ccccc1C(=O)O", "C[C@@H](N)C(=O)O", "C=CC#N", "OCC1OC(O)C(O)C1O"});
}

template <typename T>
Var<T> gin_loss(const Gin<T>& model, const GraphBatch& b, Tape<T>& tape) {
  ForwardOptions fo;
  fo.training = true;
  fo.dropout_rng = CounterRng(4, RngPurpose::kDropout, 2);
  fo.update_running_stats = false;
  const ConstMatPtr<T> labels = std::make_shared<const Mat<T>>(b.labels->template cast<T>());
  return bce_with_logits(model.forward(tape, b, fo), labels, static_cast<double>(count_labelled(*b.labels)));
}

TEST(SecondOrder, MixedProductThroughTheWholeGin) {
  const GinConfig c = test::tiny_gin_config();
  const GraphBatch b = batch();
  ParamStore<DualD> dual_store;
  Gin<DualD> dual_model(dual_store, c, 9);
  // theta: the first layer's MLP weight; phi: everything (the head, the other layer, the embeddings).
  const std::string theta = "gin.layers.0.mlp.0.linear.weight";
  const MatD theta0 = value_part(dual_store.get(theta).value);
  MatD v(theta0.rows(), theta0.cols());
  const CounterRng rng(1, RngPurpose::kTest);
  for (int64_t k = 0; k < v.size(); ++k) v.data()[k] = rng.normal(static_cast<uint64_t>(k));
  const SecondOrderResult r =
      directional_second_order(dual_store, {{theta, v}}, [&](Tape<DualD>& t) { return gin_loss(dual_model, b, t); });

  auto gradients_at = [&](double step) {
    ParamStore<double> store;
    Gin<double> model(store, c, 9);  // the same initial values: initialisation is keyed by name
    store.get(theta).value = theta0 + step * v;
    Tape<double> t;
    t.backward(gin_loss(model, b, t));
    std::map<std::string, MatD> g;
    for (Parameter<double>* p : store.trainable()) g[p->name] = p->grad;
    return g;
  };
  const double h = 1e-5;
  const auto up = gradients_at(h), down = gradients_at(-h), at = gradients_at(0);
  int compared = 0;
  for (const auto& [name, hv] : r.hvp) {
    const MatD numeric = (up.at(name) - down.at(name)) / (2 * h);
    const double scale = std::max(1.0, numeric.cwiseAbs().maxCoeff());
    EXPECT_LT((hv - numeric).cwiseAbs().maxCoeff(), 2e-6 * scale) << name;
    EXPECT_LT((r.gradient.at(name) - at.at(name)).cwiseAbs().maxCoeff(), 1e-12) << name;
    ++compared;
  }
  EXPECT_GE(compared, 15);
  EXPECT_GT(r.hvp.at("gin.head.weight").cwiseAbs().maxCoeff(), 1e-6);  // a real, non-zero mixed term
}

}  // namespace
}  // namespace relfm
