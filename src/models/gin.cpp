#include "src/models/gin.hpp"

namespace relfm {

template <typename T>
Gin<T>::Gin(ParamStore<T>& store, const GinConfig& config, uint64_t seed, const std::string& prefix) : config_(config) {
  if (config.num_layers < 1) fail_input("gin: model.layers must be at least 1, got {}", config.num_layers);
  if (config.hidden < 1) fail_input("gin: model.hidden must be positive, got {}", config.hidden);
  if (config.dropout < 0.0 || config.dropout >= 1.0) fail_input("gin: model.dropout must be in [0, 1), got {}", config.dropout);
  if (config.pool != "mean" && config.pool != "sum") fail_input("gin: model.pool must be 'mean' or 'sum', got '{}'", config.pool);
  if (config.num_tasks < 1) fail_input("gin: the dataset has no tasks");
  const int64_t h = config.hidden;
  atom_encoder_ = EmbeddingSum<T>(store, scoped(prefix, "atom_encoder"), config.atom_table_sizes, h, seed);
  for (int64_t l = 0; l < config.num_layers; ++l) {
    const std::string lp = scoped(prefix, fmt::format("layers.{}", l));
    Layer layer;
    layer.bond_encoder = EmbeddingSum<T>(store, scoped(lp, "bond_encoder"), config.bond_table_sizes, h, seed);
    layer.eps = &store.add(scoped(lp, "eps"), Mat<T>::Zero(1, 1));
    layer.mlp_in = Linear<T>(store, scoped(lp, "mlp.0.linear"), h, 2 * h, seed);
    layer.mlp_norm = BatchNorm<T>(store, scoped(lp, "mlp.0.norm"), 2 * h);
    layer.mlp_out = Linear<T>(store, scoped(lp, "mlp.1.linear"), 2 * h, h, seed);
    layer.norm = BatchNorm<T>(store, scoped(lp, "norm"), h);
    layers_.push_back(std::move(layer));
  }
  head_ = Linear<T>(store, scoped(prefix, "head"), h, config.num_tasks, seed);
}

template <typename T>
Var<T> Gin<T>::node_embeddings(Tape<T>& tape, const GraphBatch& batch, const ForwardOptions& options) const {
  const size_t mark = tape.size();
  Var<T> h = atom_encoder_(tape, batch.atom_categories);
  // Every layer's bond table has the same layout, so the rows the bonds select are computed once.
  const IndexMatPtr bond_rows = layers_.front().bond_encoder.rows(batch.edge_categories);
  const bool train = options.training;
  const bool update = options.update_running_stats;
  for (size_t l = 0; l < layers_.size(); ++l) {
    const Layer& layer = layers_[l];
    Var<T> a = gin_aggregate_embedded(h, tape.param(*layer.bond_encoder.table()), bond_rows, tape.param(*layer.eps),
                                      batch.adjacency);
    BatchNormEpilogue hidden;  // relu inside the MLP
    Var<T> z = layer.mlp_norm.act(tape, layer.mlp_in(tape, a), train, hidden, update);
    BatchNormEpilogue out;
    out.relu = l + 1 < layers_.size();  // no relu after the last layer, as OGB's GNN_node
    out.dropout = config_.dropout;
    out.dropout_rng = options.dropout_rng.derive(l);
    h = layer.norm.act(tape, layer.mlp_out(tape, z), train, out, update);
    // Inference keeps one layer's activations, not all of them (evaluation batches are large).
    if (!tape.grad_enabled()) h = tape.compact_since(mark, h);
  }
  return h;
}

template <typename T>
Var<T> Gin<T>::encode_atoms(Tape<T>& tape, const GraphBatch& batch) const {
  return atom_encoder_(tape, batch.atom_categories);
}

template <typename T>
IndexMatPtr Gin<T>::bond_rows(const GraphBatch& batch) const {
  return layers_.front().bond_encoder.rows(batch.edge_categories);
}

template <typename T>
Var<T> Gin<T>::layer_before_activation(Tape<T>& tape, size_t l, Var<T> h, const GraphBatch& batch,
                                       const IndexMatPtr& bond_rows, bool training, bool update_running_stats) const {
  RELFM_CHECK(l < layers_.size(), "gin: layer {} of {}", l, layers_.size());
  const Layer& layer = layers_[l];
  Var<T> a = gin_aggregate_embedded(h, tape.param(*layer.bond_encoder.table()), bond_rows, tape.param(*layer.eps),
                                    batch.adjacency);
  BatchNormEpilogue hidden;  // relu inside the MLP
  Var<T> z = layer.mlp_norm.act(tape, layer.mlp_in(tape, a), training, hidden, update_running_stats);
  BatchNormEpilogue none;
  none.relu = false;
  return layer.norm.act(tape, layer.mlp_out(tape, z), training, none, update_running_stats);
}

template <typename T>
Var<T> Gin<T>::pool(Var<T> h, const GraphBatch& batch) const {
  return config_.pool == "mean" ? segment_mean(h, batch.graph_offsets) : segment_sum(h, batch.graph_offsets);
}

template <typename T>
Var<T> Gin<T>::graph_embeddings(Tape<T>& tape, const GraphBatch& batch, const ForwardOptions& options) const {
  return pool(node_embeddings(tape, batch, options), batch);
}

template <typename T>
Var<T> Gin<T>::forward(Tape<T>& tape, const GraphBatch& batch, const ForwardOptions& options) const {
  return head_(tape, graph_embeddings(tape, batch, options));
}

template <typename T>
double Gin<T>::training_matmul_flops(int64_t num_nodes, int64_t num_graphs) const {
  // Each product of (n x k)(k x m) costs 2nkm forward; backward needs two more of the same size
  // (input and weight gradients), except that the first layer's input gradient flows into an
  // embedding and still costs the same product.
  const double h = static_cast<double>(config_.hidden);
  const double n = static_cast<double>(num_nodes);
  const double per_layer = 2.0 * n * h * (2.0 * h) * 2.0;  // h -> 2h and 2h -> h
  const double head = 2.0 * static_cast<double>(num_graphs) * h * static_cast<double>(config_.num_tasks);
  return 3.0 * (per_layer * static_cast<double>(config_.num_layers) + head);
}

template class Gin<float>;
template class Gin<double>;
template class Gin<Dual<double>>;

}  // namespace relfm
