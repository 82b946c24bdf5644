// A tile's edge values moved between the edge layout (nnz x heads, an edge's heads adjacent) and one dense
// row-major block per head (the operand of the tile's matrix products), for Diffuser's regular parts
// (src/graph/edge_tiles.hpp, ops_attention.cpp). 4 float heads take SIMD shuffles four cells at a time.
#pragma once

#include "src/core/types.hpp"
#include "src/graph/edge_tiles.hpp"

#include <cstdint>
#include <type_traits>
#include <vector>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

namespace relfm::tile_values {

#if defined(__SSE2__)
#define RELFM_FOUR_HEAD_CELLS 1  // gather/scatter_cells_four_heads exist for this ISA
#if defined(__AVX512F__) && defined(__AVX512DQ__) && defined(__AVX512VL__)
#define RELFM_FOUR_HEAD_BLOCKS 1  // four consecutive edges moved as one 64-byte block
#endif
// gather_tile for 4 heads of floats, four cells at a time; returns the cells done (a multiple of 4). Four
// holes are zeros; other groups load each present edge's 16 bytes (its four heads) and transpose the 4 x 4
// block to one quarter per head (SSE: a cell at a time stored four floats to four places and took 5% of an
// attention layer on Zen 3). With AVX-512, four cells whose edges follow each other (a band row, a global
// row: most cells) are one 64-byte block of values, cell-major, and one permute makes it head-major.
// Masked gathers per head cost 4x as much on Zen 5.
inline bool consecutive_edges(const int64_t* e) { return e[0] >= 0 && e[1] == e[0] + 1 && e[2] == e[0] + 2 && e[3] == e[0] + 3; }
inline int64_t gather_cells_four_heads(const float* values, const int64_t* edge, int64_t cells, float* o0, float* o1,
                                       float* o2, float* o3) {
#if defined(RELFM_FOUR_HEAD_BLOCKS)
  const __m512i to_heads = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
#endif
  int64_t q = 0;
  for (; q + 4 <= cells; q += 4) {
    const int64_t* e = edge + q;
    __m128 h0, h1, h2, h3;
#if defined(RELFM_FOUR_HEAD_BLOCKS)
    if (consecutive_edges(e)) {
      const __m512 block = _mm512_permutexvar_ps(to_heads, _mm512_loadu_ps(values + e[0] * 4));
      h0 = _mm512_extractf32x4_ps(block, 0);
      h1 = _mm512_extractf32x4_ps(block, 1);
      h2 = _mm512_extractf32x4_ps(block, 2);
      h3 = _mm512_extractf32x4_ps(block, 3);
    } else
#endif
    if ((e[0] & e[1] & e[2] & e[3]) < 0) {  // all four are holes (-1)
      h0 = h1 = h2 = h3 = _mm_setzero_ps();
    } else {  // four separate edges (or some holes): their 16-byte rows, transposed
      auto row = [&](int64_t k) { return e[k] >= 0 ? _mm_loadu_ps(values + e[k] * 4) : _mm_setzero_ps(); };
      h0 = row(0);
      h1 = row(1);
      h2 = row(2);
      h3 = row(3);
      _MM_TRANSPOSE4_PS(h0, h1, h2, h3);
    }
    _mm_storeu_ps(o0 + q, h0);
    _mm_storeu_ps(o1 + q, h1);
    _mm_storeu_ps(o2 + q, h2);
    _mm_storeu_ps(o3 + q, h3);
  }
  return q;
}
// The way back (scatter_tile), 4 heads of floats: values[edge] (+)= the cells' head values, four cells at
// a time; returns the cells done.
inline int64_t scatter_cells_four_heads(const float* d0, const float* d1, const float* d2, const float* d3, const int64_t* edge,
                                        int64_t cells, float* values, bool add) {
#if defined(RELFM_FOUR_HEAD_BLOCKS)
  const __m512i to_edges = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);  // its own inverse
#endif
  int64_t q = 0;
  for (; q + 4 <= cells; q += 4) {
    const int64_t* e = edge + q;
    if ((e[0] & e[1] & e[2] & e[3]) < 0) continue;  // four holes
    __m128 r0 = _mm_loadu_ps(d0 + q), r1 = _mm_loadu_ps(d1 + q), r2 = _mm_loadu_ps(d2 + q), r3 = _mm_loadu_ps(d3 + q);
#if defined(RELFM_FOUR_HEAD_BLOCKS)
    if (consecutive_edges(e)) {
      const __m512 heads = _mm512_insertf32x4(
          _mm512_insertf32x4(_mm512_insertf32x4(_mm512_castps128_ps512(r0), r1, 1), r2, 2), r3, 3);
      __m512 block = _mm512_permutexvar_ps(to_edges, heads);
      float* v = values + e[0] * 4;
      if (add) block = _mm512_add_ps(_mm512_loadu_ps(v), block);
      _mm512_storeu_ps(v, block);
      continue;
    }
#endif
    _MM_TRANSPOSE4_PS(r0, r1, r2, r3);  // now r_k = cell k's four heads
    const __m128 cell[4] = {r0, r1, r2, r3};
    for (int k = 0; k < 4; ++k) {
      if (e[k] < 0) continue;
      float* v = values + e[k] * 4;
      _mm_storeu_ps(v, add ? _mm_add_ps(_mm_loadu_ps(v), cell[k]) : cell[k]);
    }
  }
  return q;
}
#endif

