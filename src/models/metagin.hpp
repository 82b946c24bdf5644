// MetaGIN, the backbone MolGroup trains its router with (research/molgroup.md §1.2): one GIN per data set
// (index 0 is the target, theta_T). A target batch runs through theta_T alone. An auxiliary batch of data
// set k mixes, at the atom encoder and at every layer, its own branch with the target's by one scalar
// gate g_k (the official code's convention: g weights the auxiliary-specific branch):
//
//   z0      = g AtomEnc_k(x) + (1 - g) AtomEnc_T(x)
//   z_{l+1} = dropout(relu(g Layer_k(z_l) + (1 - g) Layer_T(z_l)))   (no relu after the last layer)
//   logits  = Head_k(pool(z_L))                                         decoder k, never the target's
//
// Batch norm inside both branches uses the batch's statistics when training; only branch k's running
// statistics move (the target branch of an auxiliary batch has bn_update=False in the official code).
// Without a gate (the warm-up epoch) data set k trains its own branch alone.
#pragma once

#include "src/models/gin.hpp"

#include <string>
#include <vector>

namespace relfm {

template <typename T>
class MetaGin {
 public:
  // `base` gives the shared architecture; num_tasks[m] is data set m's head width (m = 0 the target).
  MetaGin(ParamStore<T>& store, const GinConfig& base, const std::vector<int64_t>& num_tasks, uint64_t seed);

  // gate: a 1 x 1 value on the same tape, or an absent Var for the branch alone. dataset 0 takes no gate.
  Var<T> forward(Tape<T>& tape, int64_t dataset, const GraphBatch& batch, Var<T> gate, const ForwardOptions& options) const;

  int64_t num_datasets() const { return static_cast<int64_t>(branches_.size()); }
  const Gin<T>& branch(int64_t m) const { return branches_.at(static_cast<size_t>(m)); }
  // Parameter-name prefix of data set m's branch: "datasets.<m>".
  static std::string prefix(int64_t m);

 private:
  std::vector<Gin<T>> branches_;
};

}  // namespace relfm
