// GIN for molecular property prediction, as OGB's example and pretrain-gnns build it and as MolGroup
// trains it (research/molgroup.md §1.2):
//
//   h0 = AtomEncoder(x)                                    sum of per-feature embeddings
//   for l in 0..L-1:
//     e  = BondEncoder_l(edge_attr)                         one bond encoder per layer
//     a  = (1 + eps_l) h + sum_{j->i} relu(h_j + e_ji)      (gin_aggregate)
//     h  = BN_l(Linear(BN(Linear(a, 2H)) -> relu, H))      the GIN MLP, then the layer norm BN_l
//     h  = dropout(relu(h))   (no relu after the last layer)
//   logits = Linear(pool(h), tasks)                         mean (or sum) pooling
#pragma once

#include "src/graph/molecules.hpp"
#include "src/nn/layers.hpp"

#include <string>
#include <vector>

namespace relfm {

struct GinConfig {
  int64_t num_layers = 5;
  int64_t hidden = 300;
  double dropout = 0.5;
  std::vector<int32_t> atom_table_sizes;  // one per selected atom feature column
  std::vector<int32_t> bond_table_sizes;  // one per selected bond feature column
  int64_t num_tasks = 1;
  std::string pool = "mean";              // mean | sum
};

struct ForwardOptions {
  bool training = false;
  // Dropout masks: layer l draws from dropout_rng.derive(l). Callers derive per step (and per rank).
  CounterRng dropout_rng{0, RngPurpose::kDropout};
  bool update_running_stats = true;
};

template <typename T>
class Gin {
 public:
  Gin(ParamStore<T>& store, const GinConfig& config, uint64_t seed, const std::string& prefix = "gin");

  // Node representations after the last layer (num_nodes x hidden).
  Var<T> node_embeddings(Tape<T>& tape, const GraphBatch& batch, const ForwardOptions& options) const;
  // Pooled graph representations (num_graphs x hidden).
  Var<T> graph_embeddings(Tape<T>& tape, const GraphBatch& batch, const ForwardOptions& options) const;
  // Per-task logits or regression outputs (num_graphs x num_tasks).
  Var<T> forward(Tape<T>& tape, const GraphBatch& batch, const ForwardOptions& options) const;

  // Pieces for models that mix several GINs layer by layer (MetaGIN, src/models/metagin.hpp).
  Var<T> encode_atoms(Tape<T>& tape, const GraphBatch& batch) const;
  IndexMatPtr bond_rows(const GraphBatch& batch) const;  // what every layer's bond encoder selects
  // Layer l's message passing and MLP up to and including its batch norm: the relu and dropout that
  // follow are the caller's (MetaGIN applies them after mixing two branches).
  Var<T> layer_before_activation(Tape<T>& tape, size_t l, Var<T> h, const GraphBatch& batch, const IndexMatPtr& bond_rows,
                                 bool training, bool update_running_stats) const;
  Var<T> pool(Var<T> h, const GraphBatch& batch) const;
  Var<T> head(Tape<T>& tape, Var<T> pooled) const { return head_(tape, pooled); }

  const GinConfig& config() const { return config_; }
  // Matrix-product FLOPs of one training step (forward and backward) on a batch of this size; the
  // denominator of the GEMM-bound floor reported by the throughput benchmark.
  double training_matmul_flops(int64_t num_nodes, int64_t num_graphs) const;

 private:
  struct Layer {
    EmbeddingSum<T> bond_encoder;
    Parameter<T>* eps = nullptr;
    Linear<T> mlp_in;      // H -> 2H
    BatchNorm<T> mlp_norm; // inside the MLP, followed by relu
    Linear<T> mlp_out;     // 2H -> H
    BatchNorm<T> norm;     // the layer's batch norm, followed by relu (not after the last layer) and dropout
  };
  GinConfig config_;
  EmbeddingSum<T> atom_encoder_;
  std::vector<Layer> layers_;
  Linear<T> head_;
};

}  // namespace relfm
