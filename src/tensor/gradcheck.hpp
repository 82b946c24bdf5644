// Gradient checking for every op, at every scalar type the tape runs on.
//
// A case names its random inputs and one forward function, written once as a generic lambda and
// instantiated for double, float and Dual<double> (make_gradcheck_case). The harness reduces the output
// to the scalar sum(output * R) with a fixed random R, then checks:
//   run_gradcheck           the double gradient against central differences of the double loss;
//   run_float_check         the float loss and gradient against the double ones (what training runs);
//   run_second_order_check  forward over reverse: with inputs x + e v as Dual tangents, the tangent of
//                           the gradient (the Hessian-vector product H v) against the central
//                           difference of double gradients along v.
// It also reports which OpKinds the forward used, so a suite can prove that every op is covered.
#pragma once

#include "src/tensor/dual.hpp"
#include "src/tensor/ops.hpp"

#include <functional>
#include <string>
#include <vector>

namespace relfm {

template <typename T>
using GradCheckForward = std::function<Var<T>(Tape<T>&, const std::vector<Var<T>>&)>;

// The scalar type of a Var (or of a container of Vars), for constants inside generic forwards.
template <typename V>
struct scalar_of;
template <typename T>
struct scalar_of<Var<T>> {
  using type = T;
};
template <typename T>
struct scalar_of<std::vector<Var<T>>> {
  using type = T;
};
template <typename V>
using scalar_of_t = typename scalar_of<std::remove_cvref_t<V>>::type;

struct GradCheckCase {
  std::string name;
  std::vector<std::pair<int64_t, int64_t>> input_shapes;  // standard-normal random inputs
  // Optional: reshape the random inputs (e.g. push values away from a kink, make positives).
  std::function<void(std::vector<MatD>&)> prepare;
  GradCheckForward<double> forward;
  GradCheckForward<float> forward_float;           // empty: the case has no float check
  GradCheckForward<Dual<double>> forward_dual;     // empty: the case has no second-order check
  double step = 1e-6;
  double tolerance = 1e-6;  // |analytic - numeric| <= tolerance * max(1, |analytic|, |numeric|)
  double float_tolerance = 1e-5;         // |float - double| <= float_tolerance * max(1, |double|)
  double second_order_step = 1e-5;       // along the direction v (standard normal)
  double second_order_tolerance = 1e-6;  // as `tolerance`, for H v
};

// One generic forward `f(tape, inputs)` for all three scalar types.
template <typename F>
GradCheckCase make_gradcheck_case(std::string name, std::vector<std::pair<int64_t, int64_t>> shapes, F f) {
  GradCheckCase c;
  c.name = std::move(name);
  c.input_shapes = std::move(shapes);
  c.forward = f;
  c.forward_float = f;
  c.forward_dual = f;
  return c;
}

struct GradCheckResult {
  bool ok = true;
  double worst_error = 0.0;
  std::string worst_where;      // "input 1 element (3, 4): analytic .. numeric .."
  std::vector<OpKind> ops_used;  // distinct kinds on the tape
};

GradCheckResult run_gradcheck(const GradCheckCase& c, uint64_t seed = 1);
GradCheckResult run_float_check(const GradCheckCase& c, uint64_t seed = 1);
GradCheckResult run_second_order_check(const GradCheckCase& c, uint64_t seed = 1);

}  // namespace relfm
