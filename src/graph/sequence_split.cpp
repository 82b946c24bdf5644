#include "src/graph/sequence_split.hpp"

#include "src/core/error.hpp"

#include <algorithm>

namespace relfm {

SequenceSplit SequenceSplit::contiguous(int64_t length, int parts) {
  if (parts < 1) fail_input("a sequence split into {} parts", parts);
  if (length < parts) fail_input("a sequence of {} tokens cannot be split over {} ranks", length, parts);
  SequenceSplit s;
  s.parts = parts;
  s.owner.resize(static_cast<size_t>(length));
  for (int64_t t = 0; t < length; ++t) s.owner[static_cast<size_t>(t)] = static_cast<int32_t>(t * parts / length);
  return s;
}

SequenceSplit SequenceSplit::from_parts(std::vector<int32_t> owner, int parts) {
  if (parts < 1) fail_input("a sequence split into {} parts", parts);
  for (size_t t = 0; t < owner.size(); ++t)
    if (owner[t] < 0 || owner[t] >= parts) fail_input("token {} is assigned to part {}, outside [0, {})", t, owner[t], parts);
  return SequenceSplit{parts, std::move(owner)};
}

namespace {

// The tiles of `whole` restricted to this rank's local edges (edge_local[e] >= 0), in local rows and
// columns; rows and keys without a local cell are dropped, and runs of consecutive local indices become
// ranges again.
EdgeTiles restrict_tiles(const EdgeTiles& whole, const std::vector<int64_t>& row_of, const std::vector<int64_t>& col_of,
                         const std::vector<int64_t>& edge_local, int64_t local_edges) {
  auto span_of = [](const std::vector<int64_t>& ids) {
    bool consecutive = true;
    for (size_t i = 1; i < ids.size() && consecutive; ++i) consecutive = ids[i] == ids[i - 1] + 1;
    return consecutive ? IndexSpan::range(ids.empty() ? 0 : ids.front(), static_cast<int64_t>(ids.size())) : IndexSpan::list(ids);
  };
  EdgeTiles out;
  out.tiled.assign(static_cast<size_t>(local_edges), 0);
  for (const EdgeTiles::Tile& t : whole.tiles) {
    std::vector<uint8_t> key_used(static_cast<size_t>(t.keys.size()), 0);
    std::vector<int64_t> kept_rows;  // tile row indices
    for (int64_t r = 0; r < t.rows.size(); ++r) {
      if (row_of[static_cast<size_t>(t.rows[r])] < 0) continue;
      bool any = false;
      for (int64_t c = 0; c < t.keys.size(); ++c) {
        const int64_t e = t.edge_at(r, c);
        if (e >= 0 && edge_local[static_cast<size_t>(e)] >= 0) {
          key_used[static_cast<size_t>(c)] = 1;
          any = true;
        }
      }
      if (any) kept_rows.push_back(r);
    }
    if (kept_rows.empty()) continue;
    std::vector<int64_t> kept_keys, rows, keys;
    for (int64_t c = 0; c < t.keys.size(); ++c)
      if (key_used[static_cast<size_t>(c)]) kept_keys.push_back(c);
    for (int64_t r : kept_rows) rows.push_back(row_of[static_cast<size_t>(t.rows[r])]);
    for (int64_t c : kept_keys) keys.push_back(col_of[static_cast<size_t>(t.keys[c])]);
    EdgeTiles::Tile local{span_of(rows), span_of(keys), {}};
    local.edge.reserve(kept_rows.size() * kept_keys.size());
    for (int64_t r : kept_rows)
      for (int64_t c : kept_keys) {
        const int64_t e = t.edge_at(r, c);
        const int64_t le = e >= 0 ? edge_local[static_cast<size_t>(e)] : -1;
        local.edge.push_back(le);
        if (le >= 0) out.tiled[static_cast<size_t>(le)] = 1;
      }
    out.tiles.push_back(std::move(local));
  }
  return out;
}

}  // namespace

LocalAttentionGraph localize_attention_graph(const AttentionGraph& graph, const SequenceSplit& split, int rank) {
  const Csr& g = *graph.by_query;
  const int64_t length = graph.length;
  if (static_cast<int64_t>(split.owner.size()) != length)
    fail_input("a split of {} tokens for a sequence of {}", split.owner.size(), length);
  if (rank < 0 || rank >= split.parts) fail_input("rank {} outside a split into {} parts", rank, split.parts);
  auto owner = [&](int64_t t) { return split.owner[static_cast<size_t>(t)]; };
  std::vector<uint8_t> is_global(static_cast<size_t>(length), 0);
  for (VertexId t : graph.global_tokens) is_global[static_cast<size_t>(t)] = 1;

  LocalAttentionGraph local;
  local.rank = rank;
  for (int64_t t = 0; t < length; ++t)
    if (owner(t) == rank) {
      local.owned.push_back(t);
      if (!is_global[static_cast<size_t>(t)]) local.rows.push_back(t);
    }
  local.full_rows = static_cast<int64_t>(local.rows.size());
  for (VertexId t : graph.global_tokens) local.rows.push_back(t);

  // Columns: owned tokens, the keys of the full rows, the global tokens.
  std::vector<uint8_t> needed(static_cast<size_t>(length), 0);
  for (int64_t t : local.owned) needed[static_cast<size_t>(t)] = 1;
  for (VertexId t : graph.global_tokens) needed[static_cast<size_t>(t)] = 1;
  for (int64_t r = 0; r < local.full_rows; ++r) {
    const int64_t i = local.rows[static_cast<size_t>(r)];
    for (int64_t e = g.row_ptr[i]; e < g.row_ptr[i + 1]; ++e) needed[static_cast<size_t>(g.col[e])] = 1;
  }
  std::vector<int64_t> col_of(static_cast<size_t>(length), -1), row_of(static_cast<size_t>(length), -1);
  for (int64_t t = 0; t < length; ++t)
    if (needed[static_cast<size_t>(t)]) {
      col_of[static_cast<size_t>(t)] = static_cast<int64_t>(local.columns.size());
      local.columns.push_back(t);
    }
  for (size_t r = 0; r < local.rows.size(); ++r) row_of[static_cast<size_t>(local.rows[r])] = static_cast<int64_t>(r);

  // The local pattern: full rows keep every entry, partial rows the entries whose key is owned here.
  auto pattern = std::make_shared<Csr>();
  pattern->num_rows = static_cast<int64_t>(local.rows.size());
  pattern->num_cols = static_cast<int64_t>(local.columns.size());
  pattern->row_ptr.assign(1, 0);
  std::vector<int64_t> edge_local(static_cast<size_t>(g.nnz()), -1);
  for (size_t r = 0; r < local.rows.size(); ++r) {
    const int64_t i = local.rows[r];
    const bool full = static_cast<int64_t>(r) < local.full_rows;
    for (int64_t e = g.row_ptr[i]; e < g.row_ptr[i + 1]; ++e) {
      const VertexId j = g.col[e];
      if (!full && owner(j) != rank) continue;
      edge_local[static_cast<size_t>(e)] = static_cast<int64_t>(local.edge.size());
      local.edge.push_back(e);
      pattern->col.push_back(static_cast<VertexId>(col_of[static_cast<size_t>(j)]));
    }
    pattern->row_ptr.push_back(static_cast<int64_t>(pattern->col.size()));
  }

  if (graph.tiles) {
    auto tiles = std::make_shared<EdgeTiles>(restrict_tiles(*graph.tiles, row_of, col_of, edge_local, pattern->nnz()));
    tiles->index_rest(*pattern);
    local.tiles = std::move(tiles);
  }

  // Halo plan. Columns owned elsewhere (and not global) arrive from their owners, in column order; what
  // rank s reads of ours is what its full rows reference, in token (= s's column) order.
  const auto parts = static_cast<size_t>(split.parts);
  local.recv_from.assign(parts, {});
  local.send_to.assign(parts, {});
  for (size_t c = 0; c < local.columns.size(); ++c) {
    const int64_t t = local.columns[c];
    if (!is_global[static_cast<size_t>(t)] && owner(t) != rank) local.recv_from[static_cast<size_t>(owner(t))].push_back(static_cast<int64_t>(c));
  }
  std::vector<int64_t> owned_index(static_cast<size_t>(length), -1);
  for (size_t k = 0; k < local.owned.size(); ++k) owned_index[static_cast<size_t>(local.owned[k])] = static_cast<int64_t>(k);
  std::vector<std::vector<uint8_t>> wanted(parts);
  for (int64_t i = 0; i < length; ++i) {
    const int s = owner(i);
    if (s == rank || is_global[static_cast<size_t>(i)]) continue;
    auto& w = wanted[static_cast<size_t>(s)];
    if (w.empty()) w.assign(static_cast<size_t>(length), 0);
    for (int64_t e = g.row_ptr[i]; e < g.row_ptr[i + 1]; ++e) {
      const VertexId j = g.col[e];
      if (owner(j) == rank && !is_global[static_cast<size_t>(j)]) w[static_cast<size_t>(j)] = 1;
    }
  }
  for (size_t s = 0; s < parts; ++s) {
    if (wanted[s].empty()) continue;
    for (int64_t t = 0; t < length; ++t)
      if (wanted[s][static_cast<size_t>(t)]) local.send_to[s].push_back(owned_index[static_cast<size_t>(t)]);
  }
  for (VertexId t : graph.global_tokens) local.global_column.push_back(col_of[static_cast<size_t>(t)]);
  for (int64_t t : local.owned) local.owned_column.push_back(col_of[static_cast<size_t>(t)]);

  local.by_key = std::make_shared<const CsrTranspose>(transpose_with_edges(*pattern));
  local.by_query = std::move(pattern);
  return local;
}

}  // namespace relfm
