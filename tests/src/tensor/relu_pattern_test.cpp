// Frozen relu patterns (src/tensor/relu_pattern.hpp): a pass that records changes nothing; a pass that
// replays evaluates the network with its relus frozen, whose differences then converge to the gradient
// and the Hessian-vector product at the recorded point even with steps that cross kinks (the real
// network's do not: checked too, so the test shows that it would notice).
#include "src/tensor/gradcheck.hpp"

#include "tests/src/tensor/running_stats.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <type_traits>

namespace relfm {
namespace {

CsrPtr small_graph() {
  auto g = std::make_shared<Csr>();
  g->num_rows = g->num_cols = 4;
  g->row_ptr = {0, 3, 5, 7, 7};
  g->col = {1, 2, 0, 0, 3, 1, 3};
  return g;
}

// Running statistics per scalar type for batch_norm_act (frozen: the frozen forward is replayed).
struct Stats : testing::RunningStats {
  explicit Stats(int64_t cols) : RunningStats(cols, 0.0, 1.0, false) {}
};

// Every kind of relu site in one forward: both GIN aggregations, the batch norm's fused relu and relu().
// Inputs: h 4x3, e 7x3, eps 1x1, table 6x3, eps2 1x1, W 3x4, gamma 1x4, beta 1x4. With the batch norm
// in evaluation mode the frozen forward is a polynomial of low degree, so the differences below measure
// kink crossings and little else (training-mode statistics over 4 rows are curved enough to hide them).
auto every_relu_site(bool training = false) {
  const CsrPtr graph = small_graph();
  auto rows = std::make_shared<IndexMat>(7, 2);
  *rows << 0, 3, 1, 4, 2, 5, 0, 5, 1, 3, 2, 4, 0, 4;
  auto stats = std::make_shared<Stats>(4);
  return [=](auto&, const auto& x) {
    using T = scalar_of_t<decltype(x)>;
    auto a = gin_aggregate(x[0], x[1], x[2], graph);
    auto b = gin_aggregate_embedded(a, x[3], IndexMatPtr(rows), x[4], graph);
    BatchNormEpilogue relu_only;
    auto z = batch_norm_act(linear(b, x[5]), x[6], x[7], stats->template state<T>(), training, relu_only);
    return relu(scale(z, T(1), T(-0.3)));
  };
}
const std::vector<std::pair<int64_t, int64_t>> kShapes = {{4, 3}, {7, 3}, {1, 1}, {6, 3}, {1, 1}, {3, 4}, {1, 4}, {1, 4}};

// The case with every pass after the first replaying the pattern the first recorded (the harness's first
// pass is at the unperturbed inputs). A fresh pattern per case.
GradCheckCase frozen_case(const std::string& name, bool training = false) {
  auto pattern = std::make_shared<ReluPattern>();
  auto recorded = std::make_shared<bool>(false);
  auto f = every_relu_site(training);
  return make_gradcheck_case(name, kShapes, [=](auto& tape, const auto& x) {
    if (*recorded) pattern->replay();
    else pattern->record();
    tape.set_relu_pattern(pattern.get());
    auto out = f(tape, x);
    *recorded = true;
    EXPECT_TRUE(pattern->mode() == ReluPattern::Mode::kRecord || pattern->replayed_all());
    return out;
  });
}

// A step that moves several relu inputs across zero (checked below by the real network's failure).
// Measured worst errors at 0.03, real / frozen: differences of values 3.0e-2 / 4.8e-13, differences of
// gradients 1.84 / 4.7e-3 (the frozen forward's degree-4 terms); at 0.01 no input crosses here.
constexpr double kStep = 0.03;

TEST(ReluPattern, DifferencesOfTheFrozenNetworkConvergeAcrossKinks) {
  GradCheckCase real = make_gradcheck_case("relu_sites", kShapes, every_relu_site());
  GradCheckCase frozen = frozen_case("relu_sites");  // same name: the same random inputs and projection
  real.step = frozen.step = kStep;
  real.second_order_step = frozen.second_order_step = kStep;

  const GradCheckResult real_first = run_gradcheck(real), real_second = run_second_order_check(real);
  // The real network's differences jump with the kinks they cross.
  EXPECT_GT(real_first.worst_error, 1e-2) << real_first.worst_where;
  EXPECT_GT(real_second.worst_error, 0.5) << real_second.worst_where;

  // The frozen network is a polynomial: central differences of its values are exact for its quadratic
  // part, those of its gradients err by O(step^2).
  const GradCheckResult first = run_gradcheck(frozen);
  EXPECT_LT(first.worst_error, 1e-9) << first.worst_where;
  frozen = frozen_case("relu_sites");
  frozen.second_order_step = kStep;
  const GradCheckResult second = run_second_order_check(frozen);
  EXPECT_LT(second.worst_error, 1e-2) << second.worst_where;
  // And with a small step it is as exact as a smooth op.
  frozen = frozen_case("relu_sites");
  frozen.second_order_step = 1e-5;
  EXPECT_LT(run_second_order_check(frozen).worst_error, 1e-6);
}

// Value and gradient of sum(every_relu_site(x) * w) on a tape with the given pattern (null: none).
struct Pass {
  MatD value;
  std::vector<MatD> grad;
};
Pass run_pass(const std::vector<MatD>& inputs, ReluPattern* pattern) {
  auto f = every_relu_site(/*training=*/true);
  Tape<double> tape;
  tape.set_relu_pattern(pattern);
  std::vector<Var<double>> vars;
  for (const MatD& m : inputs) vars.push_back(tape.input(m, true));
  Var<double> out = f(tape, vars);
  tape.backward(sum(mul(out, tape.input(MatD::Constant(out.rows(), out.cols(), 0.7)))));
  Pass p{out.value(), {}};
  for (const auto& v : vars) p.grad.push_back(v.grad());
  return p;
}

std::vector<MatD> inputs_of(uint64_t seed) {
  const CounterRng rng(seed, RngPurpose::kTest, 77);
  std::vector<MatD> in;
  uint64_t index = 0;
  for (auto [r, c] : kShapes) {
    MatD m(r, c);
    for (int64_t k = 0; k < m.size(); ++k) m.data()[k] = rng.normal(index++);
    in.push_back(m);
  }
  return in;
}

TEST(ReluPattern, RecordingAndReplayingAtThePointChangeNothing) {
  const std::vector<MatD> x = inputs_of(3);
  const Pass plain = run_pass(x, nullptr);
  ReluPattern pattern;
  pattern.record();
  const Pass recorded = run_pass(x, &pattern);
  EXPECT_EQ(pattern.num_sites(), 4u);
  EXPECT_EQ(pattern.bytes(), static_cast<size_t>(7 * 3 + 7 * 3 + 4 * 4 + 4 * 4));
  pattern.replay();
  const Pass replayed = run_pass(x, &pattern);
  EXPECT_TRUE(pattern.replayed_all());
  for (const Pass* p : {&recorded, &replayed}) {
    EXPECT_EQ(p->value, plain.value);
    for (size_t i = 0; i < plain.grad.size(); ++i) EXPECT_EQ(p->grad[i], plain.grad[i]) << "input " << i;
  }
}

TEST(ReluPattern, ReplayingElsewhereKeepsThePiecesOfTheRecordedPoint) {
  // Recorded at x, replayed at -x: every relu passes what it passed at x, so the output of a bare relu
  // site is the negated input where x was positive, where the real network gives zero.
  const CounterRng rng(5, RngPurpose::kTest, 1);
  MatD x(3, 4);
  for (int64_t k = 0; k < x.size(); ++k) x.data()[k] = rng.normal(static_cast<uint64_t>(k));
  ReluPattern pattern;
  pattern.record();
  {
    Tape<double> tape;
    tape.set_relu_pattern(&pattern);
    relu(tape.input(x));
  }
  pattern.replay();
  Tape<double> tape;
  tape.set_relu_pattern(&pattern);
  Var<double> in = tape.input(MatD(-x), true);
  Var<double> y = relu(in);
  tape.backward(sum(y));
  for (int64_t k = 0; k < x.size(); ++k) {
    EXPECT_EQ(y.value().data()[k], x.data()[k] > 0 ? -x.data()[k] : 0.0);
    EXPECT_EQ(in.grad().data()[k], x.data()[k] > 0 ? 1.0 : 0.0);
  }
}

TEST(ReluPattern, AReplayThatDoesNotFollowTheRecordingFails) {
  ReluPattern pattern;
  pattern.record();
  {
    Tape<double> tape;
    tape.set_relu_pattern(&pattern);
    relu(tape.input(MatD::Ones(2, 3)));
  }
  pattern.replay();
  Tape<double> tape;
  tape.set_relu_pattern(&pattern);
  EXPECT_THROW(relu(tape.input(MatD::Ones(3, 3))), Error);  // another size
  pattern.replay();
  relu(tape.input(MatD::Ones(2, 3)));
  EXPECT_THROW(relu(tape.input(MatD::Ones(2, 3))), Error);  // more sites than recorded
}

}  // namespace
}  // namespace relfm
