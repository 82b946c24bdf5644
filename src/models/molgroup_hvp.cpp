// h_k, the mixed second derivative of the auxiliary loss along v (molgroup.hpp): by differences of the
// gate gradients in float (central, forward), on the network with its relus frozen at theta_T when a
// pattern is given, or by forward-over-reverse on Dual<double>.
#include "src/models/molgroup.hpp"

#include <cmath>

namespace relfm {
namespace {

template <typename T>
double l2_norm(const std::map<std::string, Mat<T>>& direction) {
  double sq = 0;
  for (const auto& [name, v] : direction)
    for (int64_t k = 0; k < v.size(); ++k) sq += static_cast<double>(v.data()[k]) * static_cast<double>(v.data()[k]);
  return std::sqrt(sq);
}

// dL_aux/dg_k for every k at the store's current parameter values.
template <typename T>
std::vector<double> gate_gradients(const MetaGin<T>& model, const std::vector<SubBatch>& aux, const std::vector<double>& gates,
                                   const ForwardOptions& options, int64_t num_aux, ReluPattern* relus) {
  std::vector<Parameter<T>> leaves(gates.size());
  Tape<T> tape;
  if (relus) {
    relus->replay();
    tape.set_relu_pattern(relus);
  }
  std::vector<Var<T>> vars;
  for (size_t k = 0; k < gates.size(); ++k) {
    leaves[k].value = Mat<T>::Constant(1, 1, T(gates[k]));
    leaves[k].zero_grad();
    vars.push_back(tape.param(leaves[k]));
  }
  tape.backward(auxiliary_loss(tape, model, aux, vars, options, num_aux));
  RELFM_CHECK(!relus || relus->replayed_all(), "meta-gradient: the pass visited fewer relus than were recorded");
  std::vector<double> out;
  for (const auto& leaf : leaves) out.push_back(leaf.has_grad ? static_cast<double>(leaf.grad(0, 0)) : 0.0);
  return out;
}

// Marks every parameter of a store as not trainable for its lifetime, then restores the flags. The passes
// that need only the gates' gradients then skip every weight-gradient product (a third of a pass's GEMMs).
template <typename T>
class FrozenParameters {
 public:
  explicit FrozenParameters(const ParamStore<T>& store) {
    for (Parameter<T>* p : store.all()) {
      flags_.emplace_back(p, p->trainable);
      p->trainable = false;
    }
  }
  ~FrozenParameters() {
    for (auto& [p, flag] : flags_) p->trainable = flag;
  }
  FrozenParameters(const FrozenParameters&) = delete;
  FrozenParameters& operator=(const FrozenParameters&) = delete;

