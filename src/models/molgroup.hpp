// MolGroup's bi-level step (research/molgroup.md §1.4), the part that needs second derivatives:
//
//   L_aux(theta, phi) = mean_k L_k(B_k; theta_T, theta_k, g_k(phi))
//   theta_T'          = theta_T - eta dL_aux/dtheta_T                (virtual SGD step, target copy only)
//   L_meta(phi)       = L_T(B_T; theta_T')                           (decoder 0 not stepped)
//   dL_meta/dphi      = -eta (d^2 L_aux / dphi dtheta_T) v,   v = dL_T/dtheta_T at theta_T'
//
// phi reaches L_aux only through the gates, so the mixed term factors as
//   (d^2 L_aux / dphi dtheta_T) v = sum_k h_k dg_k/dphi,   h_k = d/dt [dL_aux/dg_k](theta_T + t v) at t = 0,
// and the router's meta-gradient is one backward pass through the router seeded with -eta h_k on g_k.
// This file computes h_k, by forward-over-reverse (Dual numbers, exact) or by the central difference of
// gate gradients (DARTS: two extra passes at theta_T +- eps v, eps = epsilon / ||v||).
//
// Across ranks (research/molgroup.md §6) the losses separate by data set: each rank holds the
// sub-batches of the auxiliary data sets placed on it (molgroup_plan.hpp: place_datasets), the target
// rank also the target's. Every rank keeps a full replica of MetaGIN and the router. A step costs
//   one ordered sum of the per-data-set blocks of dL_k/dtheta_T, in data set order (the virtual step,
//     identical on every rank; gradient_sum.hpp: OrderedGradientSum),
//   one broadcast from the target rank of v, and one all-reduce of dL_0 from the loss rank (which
//     computes L_0 first when it is the target rank, else while the target rank takes the virtual
//     pass; a rank with neither pass leaves its branches' weight-gradient products for that time),
//   one ordered sum of the per-data-set blocks of the router's meta-gradient, and
//   one non-blocking all-reduce of the auxiliary branches' gradients (one contributor each), overlapped.
// Each block comes from its data set's own backward pass and dropout masks are keyed by data set, never
// by rank, so gates and parameters are bit for bit the same at any rank count.
#pragma once

#include "src/core/collective.hpp"

