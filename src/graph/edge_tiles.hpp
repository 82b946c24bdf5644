// Dense tiles of a sparse pattern: sub-matrices (a set of rows x a set of keys) whose edges run as dense
// matrix products instead of edge by edge. Diffuser's attention graph has three regular parts that cover
// most of its edges (the local band, the rows of the global tokens, their columns); the random edges left
// over run through the pattern's CSR loops.
//
// A tile's rows (and its keys) are a contiguous range or an explicit list. Cell (r, c) names the edge of
// the pattern it stands for, or -1 when that cell is not one of this tile's edges (the products then see a
// zero there). Every edge lies in at most one tile, and tiled[e] says whether edge e does.
#pragma once

#include "src/graph/csr.hpp"

#include <cstdint>
#include <memory>
#include <vector>

namespace relfm {

// Indices [first, first + count), or the explicit list `ids` when it is not empty.
struct IndexSpan {
  int64_t first = 0, count = 0;
  std::vector<int64_t> ids;
  static IndexSpan range(int64_t first, int64_t count) { return {first, count, {}}; }
  static IndexSpan list(std::vector<int64_t> ids) {
    const auto n = static_cast<int64_t>(ids.size());
    return {0, n, std::move(ids)};
  }
  bool contiguous() const { return ids.empty(); }
  int64_t size() const { return count; }
  int64_t operator[](int64_t i) const { return ids.empty() ? first + i : ids[static_cast<size_t>(i)]; }
  // The same indices plus `offset`.
  IndexSpan shifted(int64_t offset) const;
};

struct EdgeTiles {
  struct Tile {
    IndexSpan rows, keys;
    std::vector<int64_t> edge;  // rows.size() x keys.size(), row-major; -1: not this tile's
    int64_t edge_at(int64_t r, int64_t c) const { return edge[static_cast<size_t>(r * keys.size() + c)]; }
  };
  // The edges in no tile, by row (keys increasing) and by key (rows increasing): the sparse loops walk
  // these alone, with no test per edge, in blocks of keys (or rows) that stay in cache.
  struct Rest {
    std::vector<int64_t> ptr;     // size rows + 1 (by row) or keys + 1 (by key)
    std::vector<VertexId> other;  // the key (by row) or the row (by key) of each entry
    std::vector<int64_t> edge;    // its edge in the pattern
  };
  std::vector<Tile> tiles;
  std::vector<uint8_t> tiled;  // per edge of the pattern
  Rest rest_by_row, rest_by_key;

  // Builds rest_by_row and rest_by_key from `tiled` (after the tiles are placed).
  void index_rest(const Csr& pattern);

  // Appends `other`'s tiles and marks (a pattern placed at rows and keys + token_offset, edges +
  // edge_offset in a block-diagonal pattern of several sequences); index_rest afterwards.
  void append(const EdgeTiles& other, int64_t token_offset, int64_t edge_offset);
  // Throws unless the tiles describe `pattern`: every named edge is the edge of its cell's row and key,
  // is marked tiled and lies in one tile only, every marked edge lies in a tile, and the rest lists hold
  // every other edge once (O(cells): for tests and for layouts built outside relfm).
  void check(const Csr& pattern) const;
};
using EdgeTilesPtr = std::shared_ptr<const EdgeTiles>;

}  // namespace relfm
