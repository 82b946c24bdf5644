// MolGroup's router: the gate formula on fixed affinities, the official initialisation (a_task = 0, every
// auxiliary alike), Set2Set's one-step closed form, invariance to the order of a set, and gradients
// of a gate with respect to every router parameter against central differences (double).
#include "src/models/router.hpp"

#include "tests/src/models/gin_test_batch.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace relfm {
namespace {

RouterConfig small_config() {
  RouterConfig c;
  c.num_datasets = 3;
  c.fingerprint_bits = 10;
  c.dim = 4;
  return c;
}

double sigmoid_of(double x) { return 1.0 / (1.0 + std::exp(-x)); }

TEST(Router, GateFormulaOnFixedAffinities) {
  ParamStore<double> store;
  Router<double> router(store, small_config(), 1);
  Tape<double> tape;
  for (auto [task, structure] : std::vector<std::pair<double, double>>{{0.3, -0.5}, {0, 0}, {-1, 1}, {0.9, 0.8}}) {
    Var<double> g = router.gate_from_affinities(tape.input(MatD::Constant(1, 1, task)), tape.input(MatD::Constant(1, 1, structure)));
    EXPECT_NEAR(g.value()(0, 0), sigmoid_of((0.9 * task + 0.1 * structure) / 0.1), 1e-14) << task << " " << structure;
  }
}

TEST(Router, StartsWithZeroTaskAffinityAndIdenticalAuxiliaries) {
  ParamStore<double> store;
  Router<double> router(store, small_config(), 7);
  const MatD& e = store.get("gate.task_embeddings").value;
  EXPECT_NEAR(e.row(0).norm(), 1.0, 1e-12);
  EXPECT_EQ(e.row(1), e.row(2));
  Tape<double> tape;
  EXPECT_NEAR(router.task_affinity(tape, 1).value()(0, 0), 0.0, 1e-12);
  EXPECT_NEAR(router.task_affinity(tape, 2).value()(0, 0), 0.0, 1e-12);
  // Then g = sigmoid(lambda a_struct / tau) = sigmoid(a_struct): within [sigmoid(-1), sigmoid(1)].
  Var<double> s_t = router.structure_embedding(tape, 0, test::fixed_fingerprints(5, 10, 0));
  Var<double> g = router.gate(tape, 1, s_t, test::fixed_fingerprints(6, 10, 1));
  EXPECT_GE(g.value()(0, 0), sigmoid_of(-1.0));
  EXPECT_LE(g.value()(0, 0), sigmoid_of(1.0));
}

TEST(Router, OneSet2SetStepHasTheClosedFormOfAnLstmFromZeroState) {
  // From q* = 0 and (h, c) = 0 the LSTM sees only its biases b = b_ih + b_hh:
  // h = sigmoid(b_o) * tanh(sigmoid(b_i) * tanh(b_g)); the output is normalize([h, softmax(U h^T)^T U]).
  ParamStore<double> store;
  Router<double> router(store, small_config(), 3);
  const MatD fp = test::fixed_fingerprints(5, 10, 2);
  auto bias = [&](const char* gate) {
    const std::string p = fmt::format("gate.set2set.1.lstm.{}.", gate);
    return MatD(store.get(p + "bias_ih").value + store.get(p + "bias_hh").value);
  };
  const MatD bi = bias("input"), bg = bias("cell"), bo = bias("output");
  MatD h(1, 4);
  for (int j = 0; j < 4; ++j) h(0, j) = sigmoid_of(bo(0, j)) * std::tanh(sigmoid_of(bi(0, j)) * std::tanh(bg(0, j)));
  MatD u = fp * store.get("gate.structure_projection.weight").value;
  for (int64_t i = 0; i < u.rows(); ++i) u.row(i) /= u.row(i).norm();
  Eigen::VectorXd e = u * h.transpose();
  Eigen::VectorXd a = (e.array() - e.maxCoeff()).exp();
  a /= a.sum();
  MatD r = a.transpose() * u;
  MatD expected(1, 8);
  expected << h, r;
  expected /= expected.norm();
  Tape<double> tape;
  const MatD got = router.structure_embedding(tape, 1, fp).value();
  EXPECT_LT((got - expected).cwiseAbs().maxCoeff(), 1e-12) << got << "\n" << expected;
  // A set: the order of its molecules does not matter.
  MatD reversed = fp.colwise().reverse();
  EXPECT_LT((router.structure_embedding(tape, 1, reversed).value() - got).cwiseAbs().maxCoeff(), 1e-12);
}

TEST(Router, GateGradientsMatchCentralDifferences) {
  RouterConfig config = small_config();
  config.set2set_steps = 2;  // the recurrent path as well
  ParamStore<double> store;
  Router<double> router(store, config, 5);
  // Make the task embeddings differ, so a_task's gradient is not at its symmetric point.
  store.get("gate.task_embeddings").value(2, 1) += 0.3;
  const MatD fp_t = test::fixed_fingerprints(5, 10, 0), fp_k = test::fixed_fingerprints(4, 10, 3);
  auto gate_value = [&](Tape<double>& tape) {
    return router.gate(tape, 2, router.structure_embedding(tape, 0, fp_t), fp_k);
  };
  store.zero_grad();
  Tape<double> tape;
  tape.backward(gate_value(tape));
  int checked = 0;
  for (Parameter<double>* p : store.trainable()) {
    for (int64_t k = 0; k < p->value.size(); k += 3) {
      const double x = p->value.data()[k], step = 1e-6;
      p->value.data()[k] = x + step;
      Tape<double> t1;
      const double up = gate_value(t1).value()(0, 0);
      p->value.data()[k] = x - step;
      Tape<double> t2;
      const double down = gate_value(t2).value()(0, 0);
      p->value.data()[k] = x;
      const double fd = (up - down) / (2 * step);
      const double analytic = p->has_grad ? p->grad.data()[k] : 0.0;
      EXPECT_NEAR(analytic, fd, 1e-7 + 1e-5 * std::abs(fd)) << p->name << "[" << k << "]";
      ++checked;
    }
  }
  EXPECT_GT(checked, 100);
}

TEST(Router, RejectsBadSettingsAndSubBatches) {
  ParamStore<double> store;
  RouterConfig one = small_config();
  one.num_datasets = 1;
  EXPECT_THROW(Router<double>(store, one, 1), InputError);
  RouterConfig cold = small_config();
  cold.temperature = 0;
  EXPECT_THROW(Router<double>(store, cold, 1), InputError);
  Router<double> router(store, small_config(), 1);
  Tape<double> tape;
  EXPECT_THROW(router.structure_embedding(tape, 0, MatD(0, 10)), std::exception);
  EXPECT_THROW(router.structure_embedding(tape, 0, MatD::Zero(3, 9)), std::exception);
}

}  // namespace
}  // namespace relfm
