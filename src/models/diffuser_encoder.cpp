#include "src/models/diffuser_encoder.hpp"

#include "src/tensor/dual.hpp"

#include <cmath>

namespace relfm {

void validate_encoder_config(const DiffuserEncoderConfig& c) {
  if (c.vocab < 1) fail_input("model.vocab must be at least 1, got {}", c.vocab);
  if (c.max_length < 1) fail_input("model.max_length must be at least 1, got {}", c.max_length);
  if (c.dim < 1 || c.heads < 1 || c.dim % c.heads != 0)
    fail_input("model.dim ({}) must be a positive multiple of model.heads ({})", c.dim, c.heads);
  if (c.ffn < 1) fail_input("model.ffn must be at least 1, got {}", c.ffn);
  if (c.layers < 1) fail_input("model.layers must be at least 1, got {}", c.layers);
  if (c.classes < 2) fail_input("model.classes must be at least 2, got {}", c.classes);
  if (!(c.dropout >= 0.0 && c.dropout < 1.0)) fail_input("model.dropout must be in [0, 1), got {}", c.dropout);
  if (c.pooling != "cls" && c.pooling != "mean") fail_input("model.pooling must be 'cls' or 'mean', got '{}'", c.pooling);
  if (c.attention != "diffuser" && c.attention != "dense")
    fail_input("attention.kind must be 'diffuser' or 'dense', got '{}'", c.attention);
  validate_diffusion_config(c.diffusion);
}

int64_t AttentionGraphCache::footprint(const AttentionGraph& g) {
  int64_t bytes = 3 * (g.length + 1) * static_cast<int64_t>(sizeof(int64_t));
  bytes += g.by_query->nnz() * static_cast<int64_t>(2 * sizeof(VertexId) + sizeof(int64_t));
  if (g.tiles) {
    bytes += static_cast<int64_t>(g.tiles->tiled.size());
    for (const EdgeTiles::Tile& t : g.tiles->tiles) bytes += static_cast<int64_t>(t.edge.size() * sizeof(t.edge[0]));
    for (const EdgeTiles::Rest* r : {&g.tiles->rest_by_row, &g.tiles->rest_by_key})
      bytes += static_cast<int64_t>(r->ptr.size() * sizeof(int64_t) + r->other.size() * sizeof(VertexId) + r->edge.size() * sizeof(int64_t));
  }
  return bytes;
}

const AttentionGraph& AttentionGraphCache::get(int64_t length) {
  auto it = graphs_.find(length);
  if (it != graphs_.end()) return it->second;
  it = graphs_.emplace(length, build_attention_graph(length, config_)).first;
  bytes_ += footprint(it->second);
  order_.push_back(length);
  while (bytes_ > budget_ && order_.size() > 1) {
    auto old = graphs_.find(order_.front());
    bytes_ -= footprint(old->second);
    graphs_.erase(old);
    order_.pop_front();
  }
  return it->second;
}

SequenceBatch make_sequence_batch(const std::vector<std::span<const int32_t>>& sequences, AttentionGraphCache* graphs) {
  if (sequences.empty()) fail_input("a batch without sequences");
  SequenceBatch b;
  auto offsets = std::make_shared<std::vector<int64_t>>(1, 0);
  for (const auto& s : sequences) {
    if (s.empty()) fail_input("an empty sequence in the batch");
    b.tokens.insert(b.tokens.end(), s.begin(), s.end());
    offsets->push_back(offsets->back() + static_cast<int64_t>(s.size()));
  }
  if (graphs) {
    auto pattern = std::make_shared<Csr>();
    pattern->num_rows = pattern->num_cols = offsets->back();
    pattern->row_ptr.assign(1, 0);
    auto tiles = std::make_shared<EdgeTiles>();
    for (size_t s = 0; s < sequences.size(); ++s) {
      const AttentionGraph& graph = graphs->get(static_cast<int64_t>(sequences[s].size()));
      const Csr& g = *graph.by_query;
      const auto base = static_cast<VertexId>((*offsets)[s]);
      const int64_t edge_base = pattern->row_ptr.back();
      for (int64_t i = 0; i < g.num_rows; ++i) pattern->row_ptr.push_back(edge_base + g.row_ptr[i + 1]);
      for (VertexId j : g.col) pattern->col.push_back(base + j);
      tiles->append(*graph.tiles, base, edge_base);
      for (VertexId t : graph.global_tokens) b.global_tokens.push_back(base + t);
    }
    tiles->index_rest(*pattern);
    b.pattern.by_key = std::make_shared<const CsrTranspose>(transpose_with_edges(*pattern));
    b.pattern.tiles = std::move(tiles);
    b.pattern.by_query = std::move(pattern);
  }
  b.offsets = std::move(offsets);
  return b;
}

AttentionGraph batch_attention_graph(const SequenceBatch& batch) {
  RELFM_CHECK(batch.pattern.by_query, "batch_attention_graph: the batch has no attention pattern");
  AttentionGraph g;
  g.length = batch.offsets->back();
  g.by_query = batch.pattern.by_query;
  g.by_key = batch.pattern.by_key;
  g.tiles = batch.pattern.tiles;
  g.global_tokens = batch.global_tokens;
  return g;
}

template <typename T>
DiffuserEncoder<T>::DiffuserEncoder(ParamStore<T>& store, const DiffuserEncoderConfig& config, uint64_t seed) : config_(config) {
  validate_encoder_config(config);
  const int64_t d = config.dim;
  embedding_ = EmbeddingSum<T>(store, "embedding", {static_cast<int32_t>(config.vocab), static_cast<int32_t>(config.max_length)}, d, seed);
  for (int64_t l = 0; l < config.layers; ++l) {
    const std::string p = fmt::format("layers.{}", l);
    Layer layer;
    layer.q = Linear<T>(store, p + ".attention.query", d, d, seed);
    layer.k = Linear<T>(store, p + ".attention.key", d, d, seed);
    layer.v = Linear<T>(store, p + ".attention.value", d, d, seed);
    layer.out = Linear<T>(store, p + ".attention.output", d, d, seed);
    layer.attention_norm = LayerNorm<T>(store, p + ".attention.norm", d);
    layer.ffn_in = Linear<T>(store, p + ".ffn.in", d, config.ffn, seed);
    layer.ffn_out = Linear<T>(store, p + ".ffn.out", config.ffn, d, seed);
    layer.ffn_norm = LayerNorm<T>(store, p + ".ffn.norm", d);
    layers_.push_back(std::move(layer));
  }
  if (config.pre_layer_norm) final_norm_ = LayerNorm<T>(store, "final_norm", d);
  pool_dense_ = Linear<T>(store, "head.dense", d, d, seed);
  classifier_ = Linear<T>(store, "head.out", d, config.classes, seed);
}

template <typename T>
Var<T> DiffuserEncoder<T>::attend(Tape<T>& tape, const Layer& layer, Var<T> x, const SequenceBatch& batch, bool training,
                                  const CounterRng& rng, Mat<T>* weights, const SequenceShare* share) const {
  const int64_t heads = config_.heads;
  const T inv_sqrt = T(1.0 / std::sqrt(static_cast<double>(config_.dim / heads)));
  Var<T> q = scale(layer.q(tape, x), inv_sqrt), k = layer.k(tape, x), v = layer.v(tape, x);
  Var<T> a = config_.attention == "dense" ? dense_attention(q, k, v, heads, batch.offsets)
             : share ? split_diffuser_attention(*share, q, k, v, heads, config_.diffusion, rng, training, weights)
                     : diffuser_attention(batch.pattern, q, k, v, heads, config_.diffusion, rng, training, weights);
  return dropout(layer.out(tape, a), config_.dropout, rng.derive(0x0a), training, share ? share->owned_tokens : nullptr);
}

template <typename T>
Var<T> DiffuserEncoder<T>::pool(Var<T> x, const SequenceBatch& batch, const SequenceShare* share) const {
  const std::vector<int64_t>& off = *batch.offsets;
  if (!share) {
    if (config_.pooling == "mean") return segment_mean(x, batch.offsets);
    auto first = std::make_shared<std::vector<int32_t>>();
    for (size_t s = 0; s + 1 < off.size(); ++s) first->push_back(static_cast<int32_t>(off[s]));
    return gather_rows(x, IndexList(std::move(first)));
  }
  // Each owned token's sequence (CLS: only the first tokens), weighted (mean: 1 / length), summed over ranks.
  auto target = std::make_shared<std::vector<int32_t>>();
  Mat<T> weight(x.rows(), 1);
  size_t s = 0;
  for (int64_t i = 0; i < x.rows(); ++i) {
    const int64_t t = (*share->owned_tokens)[static_cast<size_t>(i)];
    while (off[s + 1] <= t) ++s;
    const bool mean = config_.pooling == "mean";
    target->push_back(mean || t == off[s] ? static_cast<int32_t>(s) : -1);
    weight(i, 0) = mean ? T(1.0 / static_cast<double>(off[s + 1] - off[s])) : T(1);
  }
  if (config_.pooling == "mean") x = mul(x, x.tape()->input(std::move(weight)));
  return sum_rows_over_ranks(x, IndexList(std::move(target)), batch.size(), *share->comm);
}

template <typename T>
Var<T> DiffuserEncoder<T>::forward(Tape<T>& tape, const SequenceBatch& batch, bool training, const CounterRng& dropout_rng,
                                   std::vector<Mat<T>>* weights, const SequenceShare* share) const {
  if (weights) weights->assign(layers_.size(), Mat<T>());
  RELFM_CHECK(config_.attention == "dense" || batch.pattern.by_query, "diffuser encoder: the batch has no attention pattern");
  RELFM_CHECK(!share || config_.attention == "diffuser", "diffuser encoder: sequence parallelism needs diffuser attention");
  const std::vector<int64_t>& off = *batch.offsets;
  const int64_t n = off.back();
  for (size_t s = 0; s + 1 < off.size(); ++s)
    for (int64_t i = off[s]; i < off[s + 1]; ++i) {
      const int32_t t = batch.tokens[static_cast<size_t>(i)];
      if (t < 0 || t >= config_.vocab)
        fail_input("sequence {} has token {} at position {}, outside the vocabulary [0, {})", s, t, i - off[s], config_.vocab);
      if (i - off[s] >= config_.max_length)
        fail_input("sequence {} has {} tokens, more than model.max_length = {}", s, off[s + 1] - off[s], config_.max_length);
    }
  // This rank's rows: every token, or its share of a split batch.
  const RowIds rows = share ? share->owned_tokens : nullptr;
  const int64_t local = rows ? static_cast<int64_t>(rows->size()) : n;
  IndexMat categories(local, 2);
  size_t s = 0;
  for (int64_t r = 0; r < local; ++r) {
    const int64_t i = rows ? (*rows)[static_cast<size_t>(r)] : r;
    while (off[s + 1] <= i) ++s;
    categories(r, 0) = batch.tokens[static_cast<size_t>(i)];
    categories(r, 1) = static_cast<int32_t>(i - off[s]);
  }
  Var<T> x = dropout(embedding_(tape, categories), config_.dropout, dropout_rng.derive(0xe0), training, rows);
  for (size_t l = 0; l < layers_.size(); ++l) {
    const Layer& layer = layers_[l];
    const CounterRng rng = dropout_rng.derive(l);
    if (config_.pre_layer_norm) {
      x = add(x, attend(tape, layer, layer.attention_norm(tape, x), batch, training, rng, weights ? &(*weights)[l] : nullptr, share));
      Var<T> h = layer.ffn_out(tape, gelu(layer.ffn_in(tape, layer.ffn_norm(tape, x))));
      x = add(x, dropout(h, config_.dropout, rng.derive(0xf0), training, rows));
    } else {
      x = layer.attention_norm(tape, add(x, attend(tape, layer, x, batch, training, rng, weights ? &(*weights)[l] : nullptr, share)));
      Var<T> h = layer.ffn_out(tape, gelu(layer.ffn_in(tape, x)));
      x = layer.ffn_norm(tape, add(x, dropout(h, config_.dropout, rng.derive(0xf0), training, rows)));
    }
  }
  if (config_.pre_layer_norm) x = final_norm_(tape, x);
  return classifier_(tape, tanh(pool_dense_(tape, pool(x, batch, share))));
}

template <typename T>
Var<T> cross_entropy(Var<T> logits, const std::vector<int32_t>& classes) {
  const int64_t b = logits.rows(), c = logits.cols();
  if (static_cast<int64_t>(classes.size()) != b) fail("cross_entropy: {} labels for {} rows", classes.size(), b);
  Mat<T> onehot = Mat<T>::Zero(b, c);
  for (int64_t i = 0; i < b; ++i) {
    const int32_t y = classes[static_cast<size_t>(i)];
    if (y < 0 || y >= c) fail_input("label {} outside the {} classes", y, c);
    onehot(i, y) = T(-1.0 / static_cast<double>(b));
  }
  return sum(mul(log_softmax(logits), logits.tape()->input(std::move(onehot))));
}

int64_t count_correct(const MatF& logits, const std::vector<int32_t>& classes) {
  int64_t hits = 0;
  for (int64_t i = 0; i < logits.rows(); ++i) {
    Eigen::Index best = 0;
    logits.row(i).maxCoeff(&best);
    hits += static_cast<int64_t>(best) == classes[static_cast<size_t>(i)];
  }
  return hits;
}

template class DiffuserEncoder<float>;
template class DiffuserEncoder<double>;
template Var<float> cross_entropy<float>(Var<float>, const std::vector<int32_t>&);
template Var<double> cross_entropy<double>(Var<double>, const std::vector<int32_t>&);

}  // namespace relfm
