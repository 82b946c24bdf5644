// One long sequence split over the ranks of a sequence-parallel group (issue 9, item 4): which tokens a
// rank owns, and the part of the attention graph it computes.
//
// Every token is owned by one rank. A rank computes the rows of its owned tokens that are not global
// ("full rows", every key of the row), and, for every global token, the part of that token's row whose
// keys it owns ("partial rows"; the global token's complete row is the sum of its partial rows over the
// ranks: a reduction). So the ranks' local edges partition the graph's edges: edge (i, j) lives on
// owner(i) when i is not global, on owner(j) when it is.
//
// Local columns are the tokens a rank's rows read, in increasing token order: its owned tokens, the
// "halo" (keys of its full rows owned elsewhere: band neighbours, random keys) and the global tokens.
// Because the order is the tokens' order, a band block's keys stay one contiguous range locally, and the
// graph's dense tiles restrict to local tiles without losing their shape.
#pragma once

#include "src/graph/attention_graph.hpp"

#include <cstdint>
#include <vector>

namespace relfm {

// owner[t] in [0, parts) for every token t.
struct SequenceSplit {
  int parts = 1;
  std::vector<int32_t> owner;
  // Contiguous ranges of near-equal size (the cut of the local band is then one boundary per rank).
  static SequenceSplit contiguous(int64_t length, int parts);
  // Any assignment (e.g. METIS on the attention graph, dist::partition_graph); InputError if a token's
  // part is outside [0, parts).
  static SequenceSplit from_parts(std::vector<int32_t> owner, int parts);
};

struct LocalAttentionGraph {
  int rank = 0;
  std::vector<int64_t> owned;    // owned tokens, increasing
  std::vector<int64_t> rows;     // token of each local row: full rows (increasing), then every global token
  int64_t full_rows = 0;         // rows [0, full_rows) are full, the rest partial (one per global token)
  std::vector<int64_t> columns;  // token of each local column, increasing
  std::vector<int64_t> edge;     // per local edge, its edge in the whole graph
  // The local pattern (rows x columns; entries in increasing column order), its transpose and its tiles.
  std::shared_ptr<const Csr> by_query;
  std::shared_ptr<const CsrTranspose> by_key;
  EdgeTilesPtr tiles;
  // Halo plan: recv_from[s] = the columns (local indices) whose values come from rank s (not global, owned
  // by s); send_to[s] = the owned tokens (indices into `owned`) that rank s receives from this rank, in the
  // order of s's recv_from[this rank]. Both empty for s = rank.
  std::vector<std::vector<int64_t>> recv_from, send_to;
  // Column of each global token (graph.global_tokens order), and of each owned token.
  std::vector<int64_t> global_column, owned_column;
};

// This rank's part of `graph` under `split` (every rank builds the same graph and calls this with its
// own rank; the halo plans of all ranks agree).
LocalAttentionGraph localize_attention_graph(const AttentionGraph& graph, const SequenceSplit& split, int rank);

}  // namespace relfm
