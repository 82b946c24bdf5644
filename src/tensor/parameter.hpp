// A named, persistent tensor: a trainable weight or a non-trainable buffer (e.g. BatchNorm running
// statistics). Names are stable and hierarchical ("gin.layers.2.mlp.0.weight"); checkpoints key on them.
#pragma once

#include "src/core/types.hpp"

#include <string>

namespace relfm {

template <typename T>
struct Parameter {
  std::string name;
  Mat<T> value;
  Mat<T> grad;            // same shape as value once has_grad is true
  bool has_grad = false;  // false means "grad is zero" without touching memory
  bool trainable = true;  // false for buffers: never in an optimiser, never all-reduced

  void zero_grad() { has_grad = false; }
  int64_t size() const { return value.size(); }
};

}  // namespace relfm