// A tile's edge values (edge: nnz x heads) as one dense matrix per head, zero where a cell is not the
// tile's; and back (adding). One pass over the cells for all heads: an edge's heads are adjacent.
template <typename T>
void gather_tile(const Mat<T>& edge, const EdgeTiles::Tile& t, std::vector<Mat<T>>& out) {
  const int64_t heads = edge.cols(), cells = t.rows.size() * t.keys.size();
  out.resize(static_cast<size_t>(heads));
  for (auto& m : out) m.resize(t.rows.size(), t.keys.size());
  // Cell q of the tile (row-major, as t.edge) is element q of each head's row-major block.
  int64_t q = 0;
#if defined(RELFM_FOUR_HEAD_CELLS)
  if constexpr (std::is_same_v<T, float>)
    if (heads == 4) q = gather_cells_four_heads(edge.data(), t.edge.data(), cells, out[0].data(), out[1].data(), out[2].data(), out[3].data());
#endif
#if defined(__AVX512F__) && defined(__AVX512DQ__)
  if constexpr (std::is_same_v<T, float>) {  // 8 cells a head at a time, one masked gather each
    const __m512i width = _mm512_set1_epi64(heads);
    for (; q + 8 <= cells; q += 8) {
      const __m512i e = _mm512_loadu_si512(t.edge.data() + q);
      const __mmask8 mine = _mm512_cmpge_epi64_mask(e, _mm512_setzero_si512());
      const __m512i first = _mm512_mullo_epi64(e, width);
      for (int64_t h = 0; h < heads; ++h)
        _mm256_storeu_ps(out[static_cast<size_t>(h)].data() + q,
                         _mm512_mask_i64gather_ps(_mm256_setzero_ps(), mine, _mm512_add_epi64(first, _mm512_set1_epi64(h)),
                                                  edge.data(), 4));
    }
  }
#endif
  for (; q < cells; ++q) {
    const int64_t e = t.edge[static_cast<size_t>(q)];
    const T* v = e >= 0 ? edge.row(e).data() : nullptr;
    for (int64_t h = 0; h < heads; ++h) out[static_cast<size_t>(h)].data()[q] = v ? v[h] : T(0);
  }
}
// add = false overwrites the tile's edges instead.
template <typename T>
void scatter_tile(const std::vector<Mat<T>>& dense, const EdgeTiles::Tile& t, T* edge, int64_t heads, bool add = true) {
  const int64_t cells = t.rows.size() * t.keys.size();
  int64_t q = 0;
#if defined(RELFM_FOUR_HEAD_CELLS)
  if constexpr (std::is_same_v<T, float>)
    if (heads == 4)
      q = scatter_cells_four_heads(dense[0].data(), dense[1].data(), dense[2].data(), dense[3].data(), t.edge.data(), cells, edge, add);
#endif
  for (; q < cells; ++q) {  // cell q is element q of each head's row-major block
    const int64_t e = t.edge[static_cast<size_t>(q)];
    if (e < 0) continue;
    T* v = edge + e * heads;
    for (int64_t h = 0; h < heads; ++h) v[h] = (add ? v[h] : T(0)) + dense[static_cast<size_t>(h)].data()[q];
  }
}

}  // namespace relfm::tile_values
