// Batch-norm running statistics at each scalar type, so that one generic forward (the gradient checks'
// cases) can build its BatchNormState whatever T it is instantiated with.
#pragma once

#include "src/tensor/dual.hpp"
#include "src/tensor/ops.hpp"

#include <type_traits>

namespace relfm::testing {

struct RunningStats {
  Parameter<float> mean_f, var_f;
  Parameter<double> mean_d, var_d;
  Parameter<Dual<double>> mean_x, var_x;
  bool update = true;  // BatchNormState::update_running_stats
  RunningStats(int64_t cols, double mean, double var, bool update_running_stats = true) : update(update_running_stats) {
    mean_d.value = MatD::Constant(1, cols, mean);
    var_d.value = MatD::Constant(1, cols, var);
    mean_f.value = mean_d.value.cast<float>();
    var_f.value = var_d.value.cast<float>();
    mean_x.value = mean_d.value.cast<Dual<double>>();
    var_x.value = var_d.value.cast<Dual<double>>();
  }
  template <typename T>
  BatchNormState<T> state() {
    if constexpr (std::is_same_v<T, float>) return {&mean_f, &var_f, 0.1, 1e-5, update};
    else if constexpr (std::is_same_v<T, double>) return {&mean_d, &var_d, 0.1, 1e-5, update};
    else return {&mean_x, &var_x, 0.1, 1e-5, update};
  }
};

}  // namespace relfm::testing