#include "src/models/metagin.hpp"
#include "src/models/router.hpp"
#include "src/tensor/dual.hpp"
#include "src/tensor/relu_pattern.hpp"

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace relfm {

using DualD = Dual<double>;

// kDual: forward-over-reverse in double (exact); kCentral: the DARTS central difference (two extra float
// passes, error O(eps^2)); kForward: the one-sided difference against the gate gradients the auxiliary
// pass already has (one extra float pass, error O(eps)).
enum class MetaGradientMethod { kDual, kCentral, kForward };
MetaGradientMethod parse_meta_gradient_method(std::string_view name);  // "dual" | "central" | "forward"
std::string_view meta_gradient_method_name(MetaGradientMethod method);

// One data set's sub-batch and how its loss is scored.
struct SubBatch {
  int64_t dataset = 0;  // index into MetaGin's branches
  const GraphBatch* batch = nullptr;
  bool regression = false;  // MSE; otherwise BCE with logits (NaN labels are missing in both)
  std::string name = {};    // the data set's name in messages (empty: "data set <index>")
};

// The masked loss of data set b.dataset on its sub-batch: the mean over its labelled entries.
// InputError naming the data set when the sub-batch has no labelled entry.
template <typename T>
Var<T> sub_batch_loss(Tape<T>& tape, const MetaGin<T>& model, const SubBatch& b, Var<T> gate, const ForwardOptions& options);

// (1 / num_aux) sum_k L_k with gates[k] for aux[k] (Vars on `tape`): this rank's part of L_aux, where
// num_aux counts the auxiliary sub-batches of the step on all ranks (0 = aux.size(), one process).
template <typename T>
Var<T> auxiliary_loss(Tape<T>& tape, const MetaGin<T>& model, const std::vector<SubBatch>& aux,
                      const std::vector<Var<T>>& gates, const ForwardOptions& options, int64_t num_aux = 0);

// Names of the target branch's trainable parameters (the ones the virtual step moves).
template <typename T>
std::vector<Parameter<T>*> target_parameters(const ParamStore<T>& store);

// h_k (see above) for every auxiliary sub-batch, by the central difference: theta_T is moved to
// theta_T +- eps v and restored exactly. `direction` maps target parameter names to v.
//
// `relus`: the relu pattern (src/tensor/relu_pattern.hpp) of a pass of auxiliary_loss over the same
// sub-batches at theta_T, replayed by both passes. The difference is then taken on the network with its
// relus frozen at theta_T and converges to the exact h_k at O(eps^2). Null: the differences cross the
// kinks that the step moves relu inputs over, each adding an error that does not shrink with eps
// (measured on MetaGIN 5 x 300 with 11 auxiliary sets: router meta-gradient 94-99% off at every eps).
template <typename T>
std::vector<double> gate_hvp_central(ParamStore<T>& store, const MetaGin<T>& model, const std::vector<SubBatch>& aux,
                                     const std::vector<double>& gates, const std::map<std::string, Mat<T>>& direction,
                                     double epsilon, const ForwardOptions& options, int64_t num_aux = 0,
                                     ReluPattern* relus = nullptr);

// The same by the one-sided difference (G(theta_T + eps v) - G(theta_T)) / eps, where at_theta[k] holds
// G(theta_T) = dL_aux/dg_k at theta_T (the auxiliary pass of the step computes it anyway, and records
// `relus` there).
template <typename T>
std::vector<double> gate_hvp_forward(ParamStore<T>& store, const MetaGin<T>& model, const std::vector<SubBatch>& aux,
                                     const std::vector<double>& gates, const std::vector<double>& at_theta,
                                     const std::map<std::string, Mat<T>>& direction, double epsilon,
                                     const ForwardOptions& options, int64_t num_aux = 0, ReluPattern* relus = nullptr);

// The same by forward-over-reverse on a Dual<double> copy of the model (`dual_store` holds the same
// parameter names; its values are overwritten from `store`'s before the pass).
template <typename T>
std::vector<double> gate_hvp_dual(const ParamStore<T>& store, ParamStore<DualD>& dual_store, const MetaGin<DualD>& dual_model,
                                  const std::vector<SubBatch>& aux, const std::vector<double>& gates,
                                  const std::map<std::string, Mat<T>>& direction, const ForwardOptions& options,
                                  int64_t num_aux = 0);

// One MolGroup training step after the warm-up (research/molgroup.md §1.4), single process:
//   (a) gates g_k from the router; L_0 on the target sub-batch, L_aux = mean_k L_k with the gates fixed;
//   (b) the virtual step theta_T' = theta_T - virtual_lr dL_aux/dtheta_T and v = dL_T/dtheta_T at theta_T';
//   (c) h_k by `method`, and the router's meta-gradient -virtual_lr sum_k h_k dg_k/dphi, times gate_grad_scale;
//   (d) the real gradient of L = (L_0 + sum_k L_k) / (1 + M) for every MetaGIN parameter and decoder.
// On return the stores' gradients hold (d) and (c) (the caller steps its optimisers) and every parameter
// value is as before. `dual_store`/`dual_model` are needed only for MetaGradientMethod::kDual.
struct MetaStepConfig {
  double virtual_lr = 1e-3;  // the official code's --lr, also the virtual SGD step
  MetaGradientMethod method = MetaGradientMethod::kCentral;
  // central and forward: take the differences on the network with its relus frozen at theta_T (see
  // gate_hvp_central). Off only to measure what the plain differences (DARTS) get wrong.
  bool freeze_relus = true;
  // eps = central_epsilon / ||v||. The most accurate in float on the grouping model (MetaGIN 5 x 300, 11
  // auxiliaries, two sub-batch samples; tests/bench/torch_molgroup_check.py): router meta-gradient off by
  // 0.13% / 0.024% at 3e-3, against 0.93% / 0.07% at 1e-3 and 0.35% at 1e-2.
  double central_epsilon = 3e-3;
  double forward_epsilon = 1e-3;  // eps = forward_epsilon / ||v|| for kForward
  double gate_grad_scale = 1000;  // the official code's hard-coded x1e3
};

// One rank's part of a step. The target's fingerprints are needed on every rank (every gate compares
// with the target's structure embedding); its sub-batch only on the target and loss ranks.
template <typename T>
struct MetaStepInputs {
  SubBatch target;
  const Mat<T>* target_fingerprints = nullptr;
  std::vector<SubBatch> aux;  // this rank's auxiliary sub-batches
  std::vector<const Mat<T>*> aux_fingerprints;
  int target_rank = 0;  // takes the virtual pass (v); holds the target sub-batch
  int loss_rank = -1;   // computes L_0 and its gradient: first when it is the target rank, else beside the virtual pass (-1 = the target rank); holds it too
  int64_t num_aux = 0;  // auxiliary sub-batches on all ranks (0 = aux.size(), one process)
};

struct MetaStepResult {
  double target_loss = 0;   // L_0
  double aux_loss = 0;      // L_aux (over all ranks)
  double meta_loss = 0;     // L_T at theta_T'
  // Per auxiliary sub-batch of the step on all ranks, in increasing data set order: its data set, g_k, h_k.
  std::vector<int64_t> datasets;
  std::vector<double> gates, hvp;
};

// The options of the virtual target pass in (b): its own dropout masks, running statistics untouched.
ForwardOptions virtual_target_options(const ForwardOptions& options);
// The options of the target sub-batch's loss L_0 in (a).
ForwardOptions target_options(const ForwardOptions& options);

// Collective over `comm` (every rank calls it, also one without auxiliary sub-batches). A non-finite
// gate raises the same CollectiveError (kind kDiverged) on every rank, naming the data set, before any
// parameter changes.
template <typename T>
MetaStepResult molgroup_meta_step(const Communicator& comm, ParamStore<T>& gin_store, const MetaGin<T>& gin,
                                  ParamStore<T>& router_store, const Router<T>& router, const MetaStepInputs<T>& inputs,
                                  const MetaStepConfig& config, const ForwardOptions& options,
                                  ParamStore<DualD>* dual_store = nullptr, const MetaGin<DualD>* dual_model = nullptr);
// One process.
template <typename T>
MetaStepResult molgroup_meta_step(ParamStore<T>& gin_store, const MetaGin<T>& gin, ParamStore<T>& router_store,
                                  const Router<T>& router, const MetaStepInputs<T>& inputs, const MetaStepConfig& config,
                                  const ForwardOptions& options, ParamStore<DualD>* dual_store = nullptr,
                                  const MetaGin<DualD>* dual_model = nullptr) {
  const LocalCommunicator local;
  return molgroup_meta_step(local, gin_store, gin, router_store, router, inputs, config, options, dual_store, dual_model);
}

// The warm-up step (research/molgroup.md §1.4, first epoch): no gates; every data set trains its own
// branch and decoder alone on its sub-batch. Leaves the gradient of (L_0 + sum_k L_k) / (1 + M) in the
// store (summed over ranks) and returns that loss. Collective like molgroup_meta_step; the target's
// pass runs on inputs.loss_rank (default the target rank), as L_0 does in the meta step.
template <typename T>
double molgroup_warmup_step(const Communicator& comm, ParamStore<T>& gin_store, const MetaGin<T>& gin,
                            const MetaStepInputs<T>& inputs, const ForwardOptions& options);

}  // namespace relfm
