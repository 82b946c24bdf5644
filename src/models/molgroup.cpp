#include "src/models/molgroup.hpp"

#include <cmath>
#include <memory>
#include <type_traits>

namespace relfm {
namespace {

template <typename T>
ConstMatPtr<T> labels_as(const GraphBatch& batch) {
  if constexpr (std::is_same_v<T, float>)
    return batch.labels;
  else
    return std::make_shared<const Mat<T>>(batch.labels->template cast<T>());
}

template <typename T>
bool is_target_parameter(const Parameter<T>& p) {
  static const std::string prefix = MetaGin<T>::prefix(0) + ".";
  // The target's decoder is not part of the virtual step (the official code steps the GNN only).
  return p.trainable && p.name.rfind(prefix, 0) == 0 && p.name.rfind(prefix + "head", 0) != 0;
}

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
                                   const ForwardOptions& options) {
  std::vector<Parameter<T>> leaves(gates.size());
  Tape<T> tape;
  std::vector<Var<T>> vars;
  for (size_t k = 0; k < gates.size(); ++k) {
    leaves[k].value = Mat<T>::Constant(1, 1, T(gates[k]));
    leaves[k].zero_grad();
    vars.push_back(tape.param(leaves[k]));
  }
  tape.backward(auxiliary_loss(tape, model, aux, vars, options));
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

MetaGradientMethod parse_meta_gradient_method(std::string_view name) {
  if (name == "dual") return MetaGradientMethod::kDual;
  if (name == "central") return MetaGradientMethod::kCentral;
  fail_input("unknown meta-gradient method '{}' (choices: dual, central)", name);
}

std::string_view meta_gradient_method_name(MetaGradientMethod method) {
  return method == MetaGradientMethod::kDual ? "dual" : "central";
}

template <typename T>
Var<T> sub_batch_loss(Tape<T>& tape, const MetaGin<T>& model, const SubBatch& b, Var<T> gate, const ForwardOptions& options) {
  RELFM_CHECK(b.batch != nullptr, "sub-batch of data set {} without a batch", b.dataset);
  const ConstMatPtr<T> labels = labels_as<T>(*b.batch);
  const int64_t labelled = count_labelled(*labels);
  if (labelled == 0)
    fail_input("molgroup: the sub-batch of data set {} has no labelled molecule ({} molecules)", b.dataset,
               labels->rows());
  Var<T> out = model.forward(tape, b.dataset, *b.batch, gate, options);
  const double n = static_cast<double>(labelled);
  return b.regression ? mse(out, labels, n) : bce_with_logits(out, labels, n);
}

template <typename T>
Var<T> auxiliary_loss(Tape<T>& tape, const MetaGin<T>& model, const std::vector<SubBatch>& aux,
                      const std::vector<Var<T>>& gates, const ForwardOptions& options) {
  RELFM_CHECK(!aux.empty() && aux.size() == gates.size(), "{} auxiliary sub-batches, {} gates", aux.size(), gates.size());
  Var<T> total;
  for (size_t k = 0; k < aux.size(); ++k) {
    ForwardOptions o = options;
    o.dropout_rng = options.dropout_rng.derive(static_cast<uint64_t>(aux[k].dataset));
    Var<T> l = sub_batch_loss(tape, model, aux[k], gates[k], o);
    total = total ? add(total, l) : l;
  }
  return scale(total, T(1.0 / static_cast<double>(aux.size())));
}

template <typename T>
std::vector<Parameter<T>*> target_parameters(const ParamStore<T>& store) {
  std::vector<Parameter<T>*> out;
  for (Parameter<T>* p : store.all())
    if (is_target_parameter(*p)) out.push_back(p);
  return out;
}

template <typename T>
std::vector<double> gate_hvp_central(ParamStore<T>& store, const MetaGin<T>& model, const std::vector<SubBatch>& aux,
                                     const std::vector<double>& gates, const std::map<std::string, Mat<T>>& direction,
                                     double epsilon, const ForwardOptions& options) {
  const double norm = l2_norm(direction);
  if (!(norm > 0)) return std::vector<double>(gates.size(), 0.0);  // v = 0: the meta-gradient is zero
  const double eps = epsilon / norm;
  std::vector<std::pair<Parameter<T>*, Mat<T>>> saved;
  for (const auto& [name, v] : direction) {
    Parameter<T>& p = store.get(name);
    RELFM_CHECK(v.rows() == p.value.rows() && v.cols() == p.value.cols(), "direction for '{}' has the wrong shape", name);
    saved.emplace_back(&p, p.value);
  }
  auto move_to = [&](double t) {
    for (auto& [p, value] : saved) p->value = value + T(t) * direction.at(p->name);
  };
  const FrozenParameters<T> frozen(store);  // only dL_aux/dg is needed from these passes
  move_to(eps);
  const std::vector<double> up = gate_gradients(model, aux, gates, options);
  move_to(-eps);
  const std::vector<double> down = gate_gradients(model, aux, gates, options);
  for (auto& [p, value] : saved) p->value = value;  // exactly the values before
  std::vector<double> h(gates.size());
  for (size_t k = 0; k < h.size(); ++k) h[k] = (up[k] - down[k]) / (2 * eps);
  return h;
}

template <typename T>
std::vector<double> gate_hvp_dual(const ParamStore<T>& store, ParamStore<DualD>& dual_store, const MetaGin<DualD>& dual_model,
                                  const std::vector<SubBatch>& aux, const std::vector<double>& gates,
                                  const std::map<std::string, Mat<T>>& direction, const ForwardOptions& options) {
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
  tape.backward(auxiliary_loss(tape, dual_model, aux, vars, options));
  std::vector<double> h;
  for (const auto& leaf : leaves) h.push_back(leaf.has_grad ? leaf.grad(0, 0).d : 0.0);
  for (Parameter<DualD>* d : dual_store.all())
    for (int64_t k = 0; k < d->value.size(); ++k) d->value.data()[k].d = 0.0;
  return h;
}

ForwardOptions target_options(const ForwardOptions& options) {
  ForwardOptions o = options;
  o.dropout_rng = options.dropout_rng.derive(0x7a7a);  // the target sub-batch's own masks
  return o;
}

ForwardOptions virtual_target_options(const ForwardOptions& options) {
  ForwardOptions o = options;
  o.dropout_rng = options.dropout_rng.derive(0x7a7b);  // the virtual pass draws its own masks
  o.update_running_stats = false;                       // and must not move the target's statistics twice
  return o;
}

namespace {

template <typename T>
std::map<std::string, Mat<T>> take_gradients(const ParamStore<T>& store) {
  std::map<std::string, Mat<T>> out;
  for (Parameter<T>* p : store.trainable())
    if (p->has_grad) out[p->name] = p->grad;
  return out;
}

}  // namespace

template <typename T>
MetaStepResult molgroup_meta_step(ParamStore<T>& gin_store, const MetaGin<T>& gin, ParamStore<T>& router_store,
                                  const Router<T>& router, const MetaStepInputs<T>& inputs, const MetaStepConfig& config,
                                  const ForwardOptions& options, ParamStore<DualD>* dual_store,
                                  const MetaGin<DualD>* dual_model) {
  const size_t m = inputs.aux.size();
  RELFM_CHECK(m > 0 && inputs.aux_fingerprints.size() == m && inputs.target_fingerprints != nullptr,
              "meta step: {} auxiliary sub-batches, {} fingerprint blocks", m, inputs.aux_fingerprints.size());
  RELFM_CHECK(config.method != MetaGradientMethod::kDual || (dual_store && dual_model), "meta step: dual needs a Dual model");
  MetaStepResult result;

  // (a) gates; the router's tape is kept for the seeded backward of (c).
  Tape<T> router_tape;
  Var<T> s_target = router.structure_embedding(router_tape, inputs.target.dataset, *inputs.target_fingerprints);
  std::vector<Var<T>> gate_vars;
  for (size_t k = 0; k < m; ++k) {
    gate_vars.push_back(router.gate(router_tape, inputs.aux[k].dataset, s_target, *inputs.aux_fingerprints[k]));
    const double g = static_cast<double>(gate_vars.back().value()(0, 0));
    if (!std::isfinite(g)) fail_input("molgroup: the gate of data set {} is {} (non-finite)", inputs.aux[k].dataset, g);
    result.gates.push_back(g);
  }
  gin_store.zero_grad();
  std::map<std::string, Mat<T>> grad_aux;
  {
    Tape<T> tape;
    std::vector<Var<T>> fixed;
    for (double g : result.gates) fixed.push_back(tape.input(Mat<T>::Constant(1, 1, T(g))));
    Var<T> l_aux = auxiliary_loss(tape, gin, inputs.aux, fixed, options);
    result.aux_loss = static_cast<double>(l_aux.value()(0, 0));
    tape.backward(l_aux);
    grad_aux = take_gradients(gin_store);
  }
  gin_store.zero_grad();
  std::map<std::string, Mat<T>> grad_target;
  {
    Tape<T> tape;
    Var<T> l0 = sub_batch_loss(tape, gin, inputs.target, Var<T>(), target_options(options));
    result.target_loss = static_cast<double>(l0.value()(0, 0));
    tape.backward(l0);
    grad_target = take_gradients(gin_store);
  }

  // (b) the virtual step of the target's parameters, and v at the stepped values.
  std::vector<std::pair<Parameter<T>*, Mat<T>>> saved;
  for (Parameter<T>* p : target_parameters(gin_store)) {
    saved.emplace_back(p, p->value);
    if (auto it = grad_aux.find(p->name); it != grad_aux.end()) p->value -= T(config.virtual_lr) * it->second;
  }
  std::map<std::string, Mat<T>> v;
  {
    const ForwardOptions o = virtual_target_options(options);
    gin_store.zero_grad();
    Tape<T> tape;
    Var<T> meta = sub_batch_loss(tape, gin, inputs.target, Var<T>(), o);
    result.meta_loss = static_cast<double>(meta.value()(0, 0));
    tape.backward(meta);
    for (auto& [p, value] : saved)
      v[p->name] = p->has_grad ? p->grad : Mat<T>::Zero(p->value.rows(), p->value.cols());
  }
  for (auto& [p, value] : saved) p->value = value;

  // (c) h_k at theta_T (gates fixed), then the router's meta-gradient.
  ForwardOptions hvp_options = options;
  hvp_options.update_running_stats = false;  // the extra passes must not move running statistics again
  result.hvp = config.method == MetaGradientMethod::kDual
                   ? gate_hvp_dual(gin_store, *dual_store, *dual_model, inputs.aux, result.gates, v, hvp_options)
                   : gate_hvp_central(gin_store, gin, inputs.aux, result.gates, v, config.central_epsilon, hvp_options);
  router_store.zero_grad();
  Var<T> seeded;
  for (size_t k = 0; k < m; ++k) {
    Var<T> term = scale(gate_vars[k], T(-config.virtual_lr * config.gate_grad_scale * result.hvp[k]));
    seeded = seeded ? add(seeded, term) : term;
  }
  router_tape.backward(seeded);

  // (d) the real gradient: (dL_0 + M dL_aux) / (1 + M).
  gin_store.zero_grad();
  const T w_target = T(1.0 / static_cast<double>(1 + m)), w_aux = T(static_cast<double>(m) / static_cast<double>(1 + m));
  for (Parameter<T>* p : gin_store.trainable()) {
    const auto t = grad_target.find(p->name), a = grad_aux.find(p->name);
    if (t == grad_target.end() && a == grad_aux.end()) continue;
    p->grad = Mat<T>::Zero(p->value.rows(), p->value.cols());
    if (t != grad_target.end()) p->grad += w_target * t->second;
    if (a != grad_aux.end()) p->grad += w_aux * a->second;
    p->has_grad = true;
  }
  return result;
}

#define RELFM_INSTANTIATE_MOLGROUP(T)                                                                               \
  template Var<T> sub_batch_loss<T>(Tape<T>&, const MetaGin<T>&, const SubBatch&, Var<T>, const ForwardOptions&);   \
  template Var<T> auxiliary_loss<T>(Tape<T>&, const MetaGin<T>&, const std::vector<SubBatch>&,                      \
                                    const std::vector<Var<T>>&, const ForwardOptions&);                              \
  template std::vector<Parameter<T>*> target_parameters<T>(const ParamStore<T>&);

RELFM_INSTANTIATE_MOLGROUP(float)
RELFM_INSTANTIATE_MOLGROUP(double)
RELFM_INSTANTIATE_MOLGROUP(DualD)

#define RELFM_INSTANTIATE_HVP(T)                                                                                     \
  template std::vector<double> gate_hvp_central<T>(ParamStore<T>&, const MetaGin<T>&, const std::vector<SubBatch>&,   \
                                                   const std::vector<double>&, const std::map<std::string, Mat<T>>&,  \
                                                   double, const ForwardOptions&);                                    \
  template std::vector<double> gate_hvp_dual<T>(const ParamStore<T>&, ParamStore<DualD>&, const MetaGin<DualD>&,      \
                                                const std::vector<SubBatch>&, const std::vector<double>&,             \
                                                const std::map<std::string, Mat<T>>&, const ForwardOptions&);

RELFM_INSTANTIATE_HVP(float)
RELFM_INSTANTIATE_HVP(double)

template MetaStepResult molgroup_meta_step<float>(ParamStore<float>&, const MetaGin<float>&, ParamStore<float>&,
                                                  const Router<float>&, const MetaStepInputs<float>&,
                                                  const MetaStepConfig&, const ForwardOptions&, ParamStore<DualD>*,
                                                  const MetaGin<DualD>*);
template MetaStepResult molgroup_meta_step<double>(ParamStore<double>&, const MetaGin<double>&, ParamStore<double>&,
                                                   const Router<double>&, const MetaStepInputs<double>&,
                                                   const MetaStepConfig&, const ForwardOptions&, ParamStore<DualD>*,
                                                   const MetaGin<DualD>*);

}  // namespace relfm
