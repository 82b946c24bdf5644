#include "src/models/molgroup.hpp"

#include "src/nn/gradient_sum.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <type_traits>
#include <unordered_set>

namespace relfm {
namespace {

std::string dataset_label(const SubBatch& b) {
  return b.name.empty() ? "data set " + std::to_string(b.dataset) : "'" + b.name + "'";
}

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


}  // namespace

MetaGradientMethod parse_meta_gradient_method(std::string_view name) {
  if (name == "dual") return MetaGradientMethod::kDual;
  if (name == "central") return MetaGradientMethod::kCentral;
  if (name == "forward") return MetaGradientMethod::kForward;
  fail_input("unknown meta-gradient method '{}' (choices: dual, central, forward)", name);
}

std::string_view meta_gradient_method_name(MetaGradientMethod method) {
  return method == MetaGradientMethod::kDual ? "dual" : method == MetaGradientMethod::kCentral ? "central" : "forward";
}

template <typename T>
Var<T> sub_batch_loss(Tape<T>& tape, const MetaGin<T>& model, const SubBatch& b, Var<T> gate, const ForwardOptions& options) {
  RELFM_CHECK(b.batch != nullptr, "sub-batch of data set {} without a batch", b.dataset);
  const ConstMatPtr<T> labels = labels_as<T>(*b.batch);
  const int64_t labelled = count_labelled(*labels);
  if (labelled == 0)
    fail_input("molgroup: the sub-batch of {} has no labelled molecule ({} molecules)", dataset_label(b), labels->rows());
  Var<T> out = model.forward(tape, b.dataset, *b.batch, gate, options);
  const double n = static_cast<double>(labelled);
  return b.regression ? mse(out, labels, n) : bce_with_logits(out, labels, n);
}

template <typename T>
Var<T> auxiliary_loss(Tape<T>& tape, const MetaGin<T>& model, const std::vector<SubBatch>& aux,
                      const std::vector<Var<T>>& gates, const ForwardOptions& options, int64_t num_aux) {
  RELFM_CHECK(!aux.empty() && aux.size() == gates.size(), "{} auxiliary sub-batches, {} gates", aux.size(), gates.size());
  const int64_t n = num_aux > 0 ? num_aux : static_cast<int64_t>(aux.size());
  Var<T> total;
  for (size_t k = 0; k < aux.size(); ++k) {
    ForwardOptions o = options;
    o.dropout_rng = options.dropout_rng.derive(static_cast<uint64_t>(aux[k].dataset));
    Var<T> l = sub_batch_loss(tape, model, aux[k], gates[k], o);
    total = total ? add(total, l) : l;
  }
  return scale(total, T(1.0 / static_cast<double>(n)));
}

template <typename T>
std::vector<Parameter<T>*> target_parameters(const ParamStore<T>& store) {
  std::vector<Parameter<T>*> out;
  for (Parameter<T>* p : store.all())
    if (is_target_parameter(*p)) out.push_back(p);
  return out;
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

namespace {

template <typename T>
std::vector<Parameter<T>*> branch_parameters(const ParamStore<T>& store, int64_t m) {
  const std::string prefix = MetaGin<T>::prefix(m) + ".";
  std::vector<Parameter<T>*> out;
  for (Parameter<T>* p : store.trainable())
    if (p->name.rfind(prefix, 0) == 0) out.push_back(p);
  return out;
}

// Values of `names` from a map, zero where absent, appended to `out` (and read back by unpack_into).
template <typename T>
void pack_from(const std::vector<Parameter<T>*>& params, const std::map<std::string, Mat<T>>& values, std::vector<T>& out) {
  for (Parameter<T>* p : params) {
    const auto it = values.find(p->name);
    if (it == values.end()) out.insert(out.end(), static_cast<size_t>(p->value.size()), T(0));
    else out.insert(out.end(), it->second.data(), it->second.data() + it->second.size());
  }
}

template <typename T>
size_t unpack_into(const std::vector<Parameter<T>*>& params, const std::vector<T>& in, size_t at,
                   std::map<std::string, Mat<T>>& values) {
  for (Parameter<T>* p : params) {
    Mat<T> m(p->value.rows(), p->value.cols());
    std::copy(in.begin() + static_cast<std::ptrdiff_t>(at), in.begin() + static_cast<std::ptrdiff_t>(at + m.size()),
              m.data());
    at += static_cast<size_t>(m.size());
    values[p->name] = std::move(m);
  }
  return at;
}

}  // namespace

template <typename T>
MetaStepResult molgroup_meta_step(const Communicator& comm, ParamStore<T>& gin_store, const MetaGin<T>& gin,
                                  ParamStore<T>& router_store, const Router<T>& router, const MetaStepInputs<T>& inputs,
                                  const MetaStepConfig& config, const ForwardOptions& options, ParamStore<DualD>* dual_store,
                                  const MetaGin<DualD>* dual_model) {
  const size_t m_local = inputs.aux.size();
  const int64_t m_total = inputs.num_aux > 0 ? inputs.num_aux : static_cast<int64_t>(m_local);
  const bool holds_target = comm.rank() == inputs.target_rank;
  const int loss_rank = inputs.loss_rank < 0 ? inputs.target_rank : inputs.loss_rank;
  const bool computes_l0 = comm.rank() == loss_rank;
  RELFM_CHECK(m_total > 0 && inputs.aux_fingerprints.size() == m_local && inputs.target_fingerprints != nullptr,
              "meta step: {} auxiliary sub-batches ({} in all), {} fingerprint blocks", m_local, m_total,
              inputs.aux_fingerprints.size());
  RELFM_CHECK(!(holds_target || computes_l0) || inputs.target.batch != nullptr,
              "meta step: the target or loss rank has no target sub-batch");
  RELFM_CHECK(config.method != MetaGradientMethod::kDual || (dual_store && dual_model), "meta step: dual needs a Dual model");
  MetaStepResult result;

  // (a) gates. A non-finite gate stops every rank here, before anything has moved.
  std::vector<double> gates;
  comm.collective([&] {
    Tape<T> tape;
    tape.set_grad_enabled(false);
    Var<T> s_target = router.structure_embedding(tape, inputs.target.dataset, *inputs.target_fingerprints);
    for (size_t k = 0; k < m_local; ++k) {
      const double g = static_cast<double>(
          router.gate(tape, inputs.aux[k].dataset, s_target, *inputs.aux_fingerprints[k]).value()(0, 0));
      if (!std::isfinite(g))
        throw DivergedError(fmt::format("molgroup: the gate of {} is {}; the router diverged (lower gate.lr or "
                                        "meta.gate_grad_scale)",
                                        dataset_label(inputs.aux[k]), std::isnan(g) ? std::string("NaN") : fmt::format("{}", g)));
      gates.push_back(g);
    }
  });
  const std::vector<Parameter<T>*> theta_t = target_parameters(gin_store);
  std::vector<Parameter<T>*> rest;
  for (Parameter<T>* p : gin_store.trainable())
    if (std::find(theta_t.begin(), theta_t.end(), p) == theta_t.end()) rest.push_back(p);

  // L_k / M one data set at a time: its theta_T gradient is a block of the ordered sum; the gradients of
  // its own branch and decoder (no other data set touches them) collect in `own`.
  OrderedGradientSum<T> aux_theta(theta_t);
  std::vector<double> aux_losses;
  std::map<std::string, Mat<T>> own;
  std::vector<double> gate_grads;  // dL_aux/dg_k at theta_T: the forward difference's base point
  // The relu pattern of these passes, which the differences of (c) replay (molgroup.hpp: gate_hvp_central).
  ReluPattern relus;
  relus.record();
  const bool freeze_relus = config.method != MetaGradientMethod::kDual && config.freeze_relus;
  // L_0 needs nothing from the other passes; when the target rank computes it, it does so first, beside
  // the other ranks' auxiliary passes (a target rank that holds fewer auxiliaries has the time).
  std::map<std::string, Mat<T>> grad_target;
  auto compute_l0 = [&] {
    gin_store.zero_grad();
    Tape<T> tape;
    Var<T> l0 = sub_batch_loss(tape, gin, inputs.target, Var<T>(), target_options(options));
    result.target_loss = static_cast<double>(l0.value()(0, 0));
    tape.backward(l0);
    grad_target = take_gradients(gin_store);
  };
  if (computes_l0 && holds_target) compute_l0();
  // A rank with no pass in (b) (neither the virtual pass nor L_0) keeps its auxiliary tapes and leaves
  // their own branches' weight-gradient products (a sixth of a pass's products) for (b), where it would
  // otherwise wait for v: they leave the critical path of (a).
  const bool defers = comm.size() > 1 && !holds_target && !computes_l0;
  std::unordered_set<const Parameter<T>*> deferred;
  if (defers)
    for (Parameter<T>* p : rest)
      if (p->name.ends_with(".linear.weight")) deferred.insert(p);
  std::vector<std::unique_ptr<Tape<T>>> kept_tapes;
  for (size_t k = 0; k < m_local; ++k) {
    gin_store.zero_grad();
    kept_tapes.push_back(std::make_unique<Tape<T>>());
    Tape<T>& tape = *kept_tapes.back();
    if (defers) tape.defer_products(&deferred);
    if (freeze_relus) tape.set_relu_pattern(&relus);
    Parameter<T> gate;
    gate.value = Mat<T>::Constant(1, 1, T(gates[k]));
    gate.zero_grad();
    Var<T> l = auxiliary_loss(tape, gin, {inputs.aux[k]}, {tape.param(gate)}, options, m_total);
    aux_losses.push_back(static_cast<double>(l.value()(0, 0)));
    tape.backward(l);
    gate_grads.push_back(gate.has_grad ? static_cast<double>(gate.grad(0, 0)) : 0.0);
    aux_theta.add_block(inputs.aux[k].dataset);
    for (Parameter<T>* p : rest)
      if (p->has_grad) own[p->name] = p->grad;
    if (!defers) kept_tapes.clear();
  }
  std::map<std::string, Mat<T>> grad_aux = aux_theta.finish(comm);

  // (b) v = dL_T/dtheta_T at theta_T' on the target rank; every rank takes the virtual step. If L_0 is
  // computed on another rank, it is computed now, beside the virtual pass (nothing before (d) needs it).
  const std::vector<Parameter<T>*> branch0 = branch_parameters(gin_store, 0);
  std::map<std::string, Mat<T>> v;
  std::vector<T> message;
  std::vector<std::pair<Parameter<T>*, Mat<T>>> saved;
  for (Parameter<T>* p : theta_t) {
    saved.emplace_back(p, p->value);
    if (auto it = grad_aux.find(p->name); it != grad_aux.end()) p->value -= T(config.virtual_lr) * it->second;
  }
  if (holds_target) {
    gin_store.zero_grad();
    Tape<T> tape;
    Var<T> meta = sub_batch_loss(tape, gin, inputs.target, Var<T>(), virtual_target_options(options));
    result.meta_loss = static_cast<double>(meta.value()(0, 0));
    tape.backward(meta);
    for (Parameter<T>* p : theta_t)
      if (p->has_grad) v[p->name] = p->grad;
    pack_from(theta_t, v, message);
    message.push_back(T(result.meta_loss));
  }
  for (auto& [p, value] : saved) p->value = value;
  if (computes_l0 && !holds_target) compute_l0();
  // The other branches' gradients (with the products left for now) have one contributor each: a sum over
  // ranks is exact, so it overlaps (c) as a non-blocking all-reduce.
  gin_store.zero_grad();
  for (Parameter<T>* p : rest)
    if (auto it = own.find(p->name); it != own.end()) {
      p->grad = it->second;
      p->has_grad = true;
    }
  for (auto& tape : kept_tapes) tape->run_deferred_products();
  kept_tapes.clear();
  GradientSum<T> rest_sum(comm, rest);
  rest_sum.start();
  GradientSum<T> target_sum(comm, branch0);  // one contributor: the loss rank
  target_sum.start(grad_target);
  if (comm.size() > 1) {
    comm.broadcast(message, inputs.target_rank);
    if (!holds_target) {
      const size_t at = unpack_into(theta_t, message, 0, v);
      result.meta_loss = static_cast<double>(message[at]);
    }
    comm.broadcast(&result.target_loss, 1, loss_rank);
  }
  for (Parameter<T>* p : theta_t)
    if (!v.count(p->name)) v[p->name] = Mat<T>::Zero(p->value.rows(), p->value.cols());

  // (c) h_k at theta_T (gates fixed) for this rank's data sets, then the router's meta-gradient.
  std::vector<double> hvp;
  if (m_local > 0) {
    ForwardOptions hvp_options = options;
    hvp_options.update_running_stats = false;  // the extra passes must not move running statistics again
    switch (config.method) {
      case MetaGradientMethod::kDual:
        hvp = gate_hvp_dual(gin_store, *dual_store, *dual_model, inputs.aux, gates, v, hvp_options, m_total);
        break;
      case MetaGradientMethod::kCentral:
        hvp = gate_hvp_central(gin_store, gin, inputs.aux, gates, v, config.central_epsilon, hvp_options, m_total,
                               freeze_relus ? &relus : nullptr);
        break;
      case MetaGradientMethod::kForward:
        hvp = gate_hvp_forward(gin_store, gin, inputs.aux, gates, gate_grads, v, config.forward_epsilon, hvp_options,
                               m_total, freeze_relus ? &relus : nullptr);
        break;
    }
  }
  // The router's meta-gradient -eta scale sum_k h_k dg_k/dphi, one data set at a time (its own tape) into
  // the ordered sum.
  OrderedGradientSum<T> router_sum(router_store.trainable());
  for (size_t k = 0; k < m_local; ++k) {
    router_store.zero_grad();
    Tape<T> tape;
    Var<T> s_target = router.structure_embedding(tape, inputs.target.dataset, *inputs.target_fingerprints);
    Var<T> g = router.gate(tape, inputs.aux[k].dataset, s_target, *inputs.aux_fingerprints[k]);
    tape.backward(scale(g, T(-config.virtual_lr * config.gate_grad_scale * hvp[k])));
    router_sum.add_block(inputs.aux[k].dataset);
  }
  set_gradients(router_store, router_sum.finish(comm));

  std::vector<int64_t> ids;
  for (const SubBatch& b : inputs.aux) ids.push_back(b.dataset);
  const std::vector<int64_t> all_ids = comm.allgatherv(ids);
  const std::vector<double> all_gates = comm.allgatherv(gates), all_hvp = comm.allgatherv(hvp),
                            all_losses = comm.allgatherv(aux_losses);
  std::vector<size_t> order(all_ids.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return all_ids[a] < all_ids[b]; });
  for (size_t i : order) {
    result.datasets.push_back(all_ids[i]);
    result.gates.push_back(all_gates[i]);
    result.hvp.push_back(all_hvp[i]);
    result.aux_loss += all_losses[i];
  }

  // (d) the real gradient: (dL_0 + M dL_aux) / (1 + M).
  for (auto& [name, g] : rest_sum.finish()) grad_aux.emplace(name, std::move(g));
  grad_target = target_sum.finish();
  const T w_target = T(1.0 / static_cast<double>(1 + m_total)),
          w_aux = T(static_cast<double>(m_total) / static_cast<double>(1 + m_total));
  gin_store.zero_grad();
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

template <typename T>
double molgroup_warmup_step(const Communicator& comm, ParamStore<T>& gin_store, const MetaGin<T>& gin,
                            const MetaStepInputs<T>& inputs, const ForwardOptions& options) {
  const int64_t m_total = inputs.num_aux > 0 ? inputs.num_aux : static_cast<int64_t>(inputs.aux.size());
  // The target's pass runs where the meta step computes L_0, so that its running statistics move on
  // one rank in both kinds of step.
  const bool holds_target = comm.rank() == (inputs.loss_rank < 0 ? inputs.target_rank : inputs.loss_rank);
  const T weight = T(1.0 / static_cast<double>(1 + m_total));
  gin_store.zero_grad();
  // Every parameter has one contributor (data set k trains branch k alone), so the gradient sum over
  // ranks is exact; the loss is summed in data set order, as the meta step does.
  std::vector<int64_t> ids;
  std::vector<double> losses;
  {
    Tape<T> tape;
    Var<T> total;
    auto add_loss = [&](const SubBatch& b, const ForwardOptions& o) {
      Var<T> l = sub_batch_loss(tape, gin, b, Var<T>(), o);
      ids.push_back(b.dataset);
      losses.push_back(static_cast<double>(l.value()(0, 0)));
      total = total ? add(total, l) : l;
    };
    if (holds_target) add_loss(inputs.target, target_options(options));
    for (const SubBatch& b : inputs.aux) {
      ForwardOptions o = options;
      o.dropout_rng = options.dropout_rng.derive(static_cast<uint64_t>(b.dataset));
      add_loss(b, o);
    }
    if (total) tape.backward(scale(total, weight));
  }
  set_gradients(gin_store, GradientSum<T>(comm, gin_store.trainable()).run());
  const std::vector<int64_t> all_ids = comm.allgatherv(ids);
  const std::vector<double> all_losses = comm.allgatherv(losses);
  std::vector<size_t> order(all_ids.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return all_ids[a] < all_ids[b]; });
  double sum = 0;
  for (size_t i : order) sum += all_losses[i];
  return sum * static_cast<double>(weight);
}

#define RELFM_INSTANTIATE_MOLGROUP(T)                                                                               \
  template Var<T> sub_batch_loss<T>(Tape<T>&, const MetaGin<T>&, const SubBatch&, Var<T>, const ForwardOptions&);   \
  template Var<T> auxiliary_loss<T>(Tape<T>&, const MetaGin<T>&, const std::vector<SubBatch>&,                      \
                                    const std::vector<Var<T>>&, const ForwardOptions&, int64_t);                     \
  template std::vector<Parameter<T>*> target_parameters<T>(const ParamStore<T>&);

RELFM_INSTANTIATE_MOLGROUP(float)
RELFM_INSTANTIATE_MOLGROUP(double)
RELFM_INSTANTIATE_MOLGROUP(DualD)

#define RELFM_INSTANTIATE_META_STEP(T)                                                                            \
  template MetaStepResult molgroup_meta_step<T>(const Communicator&, ParamStore<T>&, const MetaGin<T>&, ParamStore<T>&, \
                                                const Router<T>&, const MetaStepInputs<T>&, const MetaStepConfig&,      \
                                                const ForwardOptions&, ParamStore<DualD>*, const MetaGin<DualD>*);      \
  template double molgroup_warmup_step<T>(const Communicator&, ParamStore<T>&, const MetaGin<T>&,                   \
                                          const MetaStepInputs<T>&, const ForwardOptions&);

RELFM_INSTANTIATE_META_STEP(float)
RELFM_INSTANTIATE_META_STEP(double)

}  // namespace relfm
