#include "src/models/graphcl_gin.hpp"

#include "src/core/error.hpp"
#include "src/tensor/ops.hpp"

namespace relfm {

FeatureGraphBatch collate_views(const std::vector<GraphView>& views) {
  if (views.empty()) fail_input("collate_views: no graphs");
  const int64_t features = views.front().features.cols();
  auto offsets = std::make_shared<std::vector<int64_t>>(1, 0);
  int64_t nodes = 0, entries = 0;
  for (const GraphView& v : views) {
    if (v.features.cols() != features) fail_input("collate_views: graphs with {} and {} feature columns", features, v.features.cols());
    nodes += v.num_nodes();
    entries += v.adjacency.nnz();
    offsets->push_back(nodes);
  }
  auto adjacency = std::make_shared<Csr>();
  adjacency->num_rows = adjacency->num_cols = nodes;
  adjacency->row_ptr.clear();  // Csr starts as {0}; every row below pushes its own start
  adjacency->row_ptr.reserve(static_cast<size_t>(nodes) + 1);
  adjacency->col.reserve(static_cast<size_t>(entries));
  auto x = std::make_shared<MatF>(nodes, features);
  int64_t base = 0;
  for (const GraphView& v : views) {
    for (int64_t r = 0; r < v.num_nodes(); ++r) {
      adjacency->row_ptr.push_back(static_cast<int64_t>(adjacency->col.size()));
      for (int64_t e = v.adjacency.row_begin(r); e < v.adjacency.row_end(r); ++e)
        adjacency->col.push_back(static_cast<VertexId>(base + v.adjacency.col[e]));
    }
    x->middleRows(base, v.num_nodes()) = v.features;
    base += v.num_nodes();
  }
  adjacency->row_ptr.push_back(static_cast<int64_t>(adjacency->col.size()));
  FeatureGraphBatch batch;
  batch.num_graphs = static_cast<int64_t>(views.size());
  batch.adjacency = std::move(adjacency);
  batch.graph_offsets = std::move(offsets);
  batch.features = std::move(x);
  return batch;
}

template <typename T>
GraphClGin<T>::GraphClGin(ParamStore<T>& store, const GraphClConfig& config, uint64_t seed, const std::string& prefix)
    : config_(config) {
  if (config.in_features < 1 || config.hidden < 1 || config.num_layers < 1)
    fail_input("GraphCL GIN: in_features {}, hidden {} and num_layers {} must be positive", config.in_features,
               config.hidden, config.num_layers);
  for (int64_t l = 0; l < config.num_layers; ++l) {
    const std::string p = prefix + ".layers." + std::to_string(l);
    Layer layer;
    layer.in = Linear<T>(store, p + ".mlp_in", l == 0 ? config.in_features : config.hidden, config.hidden, seed);
    layer.out = Linear<T>(store, p + ".mlp_out", config.hidden, config.hidden, seed);
    layer.norm = BatchNorm<T>(store, p + ".norm", config.hidden);
    layers_.push_back(layer);
  }
  const int64_t d = embedding_dim();
  head_in_ = Linear<T>(store, prefix + ".head.in", d, d, seed);
  head_out_ = Linear<T>(store, prefix + ".head.out", d, d, seed);
}

template <typename T>
Var<T> GraphClGin<T>::embed(Tape<T>& tape, const FeatureGraphBatch& batch, bool training, bool update_running_stats) const {
  if (batch.features->cols() != config_.in_features)
    fail_input("GraphCL GIN: a batch with {} feature columns for an encoder of {}", batch.features->cols(), config_.in_features);
  Var<T> h = tape.input(batch.features->template cast<T>());
  // Sum aggregation with the node itself (GINConv with eps = 0) as one sparse product with unit weights.
  Var<T> ones = tape.input(Mat<T>::Ones(batch.adjacency->nnz(), 1));
  Var<T> pooled;
  for (size_t l = 0; l < layers_.size(); ++l) {
    const Layer& layer = layers_[l];
    Var<T> a = add(h, spmm(batch.adjacency, ones, h));
    h = layer.norm(tape, relu(layer.out(tape, relu(layer.in(tape, a)))), training, update_running_stats);
    Var<T> pool = segment_sum(h, batch.graph_offsets);
    pooled = l == 0 ? pool : concat_cols(pooled, pool);
  }
  return pooled;
}

template <typename T>
Var<T> GraphClGin<T>::project(Tape<T>& tape, Var<T> embeddings) const {
  return head_out_(tape, relu(head_in_(tape, embeddings)));
}

template class GraphClGin<float>;
template class GraphClGin<double>;

}  // namespace relfm
