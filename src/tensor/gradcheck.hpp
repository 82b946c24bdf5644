// Finite-difference gradient checking in double precision.
//
// A case names its random inputs and a forward function; the harness reduces the output to the scalar
// sum(output * R) with a fixed random R, differentiates it with the tape, and compares every input
// element's gradient against a central difference. It also reports which OpKinds the forward used,
// so a suite can prove that every op is covered.
#pragma once

#include "src/tensor/ops.hpp"

#include <functional>
#include <string>
#include <vector>

namespace relfm {

struct GradCheckCase {
  std::string name;
  std::vector<std::pair<int64_t, int64_t>> input_shapes;  // standard-normal random inputs
  // Optional: reshape the random inputs (e.g. push values away from a kink, make positives).
  std::function<void(std::vector<MatD>&)> prepare;
  std::function<Var<double>(Tape<double>&, const std::vector<Var<double>>&)> forward;
  double step = 1e-6;
  double tolerance = 1e-6;  // |analytic - numeric| <= tolerance * max(1, |analytic|, |numeric|)
};

struct GradCheckResult {
  bool ok = true;
  double worst_error = 0.0;
  std::string worst_where;      // "input 1 element (3, 4): analytic .. numeric .."
  std::vector<OpKind> ops_used;  // distinct kinds on the tape
};

GradCheckResult run_gradcheck(const GradCheckCase& c, uint64_t seed = 1);

}  // namespace relfm
