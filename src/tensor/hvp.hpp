// Exact Hessian-vector products by forward-over-reverse differentiation.
//
// Build the model with scalar Dual<double> (every op, layer and model is instantiated for it), seed the
// tangent of some parameters theta with a direction v, and run forward and backward as usual: the value
// part of each gradient is the ordinary gradient, and its tangent part is
//     d/de grad_phi L(theta + e v) = (d^2 L / d phi d theta) v
// for every parameter phi, exactly (no finite-difference step). With phi = theta this is the Hessian-vector
// product; with phi the router parameters and theta the target model's weights it is MolGroup's
// meta-gradient term (research/molgroup.md §1.4), which its official code computes by double
// back-propagation.
#pragma once

#include "src/core/error.hpp"
#include "src/tensor/dual.hpp"
#include "src/tensor/parameter.hpp"
#include "src/tensor/tape.hpp"

#include <functional>
#include <map>
#include <string>

namespace relfm {

using DualD = Dual<double>;

struct SecondOrderResult {
  std::map<std::string, MatD> gradient;  // d L / d phi
  std::map<std::string, MatD> hvp;       // (d^2 L / d phi d theta) v
};

// Sets the tangents of the named parameters to `direction` (all others to zero), runs `loss` on a fresh
// tape, back-propagates, and returns the gradient and its directional derivative for every trainable
// parameter. Parameter values are left unchanged (their tangents are reset to zero afterwards).
//
// `Store` is any parameter collection with get(name), all(), trainable() and zero_grad() (nn::ParamStore
// is the usual one); a template so that src/tensor does not depend on src/nn.
template <typename Store>
SecondOrderResult directional_second_order(Store& store, const std::map<std::string, MatD>& direction,
                                           const std::function<Var<DualD>(Tape<DualD>&)>& loss) {
  // Every shape is checked before any tangent is written: a wrong-shaped direction must neither be read
  // out of bounds nor leave some parameters with stale tangents.
  for (const auto& [name, v] : direction) {
    const Parameter<DualD>& p = store.get(name);
    if (v.rows() != p.value.rows() || v.cols() != p.value.cols())
      fail("direction for '{}' is {}x{}, the parameter is {}x{}", name, v.rows(), v.cols(), p.value.rows(),
           p.value.cols());
  }
  for (Parameter<DualD>* p : store.all()) {
    auto it = direction.find(p->name);
    for (int64_t k = 0; k < p->value.size(); ++k) p->value.data()[k].d = it == direction.end() ? 0.0 : it->second.data()[k];
  }
  store.zero_grad();
  Tape<DualD> tape;
  tape.backward(loss(tape));
  SecondOrderResult out;
  for (Parameter<DualD>* p : store.trainable()) {
    if (p->has_grad) {
      out.gradient[p->name] = value_part(p->grad);
      out.hvp[p->name] = tangent_part(p->grad);
    }
    for (int64_t k = 0; k < p->value.size(); ++k) p->value.data()[k].d = 0.0;
  }
  return out;
}

}  // namespace relfm
