// Optimisers against independent double-precision transcriptions of PyTorch's update rules.
#include "src/nn/optim.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace relfm {
namespace {

struct Fixture {
  ParamStore<double> store;
  Parameter<double>* w;
  Parameter<double>* frozen;
  Fixture() {
    MatD init(2, 2);
    init << 0.5, -1.0, 2.0, 0.25;
    w = &store.add("w", init);
    frozen = &store.add("buffer", MatD::Ones(1, 2), false);
  }
  void set_grad(int step) {
    w->grad = MatD(2, 2);
    w->grad << 0.1 * step, -0.3, 1.0 / (step + 1), 2.0;
    w->has_grad = true;
  }
};

TEST(Adam, MatchesPyTorchRuleOverSeveralSteps) {
  for (bool decoupled : {false, true}) {
    Fixture f;
    OptimizerConfig c;
    c.name = decoupled ? "adamw" : "adam";
    c.lr = 0.01;
    c.weight_decay = 0.1;
    auto opt = make_optimizer(f.store, c);
    MatD ref = f.w->value, m = MatD::Zero(2, 2), v = MatD::Zero(2, 2);
    for (int t = 1; t <= 5; ++t) {
      f.set_grad(t);
      MatD g = f.w->grad;
      if (decoupled) ref *= 1.0 - c.lr * c.weight_decay;
      else g += c.weight_decay * ref;
      m = c.beta1 * m + (1 - c.beta1) * g;
      v = c.beta2 * v + (1 - c.beta2) * g.cwiseProduct(g);
      const double bc1 = 1 - std::pow(c.beta1, t), bc2 = 1 - std::pow(c.beta2, t);
      for (int k = 0; k < 4; ++k)
        ref.data()[k] -= c.lr / bc1 * m.data()[k] / (std::sqrt(v.data()[k]) / std::sqrt(bc2) + c.eps);
      opt->step();
      EXPECT_LT((f.w->value - ref).cwiseAbs().maxCoeff(), 1e-14) << c.name << " step " << t;
    }
    EXPECT_EQ(opt->steps(), 5);
    EXPECT_EQ(f.frozen->value, MatD::Ones(1, 2));  // buffers are never optimised
    EXPECT_EQ(opt->state().size(), 2u);            // exp_avg, exp_avg_sq of the one trainable tensor
  }
}

TEST(Adam, SkipsParametersWithoutGradient) {
  Fixture f;
  auto opt = make_optimizer(f.store, OptimizerConfig{});
  const MatD before = f.w->value;
  opt->step();
  EXPECT_EQ(f.w->value, before);
}

TEST(Sgd, MomentumAndNesterovFollowPyTorch) {
  for (bool nesterov : {false, true}) {
    Fixture f;
    OptimizerConfig c;
    c.name = "sgd";
    c.lr = 0.1;
    c.momentum = 0.9;
    c.nesterov = nesterov;
    auto opt = make_optimizer(f.store, c);
    MatD ref = f.w->value, buf;
    for (int t = 1; t <= 4; ++t) {
      f.set_grad(t);
      const MatD g = f.w->grad;
      buf = t == 1 ? g : MatD(c.momentum * buf + g);
      ref -= c.lr * (nesterov ? MatD(g + c.momentum * buf) : buf);
      opt->step();
      EXPECT_LT((f.w->value - ref).cwiseAbs().maxCoeff(), 1e-14);
    }
  }
}

TEST(Optimizer, BadNameOrRateIsInputError) {
  Fixture f;
  OptimizerConfig c;
  c.name = "adagrad";
  EXPECT_THROW(make_optimizer(f.store, c), InputError);
  c.name = "adam";
  c.lr = 0;
  EXPECT_THROW(make_optimizer(f.store, c), InputError);
}

}  // namespace
}  // namespace relfm
