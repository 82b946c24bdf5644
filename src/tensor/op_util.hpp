// Shared by the ops_*.cpp files (not part of the public op API).
#pragma once

#include "src/tensor/tape.hpp"

#include <initializer_list>

namespace relfm::detail {

// Completes an op: the node requires a gradient when recording is on and any input requires one.
template <typename T>
Var<T> finish(Tape<T>* tape, Node<T>* node, std::initializer_list<Var<T>> inputs) {
  tape->set_requires_grad(node, inputs);
  return Var<T>(node, tape);
}

}  // namespace relfm::detail
