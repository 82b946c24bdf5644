// A sequence classifier around Diffuser attention (research/diffuser.md §1.2): token + learned position
// embeddings, L encoder layers (Q/K/V projections, attention, output projection, residual, layer norm;
// GELU feed-forward, residual, layer norm: post-LN as the official code, or pre-LN with a final norm),
// then the first token's state (CLS) or the mean over tokens, dense -> tanh -> dense to the classes.
//
// A batch is several sequences stacked by rows (no padding): the attention pattern is the block-diagonal
// union of each sequence's attention graph, so every dense product runs once over all the batch's tokens
// and attention never crosses sequences. attention = "dense" swaps in softmax attention over each whole
// sequence (the baseline and the oracle: on complete graphs with one hop and no teleport they agree).
#pragma once

#include "src/graph/attention_graph.hpp"
#include "src/models/diffuser_attention.hpp"
#include "src/models/sequence_parallel.hpp"
#include "src/nn/layers.hpp"

#include <deque>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace relfm {

struct DiffuserEncoderConfig {
  int64_t vocab = 16;
  int64_t max_length = 2048;  // position slots
  int64_t dim = 64;
  int64_t heads = 2;
  int64_t ffn = 128;
  int64_t layers = 2;
  int64_t classes = 10;
  double dropout = 0.1;          // after the embeddings, the attention output and the feed-forward
  bool pre_layer_norm = false;   // false: post-LN (the official code)
  std::string pooling = "cls";   // "cls" (the first token) | "mean"
  std::string attention = "diffuser";  // "diffuser" | "dense"
  DiffusionConfig diffusion;
};
// InputError naming the key (model.*, attention.*) for an inconsistent configuration.
void validate_encoder_config(const DiffuserEncoderConfig& config);

// Sequences stacked by rows, with their attention pattern.
struct SequenceBatch {
  std::vector<int32_t> tokens;
  std::shared_ptr<const std::vector<int64_t>> offsets;  // B + 1 row offsets
  AttentionPattern pattern;  // block-diagonal, rows = queries, with its transpose (diffuser attention only)
  std::vector<VertexId> global_tokens;  // the sequences' global tokens, as batch rows (increasing)
  int64_t size() const { return static_cast<int64_t>(offsets->size()) - 1; }
};

// Attention graphs by sequence length (template-mode graphs are length-dependent crops), built on demand
// and kept up to a memory budget: a data set of many lengths (ListOps has ~1,500) would otherwise hold a
// graph per length, gigabytes. Past the budget the oldest graphs go (a reference from get() stays valid
// until the next call).
class AttentionGraphCache {
 public:
  explicit AttentionGraphCache(AttentionGraphConfig config, int64_t budget_bytes = int64_t{1} << 30)
      : config_(std::move(config)), budget_(budget_bytes) {}
  const AttentionGraph& get(int64_t length);
  const AttentionGraphConfig& config() const { return config_; }
  int64_t size() const { return static_cast<int64_t>(graphs_.size()); }
  int64_t bytes() const { return bytes_; }
  // What a graph holds (pattern, transpose with its permutation, tiles' edge maps), roughly.
  static int64_t footprint(const AttentionGraph& graph);

 private:
  AttentionGraphConfig config_;
  int64_t budget_ = 0, bytes_ = 0;
  std::map<int64_t, AttentionGraph> graphs_;
  std::deque<int64_t> order_;  // lengths, oldest first
};

// The batch of `sequences` (each non-empty, tokens in [0, vocab)); `graphs` null for dense attention.
SequenceBatch make_sequence_batch(const std::vector<std::span<const int32_t>>& sequences, AttentionGraphCache* graphs);
// The batch's attention pattern as one graph over its rows (to split it over ranks).
AttentionGraph batch_attention_graph(const SequenceBatch& batch);

template <typename T>
class DiffuserEncoder {
 public:
  DiffuserEncoder(ParamStore<T>& store, const DiffuserEncoderConfig& config, uint64_t seed);
  // B x classes logits. Layer l's attention and hop dropout draw from dropout_rng.derive(l). `weights`,
  // when given (diffuser attention), receives every layer's attention weights A (nnz x H).
  // With `share` (diffuser attention), the batch's tokens are split over share->comm (sequence
  // parallelism): this rank computes its own tokens, and the logits arrive on every rank of the group.
  // Count a loss on them once (e.g. weight 1 on the group's rank 0, 0 elsewhere): the backward sums the
  // logits' gradient over the group.
  Var<T> forward(Tape<T>& tape, const SequenceBatch& batch, bool training, const CounterRng& dropout_rng,
                 std::vector<Mat<T>>* weights = nullptr, const SequenceShare* share = nullptr) const;
  const DiffuserEncoderConfig& config() const { return config_; }

 private:
  struct Layer {
    Linear<T> q, k, v, out, ffn_in, ffn_out;
    LayerNorm<T> attention_norm, ffn_norm;
  };
  Var<T> attend(Tape<T>& tape, const Layer& layer, Var<T> x, const SequenceBatch& batch, bool training,
                const CounterRng& rng, Mat<T>* weights, const SequenceShare* share) const;
  Var<T> pool(Var<T> x, const SequenceBatch& batch, const SequenceShare* share) const;
  DiffuserEncoderConfig config_;
  EmbeddingSum<T> embedding_;  // token and position tables, stacked
  std::vector<Layer> layers_;
  LayerNorm<T> final_norm_;    // pre-LN only
  Linear<T> pool_dense_, classifier_;
};

// Mean cross-entropy of logits (B x C) against integer classes, and the number of argmax hits.
template <typename T>
Var<T> cross_entropy(Var<T> logits, const std::vector<int32_t>& classes);
int64_t count_correct(const MatF& logits, const std::vector<int32_t>& classes);

}  // namespace relfm
