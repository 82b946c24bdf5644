// GraphCL's encoder for unsupervised graph-level learning (Shen-Lab/GraphCL unsupervised_TU/gin.py, as
// research/batchsampler.md §4 reads it): `num_layers` GIN layers on float node features,
//   h = BN_l(relu(MLP_l(h + sum_{j in N(i)} h_j)))     MLP_l = Linear -> relu -> Linear (eps = 0, fixed)
// every layer's output sum-pooled per graph and the pools concatenated (num_layers x hidden), then a
// projection head Linear -> relu -> Linear of that width for the contrastive loss. The concatenated pools
// (before the head) are the frozen embeddings the SVM protocol scores.
#pragma once

#include "src/graph/augment.hpp"
#include "src/nn/layers.hpp"

#include <memory>
#include <vector>

namespace relfm {

struct GraphClConfig {
  int64_t in_features = 1;
  int64_t hidden = 32;
  int64_t num_layers = 3;
};

// The disjoint union of some graph views, ready for the encoder.
struct FeatureGraphBatch {
  int64_t num_graphs = 0;
  std::shared_ptr<const Csr> adjacency;                        // rows = nodes, columns = their neighbours
  std::shared_ptr<const std::vector<int64_t>> graph_offsets;  // nodes of graph g: [off[g], off[g+1])
  std::shared_ptr<const MatF> features;                       // nodes x in_features
};
FeatureGraphBatch collate_views(const std::vector<GraphView>& views);

template <typename T>
class GraphClGin {
 public:
  GraphClGin(ParamStore<T>& store, const GraphClConfig& config, uint64_t seed, const std::string& prefix = "graphcl");
  // num_graphs x (num_layers · hidden): the concatenated per-layer sum pools.
  Var<T> embed(Tape<T>& tape, const FeatureGraphBatch& batch, bool training, bool update_running_stats = true) const;
  // The projection head on embeddings.
  Var<T> project(Tape<T>& tape, Var<T> embeddings) const;
  int64_t embedding_dim() const { return config_.hidden * config_.num_layers; }

 private:
  struct Layer {
    Linear<T> in, out;
    BatchNorm<T> norm;
  };
  GraphClConfig config_;
  std::vector<Layer> layers_;
  Linear<T> head_in_, head_out_;
};

}  // namespace relfm
