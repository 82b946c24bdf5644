// MetaGIN (research/molgroup.md §1.2): a gate of 1 is data set k's branch alone and a gate of 0 the target's
// layers under decoder k; the batch-norm rule (only branch k's running statistics move); gradients with
// respect to the gate and to both branches' parameters against central differences (double, dropout on).
#include "src/models/metagin.hpp"
#include "tests/src/models/gin_test_batch.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace relfm {
namespace {

GraphBatch tiny_batch() {
  return test::four_molecule_batch({"CC(=O)Oc1ccccc1C(=O)O", "C[C@@H](N)C(=O)O", "C=CC#N", "c1ccncc1"});
}

ForwardOptions training(bool update = false) {
  ForwardOptions fo;
  fo.training = true;
  fo.dropout_rng = CounterRng(3, RngPurpose::kDropout, 1);
  fo.update_running_stats = update;
  return fo;
}

double max_abs_diff(const MatD& a, const MatD& b) { return (a - b).cwiseAbs().maxCoeff(); }

TEST(MetaGin, GateOneIsTheAuxiliaryBranchAndGateZeroTheTargetLayersUnderTheAuxiliaryHead) {
  const GraphBatch batch = tiny_batch();
  ParamStore<double> store;
  MetaGin<double> model(store, test::tiny_gin_config(), {1, 2, 3}, 5);
  Tape<double> tape;
  const MatD alone = model.branch(2).forward(tape, batch, training()).value();
  const MatD gate_one = model.forward(tape, 2, batch, tape.input(MatD::Ones(1, 1)), training()).value();
  EXPECT_EQ(gate_one.cols(), 3);
  EXPECT_LT(max_abs_diff(gate_one, alone), 1e-14);
  const Gin<double>& target = model.branch(0);
  const MatD through_target =
      model.branch(2).head(tape, target.pool(target.node_embeddings(tape, batch, training()), batch)).value();
  const MatD gate_zero = model.forward(tape, 2, batch, tape.input(MatD::Zero(1, 1)), training()).value();
  EXPECT_LT(max_abs_diff(gate_zero, through_target), 1e-14);
  // In between, the output is not an interpolation of the two (the mixing happens inside every layer),
  // but it differs from both.
  const MatD half = model.forward(tape, 2, batch, tape.input(MatD::Constant(1, 1, 0.5)), training()).value();
  EXPECT_GT(max_abs_diff(half, alone), 1e-6);
  EXPECT_GT(max_abs_diff(half, gate_zero), 1e-6);
}

TEST(MetaGin, AnAuxiliaryBatchMovesOnlyItsOwnBranchRunningStatistics) {
  const GraphBatch batch = tiny_batch();
  ParamStore<double> store;
  MetaGin<double> model(store, test::tiny_gin_config(), {1, 1}, 5);
  std::map<std::string, MatD> before;
  for (Parameter<double>* p : store.all())
    if (p->name.find("running") != std::string::npos) before[p->name] = p->value;
  ASSERT_FALSE(before.empty());
  Tape<double> tape;
  model.forward(tape, 1, batch, tape.input(MatD::Constant(1, 1, 0.3)), training(/*update=*/true));
  int moved = 0;
  for (const auto& [name, value] : before) {
    const bool changed = store.get(name).value != value;
    if (name.rfind(MetaGin<double>::prefix(0) + ".", 0) == 0) {
      EXPECT_FALSE(changed) << name;
    } else {
      EXPECT_TRUE(changed) << name;
      ++moved;
    }
  }
  EXPECT_GT(moved, 0);
}

TEST(MetaGin, GradientsOfTheGateAndBothBranchesMatchCentralDifferences) {
  const GraphBatch batch = tiny_batch();
  ParamStore<double> store;
  MetaGin<double> model(store, test::tiny_gin_config(), {1, 1}, 5);
  Parameter<double> gate;
  gate.name = "gate";
  gate.value = MatD::Constant(1, 1, 0.35);
  const ConstMatPtr<double> labels = std::make_shared<const MatD>(batch.labels->cast<double>().leftCols(1));
  auto loss = [&](Tape<double>& tape) {
    return bce_with_logits(model.forward(tape, 1, batch, tape.param(gate), training()), labels,
                           static_cast<double>(count_labelled(*labels)));
  };
  store.zero_grad();
  gate.zero_grad();
  Tape<double> tape;
  tape.backward(loss(tape));
  std::vector<Parameter<double>*> params = store.trainable();
  params.push_back(&gate);
  int checked = 0;
  for (Parameter<double>* p : params) {
    ASSERT_TRUE(p->has_grad || p->name.find("datasets.0.head") == 0) << p->name << " received no gradient";
    const int64_t n = p->value.size();
    for (int64_t s = 0; s < std::min<int64_t>(n, 4); ++s) {
      int64_t k = s * (n / std::min<int64_t>(n, 4));
      if (p->name.find("encoder") != std::string::npos) k = (5 + s % 2) * p->value.cols() + s;  // carbon/nitrogen rows
      const double saved = p->value.data()[k], h = 1e-6;
      p->value.data()[k] = saved + h;
      Tape<double> t1;
      const double up = loss(t1).value()(0, 0);
      p->value.data()[k] = saved - h;
      Tape<double> t2;
      const double down = loss(t2).value()(0, 0);
      p->value.data()[k] = saved;
      const double numeric = (up - down) / (2 * h), analytic = p->has_grad ? p->grad.data()[k] : 0.0;
      EXPECT_NEAR(analytic, numeric, 1e-6 * std::max(1.0, std::abs(numeric))) << p->name << "[" << k << "]";
      ++checked;
    }
  }
  EXPECT_GT(checked, 60);
  EXPECT_NE(gate.grad(0, 0), 0.0);
}

}  // namespace
}  // namespace relfm
