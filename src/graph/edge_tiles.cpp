#include "src/graph/edge_tiles.hpp"

#include "src/core/error.hpp"

#include <algorithm>
#include <utility>

namespace relfm {

IndexSpan IndexSpan::shifted(int64_t offset) const {
  IndexSpan s = *this;
  if (s.ids.empty()) {
    s.first += offset;
  } else {
    for (int64_t& i : s.ids) i += offset;
  }
  return s;
}

void EdgeTiles::append(const EdgeTiles& other, int64_t token_offset, int64_t edge_offset) {
  for (const Tile& t : other.tiles) {
    Tile s{t.rows.shifted(token_offset), t.keys.shifted(token_offset), t.edge};
    for (int64_t& e : s.edge)
      if (e >= 0) e += edge_offset;
    tiles.push_back(std::move(s));
  }
  tiled.insert(tiled.end(), other.tiled.begin(), other.tiled.end());
}

void EdgeTiles::index_rest(const Csr& pattern) {
  if (static_cast<int64_t>(tiled.size()) != pattern.nnz())
    fail("edge tiles: marks for {} edges, the pattern has {}", tiled.size(), pattern.nnz());
  rest_by_row = Rest{};
  rest_by_row.ptr.assign(1, 0);
  std::vector<int64_t> key_count(static_cast<size_t>(pattern.num_cols) + 1, 0);
  std::vector<std::pair<VertexId, int64_t>> row;  // (key, edge), sorted by key: the loops block by key
  for (int64_t i = 0; i < pattern.num_rows; ++i) {
    row.clear();
    for (int64_t e = pattern.row_ptr[i]; e < pattern.row_ptr[i + 1]; ++e)
      if (!tiled[static_cast<size_t>(e)]) row.emplace_back(pattern.col[e], e);
    std::sort(row.begin(), row.end());
    for (const auto& [key, e] : row) {
      rest_by_row.other.push_back(key);
      rest_by_row.edge.push_back(e);
      key_count[static_cast<size_t>(key) + 1] += 1;
    }
    rest_by_row.ptr.push_back(static_cast<int64_t>(rest_by_row.edge.size()));
  }
  for (int64_t j = 0; j < pattern.num_cols; ++j) key_count[j + 1] += key_count[j];
  rest_by_key = Rest{key_count, std::vector<VertexId>(rest_by_row.edge.size()), std::vector<int64_t>(rest_by_row.edge.size())};
  for (int64_t i = 0; i < pattern.num_rows; ++i)
    for (int64_t u = rest_by_row.ptr[i]; u < rest_by_row.ptr[i + 1]; ++u) {
      const int64_t at = key_count[static_cast<size_t>(rest_by_row.other[u])]++;
      rest_by_key.other[at] = static_cast<VertexId>(i);
      rest_by_key.edge[at] = rest_by_row.edge[u];
    }
}

void EdgeTiles::check(const Csr& pattern) const {
  const int64_t edges = pattern.nnz();
  if (static_cast<int64_t>(tiled.size()) != edges) fail("edge tiles: marks for {} edges, the pattern has {}", tiled.size(), edges);
  std::vector<uint8_t> seen(static_cast<size_t>(edges), 0);
  for (const Tile& t : tiles) {
    if (static_cast<int64_t>(t.edge.size()) != t.rows.size() * t.keys.size())
      fail("edge tiles: a {} x {} tile with {} cells", t.rows.size(), t.keys.size(), t.edge.size());
    for (int64_t r = 0; r < t.rows.size(); ++r) {
      const int64_t row = t.rows[r];
      if (row < 0 || row >= pattern.num_rows) fail("edge tiles: row {} outside the pattern's {}", row, pattern.num_rows);
      for (int64_t c = 0; c < t.keys.size(); ++c) {
        const int64_t e = t.edge_at(r, c);
        if (e < 0) continue;
        if (e < pattern.row_ptr[row] || e >= pattern.row_ptr[row + 1] || pattern.col[e] != t.keys[c])
          fail("edge tiles: cell (row {}, key {}) names edge {}, which is not that entry", row, t.keys[c], e);
        if (!tiled[static_cast<size_t>(e)] || seen[static_cast<size_t>(e)])
          fail("edge tiles: edge {} is unmarked or in two tiles", e);
        seen[static_cast<size_t>(e)] = 1;
      }
    }
  }
  for (int64_t e = 0; e < edges; ++e)
    if (tiled[static_cast<size_t>(e)] && !seen[static_cast<size_t>(e)]) fail("edge tiles: edge {} is marked but in no tile", e);
  // The rest: each untiled edge once by row (at its row, with its key) and once by key.
  if (static_cast<int64_t>(rest_by_row.ptr.size()) != pattern.num_rows + 1 || static_cast<int64_t>(rest_by_key.ptr.size()) != pattern.num_cols + 1)
    fail("edge tiles: the rest is not indexed for this pattern (index_rest)");
  for (const bool by_row : {true, false}) {
    const Rest& r = by_row ? rest_by_row : rest_by_key;
    std::vector<uint8_t> listed(static_cast<size_t>(edges), 0);
    for (size_t i = 0; i + 1 < r.ptr.size(); ++i)
      for (int64_t u = r.ptr[i]; u < r.ptr[i + 1]; ++u) {
        const int64_t e = r.edge[static_cast<size_t>(u)];
        const int64_t row = by_row ? static_cast<int64_t>(i) : r.other[u];
        const int64_t key = by_row ? r.other[u] : static_cast<int64_t>(i);
        if (e < 0 || e >= edges || tiled[static_cast<size_t>(e)] || listed[static_cast<size_t>(e)] || e < pattern.row_ptr[row] ||
            e >= pattern.row_ptr[row + 1] || pattern.col[e] != key)
          fail("edge tiles: the rest lists edge {} wrongly", e);
        listed[static_cast<size_t>(e)] = 1;
      }
    for (int64_t e = 0; e < edges; ++e)
      if (!tiled[static_cast<size_t>(e)] && !listed[static_cast<size_t>(e)]) fail("edge tiles: the rest misses edge {}", e);
  }
}

}  // namespace relfm
