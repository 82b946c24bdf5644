#include "src/tensor/gradcheck.hpp"

#include <algorithm>
#include <cmath>
#include <set>

namespace relfm {
namespace {

std::vector<MatD> random_inputs(const GradCheckCase& c, uint64_t seed) {
  const CounterRng rng(seed, RngPurpose::kTest, hash_string(c.name));
  std::vector<MatD> inputs;
  uint64_t index = 0;
  for (auto [r, k] : c.input_shapes) {
    MatD m(r, k);
    for (int64_t i = 0; i < m.size(); ++i) m.data()[i] = rng.normal(index++);
    inputs.push_back(std::move(m));
  }
  if (c.prepare) c.prepare(inputs);
  return inputs;
}

}  // namespace

GradCheckResult run_gradcheck(const GradCheckCase& c, uint64_t seed) {
  GradCheckResult result;
  std::vector<MatD> inputs = random_inputs(c, seed);
  const CounterRng weight_rng(seed, RngPurpose::kTest, hash_string(c.name) ^ 0x5eedULL);

  MatD weights;  // fixed random projection of the output to a scalar
  auto evaluate = [&](Tape<double>& tape, std::vector<Var<double>>& vars, bool record) -> Var<double> {
    vars.clear();
    for (const MatD& m : inputs) vars.push_back(tape.input(m, record));
    Var<double> out = c.forward(tape, vars);
    if (weights.size() == 0) {
      weights.resize(out.rows(), out.cols());
      for (int64_t i = 0; i < weights.size(); ++i) weights.data()[i] = weight_rng.normal(i);
    }
    return sum(mul(out, tape.input(weights)));
  };

  Tape<double> tape;
  std::vector<Var<double>> vars;
  Var<double> loss = evaluate(tape, vars, true);
  tape.backward(loss);
  std::set<OpKind> kinds;
  for (OpKind k : tape.op_kinds()) kinds.insert(k);
  result.ops_used.assign(kinds.begin(), kinds.end());

  std::vector<MatD> analytic;
  for (size_t i = 0; i < vars.size(); ++i)
    analytic.push_back(vars[i].has_grad() ? vars[i].grad() : MatD::Zero(inputs[i].rows(), inputs[i].cols()));

  for (size_t i = 0; i < inputs.size(); ++i) {
    for (int64_t k = 0; k < inputs[i].size(); ++k) {
      const double saved = inputs[i].data()[k];
      auto value_at = [&](double x) {
        inputs[i].data()[k] = x;
        Tape<double> t;
        std::vector<Var<double>> v;
        return evaluate(t, v, false).value()(0, 0);
      };
      const double numeric = (value_at(saved + c.step) - value_at(saved - c.step)) / (2.0 * c.step);
      inputs[i].data()[k] = saved;
      const double a = analytic[i].data()[k];
      const double err = std::abs(a - numeric) / std::max({1.0, std::abs(a), std::abs(numeric)});
      if (err > result.worst_error) {
        result.worst_error = err;
        result.worst_where = fmt::format("input {} element ({}, {}): analytic {:.10g} numeric {:.10g}", i,
                                         k / inputs[i].cols(), k % inputs[i].cols(), a, numeric);
      }
    }
  }
  result.ok = result.worst_error <= c.tolerance;
  return result;
}

namespace {

// The double loss sum(out * R) and its gradient with respect to every input at `inputs`.
struct DoubleRun {
  double loss = 0.0;
  std::vector<MatD> grad;
};
DoubleRun double_run(const GradCheckCase& c, const std::vector<MatD>& inputs, const MatD& weights) {
  Tape<double> tape;
  std::vector<Var<double>> vars;
  for (const MatD& m : inputs) vars.push_back(tape.input(m, true));
  Var<double> out = c.forward(tape, vars);
  Var<double> loss = sum(mul(out, tape.input(weights)));
  tape.backward(loss);
  DoubleRun r;
  r.loss = loss.value()(0, 0);
  for (size_t i = 0; i < vars.size(); ++i)
    r.grad.push_back(vars[i].has_grad() ? MatD(vars[i].grad()) : MatD::Zero(inputs[i].rows(), inputs[i].cols()));
  return r;
}

// R, the fixed projection to a scalar: the same one run_gradcheck draws, shaped by a recording-off run.
MatD projection(const GradCheckCase& c, const std::vector<MatD>& inputs, uint64_t seed) {
  Tape<double> tape;
  tape.set_grad_enabled(false);
  std::vector<Var<double>> vars;
  for (const MatD& m : inputs) vars.push_back(tape.input(m));
  Var<double> out = c.forward(tape, vars);
  const CounterRng weight_rng(seed, RngPurpose::kTest, hash_string(c.name) ^ 0x5eedULL);
  MatD weights(out.rows(), out.cols());
  for (int64_t i = 0; i < weights.size(); ++i) weights.data()[i] = weight_rng.normal(i);
  return weights;
}

void record(GradCheckResult& result, double err, const std::string& where) {
  if (err > result.worst_error || (std::isnan(err) && !std::isnan(result.worst_error))) {
    result.worst_error = err;
    result.worst_where = where;
  }
}

}  // namespace

GradCheckResult run_float_check(const GradCheckCase& c, uint64_t seed) {
  RELFM_CHECK(static_cast<bool>(c.forward_float), "case '{}' has no float forward", c.name);
  GradCheckResult result;
  const std::vector<MatD> inputs = random_inputs(c, seed);
  const MatD weights = projection(c, inputs, seed);
  const DoubleRun reference = double_run(c, inputs, weights);

  Tape<float> tape;
  std::vector<Var<float>> vars;
  for (const MatD& m : inputs) vars.push_back(tape.input(m.cast<float>(), true));
  Var<float> loss = sum(mul(c.forward_float(tape, vars), tape.input(MatF(weights.cast<float>()))));
  tape.backward(loss);
  const double lf = loss.value()(0, 0);
  record(result, std::abs(lf - reference.loss) / std::max(1.0, std::abs(reference.loss)),
         fmt::format("loss: float {:.8g} double {:.10g}", lf, reference.loss));
  for (size_t i = 0; i < vars.size(); ++i) {
    const MatD g = vars[i].has_grad() ? MatD(vars[i].grad().cast<double>()) : MatD::Zero(inputs[i].rows(), inputs[i].cols());
    for (int64_t k = 0; k < g.size(); ++k) {
      const double d = reference.grad[i].data()[k];
      record(result, std::abs(g.data()[k] - d) / std::max(1.0, std::abs(d)),
             fmt::format("input {} element ({}, {}): float {:.8g} double {:.10g}", i, k / g.cols(), k % g.cols(),
                         g.data()[k], d));
    }
  }
  result.ok = result.worst_error <= c.float_tolerance;
  return result;
}

GradCheckResult run_second_order_check(const GradCheckCase& c, uint64_t seed) {
  RELFM_CHECK(static_cast<bool>(c.forward_dual), "case '{}' has no Dual forward", c.name);
  GradCheckResult result;
  const std::vector<MatD> inputs = random_inputs(c, seed);
  const MatD weights = projection(c, inputs, seed);
  // The direction: standard normal, from a stream of its own.
  const CounterRng direction_rng(seed, RngPurpose::kTest, hash_string(c.name) ^ 0xd1ec7ULL);
  std::vector<MatD> direction;
  uint64_t index = 0;
  for (const MatD& m : inputs) {
    MatD v(m.rows(), m.cols());
    for (int64_t k = 0; k < v.size(); ++k) v.data()[k] = direction_rng.normal(index++);
    direction.push_back(std::move(v));
  }

  Tape<Dual<double>> tape;
  std::vector<Var<Dual<double>>> vars;
  for (size_t i = 0; i < inputs.size(); ++i) {
    Mat<Dual<double>> m(inputs[i].rows(), inputs[i].cols());
    for (int64_t k = 0; k < m.size(); ++k) m.data()[k] = Dual<double>(inputs[i].data()[k], direction[i].data()[k]);
    vars.push_back(tape.input(std::move(m), true));
  }
  Var<Dual<double>> loss = sum(mul(c.forward_dual(tape, vars), tape.input(Mat<Dual<double>>(weights.cast<Dual<double>>()))));
  tape.backward(loss);

  const double h = c.second_order_step;
  auto shifted = [&](double sign) {
    std::vector<MatD> x = inputs;
    for (size_t i = 0; i < x.size(); ++i) x[i] += sign * h * direction[i];
    return double_run(c, x, weights).grad;
  };
  const std::vector<MatD> plus = shifted(1.0), minus = shifted(-1.0);
  for (size_t i = 0; i < vars.size(); ++i) {
    const MatD hv = vars[i].has_grad() ? tangent_part(vars[i].grad()) : MatD::Zero(inputs[i].rows(), inputs[i].cols());
    for (int64_t k = 0; k < hv.size(); ++k) {
      const double numeric = (plus[i].data()[k] - minus[i].data()[k]) / (2.0 * h);
      const double a = hv.data()[k];
      record(result, std::abs(a - numeric) / std::max({1.0, std::abs(a), std::abs(numeric)}),
             fmt::format("input {} element ({}, {}): Hv {:.10g} difference of gradients {:.10g}", i, k / hv.cols(),
                         k % hv.cols(), a, numeric));
    }
  }
  result.ok = result.worst_error <= c.second_order_tolerance;
  return result;
}

}  // namespace relfm