 private:
  std::vector<std::pair<Parameter<T>*, bool>> flags_;
};

}  // namespace

namespace {

// dL_aux/dg_k at theta_T + t_i eps v for every t_i (eps = epsilon / ||v||), parameters restored exactly
// afterwards; empty when v = 0 (then the meta-gradient is zero).
template <typename T>
std::vector<std::vector<double>> gate_gradients_along(ParamStore<T>& store, const MetaGin<T>& model, const std::vector<SubBatch>& aux,
                                                      const std::vector<double>& gates, const std::map<std::string, Mat<T>>& direction,
                                                      double epsilon, const std::vector<double>& ts, const ForwardOptions& options,
                                                      int64_t num_aux, ReluPattern* relus, double* eps_out) {
  const double norm = l2_norm(direction);
  if (!(norm > 0)) return {};
  const double eps = epsilon / norm;
  *eps_out = eps;
  std::vector<std::pair<Parameter<T>*, Mat<T>>> saved;
  for (const auto& [name, v] : direction) {
    Parameter<T>& p = store.get(name);
    RELFM_CHECK(v.rows() == p.value.rows() && v.cols() == p.value.cols(), "direction for '{}' has the wrong shape", name);
    saved.emplace_back(&p, p.value);
  }
  const FrozenParameters<T> frozen(store);  // only dL_aux/dg is needed from these passes
  std::vector<std::vector<double>> out;
  for (double t : ts) {
    for (auto& [p, value] : saved) p->value = value + T(t * eps) * direction.at(p->name);
    out.push_back(gate_gradients(model, aux, gates, options, num_aux, relus));
  }
  for (auto& [p, value] : saved) p->value = value;  // exactly the values before
  return out;
}

}  // namespace

template <typename T>
std::vector<double> gate_hvp_central(ParamStore<T>& store, const MetaGin<T>& model, const std::vector<SubBatch>& aux,
                                     const std::vector<double>& gates, const std::map<std::string, Mat<T>>& direction,
                                     double epsilon, const ForwardOptions& options, int64_t num_aux, ReluPattern* relus) {
  double eps = 0;
  const auto g = gate_gradients_along(store, model, aux, gates, direction, epsilon, {1.0, -1.0}, options, num_aux, relus, &eps);
  std::vector<double> h(gates.size(), 0.0);
  if (g.empty()) return h;
  for (size_t k = 0; k < h.size(); ++k) h[k] = (g[0][k] - g[1][k]) / (2 * eps);
  return h;
}

template <typename T>
std::vector<double> gate_hvp_forward(ParamStore<T>& store, const MetaGin<T>& model, const std::vector<SubBatch>& aux,
                                     const std::vector<double>& gates, const std::vector<double>& at_theta,
                                     const std::map<std::string, Mat<T>>& direction, double epsilon,
                                     const ForwardOptions& options, int64_t num_aux, ReluPattern* relus) {
  RELFM_CHECK(at_theta.size() == gates.size(), "forward difference: {} gate gradients for {} gates", at_theta.size(), gates.size());
  double eps = 0;
  const auto g = gate_gradients_along(store, model, aux, gates, direction, epsilon, {1.0}, options, num_aux, relus, &eps);
  std::vector<double> h(gates.size(), 0.0);
  if (g.empty()) return h;
  for (size_t k = 0; k < h.size(); ++k) h[k] = (g[0][k] - at_theta[k]) / eps;
  return h;
}

template <typename T>
std::vector<double> gate_hvp_dual(const ParamStore<T>& store, ParamStore<DualD>& dual_store, const MetaGin<DualD>& dual_model,
                                  const std::vector<SubBatch>& aux, const std::vector<double>& gates,
                                  const std::map<std::string, Mat<T>>& direction, const ForwardOptions& options,
                                  int64_t num_aux) {
  for (Parameter<DualD>* d : dual_store.all()) {
    const Parameter<T>& p = store.get(d->name);
    const auto it = direction.find(d->name);
    d->value.resize(p.value.rows(), p.value.cols());
    for (int64_t k = 0; k < p.value.size(); ++k)
      d->value.data()[k] = DualD(static_cast<double>(p.value.data()[k]),
                                 it == direction.end() ? 0.0 : static_cast<double>(it->second.data()[k]));
  }
  for (const auto& [name, v] : direction) RELFM_CHECK(dual_store.find(name) != nullptr, "no parameter '{}'", name);
  std::vector<Parameter<DualD>> leaves(gates.size());
  Tape<DualD> tape;
  std::vector<Var<DualD>> vars;
  for (size_t k = 0; k < gates.size(); ++k) {
    leaves[k].value = Mat<DualD>::Constant(1, 1, DualD(gates[k], 0.0));
    leaves[k].zero_grad();
    vars.push_back(tape.param(leaves[k]));
  }
  tape.backward(auxiliary_loss(tape, dual_model, aux, vars, options, num_aux));
  std::vector<double> h;
  for (const auto& leaf : leaves) h.push_back(leaf.has_grad ? leaf.grad(0, 0).d : 0.0);
  for (Parameter<DualD>* d : dual_store.all())
    for (int64_t k = 0; k < d->value.size(); ++k) d->value.data()[k].d = 0.0;
  return h;
}

#define RELFM_INSTANTIATE_HVP(T)                                                                                     \
  template std::vector<double> gate_hvp_central<T>(ParamStore<T>&, const MetaGin<T>&, const std::vector<SubBatch>&,   \
                                                   const std::vector<double>&, const std::map<std::string, Mat<T>>&,  \
                                                   double, const ForwardOptions&, int64_t, ReluPattern*);             \
  template std::vector<double> gate_hvp_forward<T>(ParamStore<T>&, const MetaGin<T>&, const std::vector<SubBatch>&,   \
                                                   const std::vector<double>&, const std::vector<double>&,            \
                                                   const std::map<std::string, Mat<T>>&, double, const ForwardOptions&, \
                                                   int64_t, ReluPattern*);                                            \
  template std::vector<double> gate_hvp_dual<T>(const ParamStore<T>&, ParamStore<DualD>&, const MetaGin<DualD>&,      \
                                                const std::vector<SubBatch>&, const std::vector<double>&,             \
                                                const std::map<std::string, Mat<T>>&, const ForwardOptions&, int64_t);

RELFM_INSTANTIATE_HVP(float)
RELFM_INSTANTIATE_HVP(double)

}  // namespace relfm
