// Every trainable parameter's analytic gradient against central differences of a whole model's loss, in
// double: a few entries per tensor. Shared by the model tests (GIN, GraphCL's encoder).
#pragma once

#include "src/nn/param_store.hpp"
#include "src/tensor/tape.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>

namespace relfm::test {

// `loss(tape)` builds the loss on a fresh tape and returns its value; the store's gradients must already
// hold the analytic ones. `entry(p, s)` picks the s-th checked entry of p (default: spread over it).
// Returns the number of entries checked.
inline int check_parameter_gradients(ParamStore<double>& store, const std::function<double(Tape<double>&)>& loss,
                                     int per_tensor,
                                     const std::function<int64_t(const Parameter<double>&, int64_t)>& entry = {}) {
  int checked = 0;
  for (Parameter<double>* p : store.trainable()) {
    EXPECT_TRUE(p->has_grad) << p->name << " received no gradient";
    if (!p->has_grad) continue;
    const int64_t n = p->value.size(), count = std::min<int64_t>(n, per_tensor);
    for (int64_t s = 0; s < count; ++s) {
      const int64_t k = entry ? entry(*p, s) : s * (n / count);
      const double saved = p->value.data()[k], h = 1e-6;
      p->value.data()[k] = saved + h;
      Tape<double> t1;
      const double up = loss(t1);
      p->value.data()[k] = saved - h;
      Tape<double> t2;
      const double down = loss(t2);
      p->value.data()[k] = saved;
      const double numeric = (up - down) / (2 * h);
      EXPECT_NEAR(p->grad.data()[k], numeric, 1e-6 * std::max(1.0, std::abs(numeric))) << p->name << "[" << k << "]";
      ++checked;
    }
  }
  return checked;
}

}  // namespace relfm::test
