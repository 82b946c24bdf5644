// MolGroup's routing function (research/molgroup.md §1.3): one gate per auxiliary data set k, computed
// each step from the current target sub-batch T and auxiliary sub-batch k:
//
//   u        = normalize(fp W)                   per molecule; W (bits x d) shared by every data set
//   s_m      = normalize(Set2Set_m(U_m))         the sub-batch as one set; one Set2Set per data set
//   a_struct = <s_T, s_k>                        cosine in [-1, 1]
//   a_task   = <normalize(E_0), normalize(E_k)>  E: one learned task embedding per data set
//   g_k      = sigmoid(((1 - lambda) a_task + lambda a_struct) / tau)
//
// The code's convention: g weights the auxiliary-specific branch of MetaGIN, so a small g means "share the
// target's parameters". E starts orthogonal with every auxiliary row a copy of row 1 (a_task = 0).
// Parameter names start with "gate." like the official code's, whose gate optimiser selects them by name.
#pragma once

#include "src/nn/layers.hpp"

#include <vector>

namespace relfm {

struct RouterConfig {
  int64_t num_datasets = 2;  // the target (index 0) and its auxiliary data sets
  int64_t fingerprint_bits = 167;
  int64_t dim = 16;            // gate_emb_dim
  double mix_lambda = 0.1;     // weight of the structure term (the code's gate_mix_alpha)
  double temperature = 0.1;    // tau (gate_temp)
  int64_t set2set_steps = 1;   // processing_steps
};

template <typename T>
class Router {
 public:
  Router(ParamStore<T>& store, const RouterConfig& config, uint64_t seed, const std::string& prefix = "gate");

  // s_m for data set m from its sub-batch's fingerprints (rows = molecules): 1 x 2d, unit length.
  Var<T> structure_embedding(Tape<T>& tape, int64_t dataset, const Mat<T>& fingerprints) const;
  // <normalize(E_0), normalize(E_k)>, 1 x 1.
  Var<T> task_affinity(Tape<T>& tape, int64_t dataset) const;
  // g_k (1 x 1) from the target's structure embedding and auxiliary data set k's sub-batch.
  Var<T> gate(Tape<T>& tape, int64_t dataset, Var<T> target_structure, const Mat<T>& fingerprints) const;
  // The gate formula on given affinities (what gate() applies); for tests and reports.
  Var<T> gate_from_affinities(Var<T> task, Var<T> structure) const;

  const RouterConfig& config() const { return config_; }

 private:
  struct Set2Set {
    // LSTM(2d -> d), one weight block per gate (input, forget, cell, output), PyTorch's initialisation.
    struct Gate {
      Parameter<T>* weight_ih = nullptr;  // 2d x d
      Parameter<T>* weight_hh = nullptr;  // d x d
      Parameter<T>* bias_ih = nullptr;    // 1 x d
      Parameter<T>* bias_hh = nullptr;    // 1 x d
    };
    Gate gates[4];
  };
  Var<T> set2set(Tape<T>& tape, const Set2Set& s2s, Var<T> set) const;

  RouterConfig config_;
  Parameter<T>* task_embeddings_ = nullptr;  // num_datasets x d
  Parameter<T>* structure_projection_ = nullptr;  // bits x d, no bias
  std::vector<Set2Set> set2set_;
};

}  // namespace relfm
