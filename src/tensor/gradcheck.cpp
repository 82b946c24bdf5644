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

}  // namespace relfm
