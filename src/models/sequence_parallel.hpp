// Sequence parallelism for Diffuser (issue 9, item 4): one batch of sequences, its tokens split over the
// ranks of a sequence-parallel group. Each rank embeds, projects and feeds forward its own tokens only;
// attention reads the halo (keys owned by neighbours) and the global tokens through the collective ops of
// SplitLayout (ops.hpp); every diffusion hop exchanges the halo again and reduces the global tokens'
// partial rows. Forward and backward equal the unsplit model's up to the order of summation, and every
// dropout mask is the unsplit one (masks are keyed by the batch's token and edge numbers, not the local
// ones).
#pragma once

#include "src/graph/attention_graph.hpp"
#include "src/graph/sequence_split.hpp"
#include "src/models/diffuser_attention.hpp"

namespace relfm {

// This rank's share of a split batch.
struct SequenceShare {
  const Communicator* comm = nullptr;  // the sequence-parallel group
  LocalAttentionGraph graph;
  SplitLayoutPtr layout;
  AttentionPattern pattern;  // the local pattern: pattern rows x columns
  IndexList row_columns;     // column of each pattern row's token (the queries come from the columns)
  RowIds owned_tokens;       // batch token of each owned row
  RowIds local_edges;        // batch edge of each local edge
};

// Collective over `comm` (its size must be split.parts; every rank passes the same graph and split).
std::shared_ptr<const SequenceShare> share_sequence(const AttentionGraph& graph, const SequenceSplit& split,
                                                    const Communicator& comm);

// diffuser_attention on a split batch: q, k, v are the owned rows (q scaled); returns the owned rows of
// the attention output. `weights` receives the local edges' A (before attention dropout).
template <typename T>
Var<T> split_diffuser_attention(const SequenceShare& share, Var<T> q, Var<T> k, Var<T> v, int64_t heads,
                                const DiffusionConfig& config, const CounterRng& dropout_rng, bool training,
                                Mat<T>* weights = nullptr);

}  // namespace relfm
