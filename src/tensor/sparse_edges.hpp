// The random edges of an attention pattern, walked in cache blocks (ops_attention.cpp's sparse half): the
// edges no dense tile holds, by row or by key, and the kernels that run over them. Internal to the ops.
#pragma once

#include "src/graph/csr.hpp"
#include "src/graph/edge_tiles.hpp"
#include "src/tensor/tape.hpp"

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

#include <algorithm>
#include <type_traits>
#include <vector>

namespace relfm::sparse {

template <typename T>
inline void axpy_row(T* __restrict y, const T* __restrict x, T a, int64_t d) {
  for (int64_t c = 0; c < d; ++c) y[c] += a * x[c];
}
// The random edges' kernels work on runs: the edges of one row (or key) that fall in one cache block of
// the other side. A run's own row stays in registers or L1 while the run's other rows stream in, and
// the head count and head width are compile-time constants for the usual shapes (so the head loops
// unroll into whole vectors); other shapes take the generic loops.
//
// y[head h] += sum_u w[edge[u], h] x[other[u], head h] over one run; edge == nullptr: w holds the run's
// values in run order (w[u, h]), copied there once for all the products over the same values, so that a
// pass whose edges are scattered over the pattern (by key) reads them in sequence.
template <int H, int DH, typename T>
void accumulate_run_fixed(T* __restrict y, const T* __restrict x, int64_t ldx, const T* __restrict w, const int64_t* edge,
                          const VertexId* other, int64_t n) {
  T acc[H * DH] = {};
  for (int64_t u = 0; u < n; ++u) {
    const T* wk = w + (edge ? edge[u] : u) * H;
    const T* xj = x + other[u] * ldx;
    for (int h = 0; h < H; ++h) {
      const T a = wk[h];
      for (int c = 0; c < DH; ++c) acc[h * DH + c] += a * xj[h * DH + c];
    }
  }
  for (int c = 0; c < H * DH; ++c) y[c] += acc[c];
}
// accumulate_run_fixed over a transposed run (edge == nullptr, w in run order) that also takes, from the
// rows it gathers anyway, a product for each edge: grad[u, h] += scale * x[other[u], head h] . z[head h],
// z being the run's own row (head h at z + h * z_head_stride). Diffuser's backward hops take the gradient
// of the random edges' values this way instead of gathering each edge's other row again for it.
template <int H, int DH, typename T>
void accumulate_dot_run_fixed(T* __restrict y, const T* __restrict x, int64_t ldx, const T* __restrict w, const VertexId* other,
                              int64_t n, const T* __restrict z, int64_t z_head_stride, T scale, T* __restrict grad) {
  using Slice = Eigen::Map<const Eigen::Matrix<T, DH, 1>>;
  T acc[H * DH] = {};
  for (int64_t u = 0; u < n; ++u) {
    const T* wk = w + u * H;
    const T* xj = x + other[u] * ldx;
    for (int h = 0; h < H; ++h) {
      const T a = wk[h];
      for (int c = 0; c < DH; ++c) acc[h * DH + c] += a * xj[h * DH + c];
    }
    for (int h = 0; h < H; ++h) grad[u * H + h] += scale * Slice(xj + h * DH).dot(Slice(z + h * z_head_stride));
  }
  for (int c = 0; c < H * DH; ++c) y[c] += acc[c];
}
#if defined(__AVX512F__)
// The lane sums of four vectors at once, as four floats (a 4 x 16 transpose-and-add): cheaper than one
// horizontal sum per head, which had made the random edges' per-head dots cost as much as their gathers.
inline __m128 lane_sums_of_four(__m512 a, __m512 b, __m512 c, __m512 d) {
  // 128-bit blocks: (a's halves added, b's), (c's, d's), then one block per vector, then within blocks
  const __m512 ab = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xEE));
  const __m512 cd = _mm512_add_ps(_mm512_shuffle_f32x4(c, d, 0x44), _mm512_shuffle_f32x4(c, d, 0xEE));
  const __m512 s = _mm512_add_ps(_mm512_shuffle_f32x4(ab, cd, 0x88), _mm512_shuffle_f32x4(ab, cd, 0xDD));
  const __m512 s2 = _mm512_add_ps(s, _mm512_permute_ps(s, 0x4E));
  const __m512 s3 = _mm512_add_ps(s2, _mm512_permute_ps(s2, 0xB1));  // vector k's sum in lane 4 k
  return _mm512_castps512_ps128(_mm512_permutexvar_ps(_mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), s3));
}
// The usual shape (4 float heads of 64) in AVX-512.
template <>
inline void accumulate_dot_run_fixed<4, 64, float>(float* __restrict y, const float* __restrict x, int64_t ldx,
                                                    const float* __restrict w, const VertexId* other, int64_t n,
                                                    const float* __restrict z, int64_t z_head_stride, float scale,
                                                    float* __restrict grad) {
  __m512 acc[16];
  for (auto& a : acc) a = _mm512_setzero_ps();
  const __m128 scale4 = _mm_set1_ps(scale);
  for (int64_t u = 0; u < n; ++u) {
    const float* xj = x + other[u] * ldx;
    __m512 dot[4];
    for (int h = 0; h < 4; ++h) {
      const __m512 a = _mm512_set1_ps(w[u * 4 + h]);
      const float* zh = z + h * z_head_stride;
      __m512 d = _mm512_setzero_ps();
      for (int c = 0; c < 4; ++c) {
        const __m512 v = _mm512_loadu_ps(xj + h * 64 + c * 16);
        acc[h * 4 + c] = _mm512_fmadd_ps(a, v, acc[h * 4 + c]);
        d = _mm512_fmadd_ps(v, _mm512_loadu_ps(zh + c * 16), d);
      }
      dot[h] = d;
    }
    _mm_storeu_ps(grad + u * 4, _mm_fmadd_ps(scale4, lane_sums_of_four(dot[0], dot[1], dot[2], dot[3]), _mm_loadu_ps(grad + u * 4)));
  }
  for (int c = 0; c < 16; ++c) _mm512_storeu_ps(y + c * 16, _mm512_add_ps(_mm512_loadu_ps(y + c * 16), acc[c]));
}
#endif
// out[edge[u], h] (= or +=) scale * a[head h] . b[other[u], head h] over one run.
template <int H, int DH, typename T>
void dot_run_fixed(const T* __restrict a, const T* __restrict b, int64_t ldb, T scale, bool accumulate, T* __restrict out,
                   const int64_t* edge, const VertexId* other, int64_t n) {
  for (int64_t u = 0; u < n; ++u) {
    const T* bj = b + other[u] * ldb;
    T* o = out + edge[u] * H;
    for (int h = 0; h < H; ++h) {
      using Slice = Eigen::Map<const Eigen::Matrix<T, DH, 1>>;  // fixed size: Eigen's dot reduces in SIMD lanes
      const T v = scale * Slice(a + h * DH).dot(Slice(bj + h * DH));
      o[h] = accumulate ? o[h] + v : v;
    }
  }
}

#if defined(__AVX512F__)
template <>
inline void dot_run_fixed<4, 64, float>(const float* __restrict a, const float* __restrict b, int64_t ldb, float scale, bool accumulate,
                                        float* __restrict out, const int64_t* edge, const VertexId* other, int64_t n) {
  __m512 ai[16];  // the run's own row, in registers for the whole run
  for (int c = 0; c < 16; ++c) ai[c] = _mm512_loadu_ps(a + c * 16);
  const __m128 scale4 = _mm_set1_ps(scale);
  for (int64_t u = 0; u < n; ++u) {
    const float* bj = b + other[u] * ldb;
    __m512 dot[4];
    for (int h = 0; h < 4; ++h) {
      __m512 d = _mm512_mul_ps(ai[h * 4], _mm512_loadu_ps(bj + h * 64));
      for (int c = 1; c < 4; ++c) d = _mm512_fmadd_ps(ai[h * 4 + c], _mm512_loadu_ps(bj + h * 64 + c * 16), d);
      dot[h] = d;
    }
    float* o = out + edge[u] * 4;
    const __m128 v = _mm_mul_ps(scale4, lane_sums_of_four(dot[0], dot[1], dot[2], dot[3]));
    _mm_storeu_ps(o, accumulate ? _mm_add_ps(_mm_loadu_ps(o), v) : v);
  }
}
#endif

#if defined(__AVX2__) && defined(__FMA__) && !defined(__AVX512F__)
// The usual shape (4 float heads of 64) on AVX2 CPUs (AMD Zen 2/3, Intel before Skylake-SP). AVX2 has 16
// vector registers: the generic loops' 4 x 64 accumulator (32 vectors) spills to the stack on every edge,
// so these walk a run once per head with that head's 8 vectors in registers. Each pass reads only its
// head's quarter of the other rows, so the rows are still read once in all.
inline float lane_sum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}
// to[k * 4] += scale * (the lane sum of v[k]) for k < count: four vectors' sums by three horizontal adds
// instead of a horizontal sum each (which had cost as much as the edges' products).
inline void add_lane_sums(const __m256* v, int64_t count, float scale, float* to) {
  const __m256 ab = _mm256_hadd_ps(v[0], v[1]), cd = _mm256_hadd_ps(v[2], v[3]);
  const __m256 abcd = _mm256_hadd_ps(ab, cd);  // per 128-bit half: partial sums of v[0..3]
  alignas(16) float sums[4];
  _mm_store_ps(sums, _mm_mul_ps(_mm_set1_ps(scale), _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1))));
  for (int64_t k = 0; k < count; ++k) to[k * 4] += sums[k];
}
template <>
inline void accumulate_run_fixed<4, 64, float>(float* __restrict y, const float* __restrict x, int64_t ldx, const float* __restrict w,
                                               const int64_t* edge, const VertexId* other, int64_t n) {
  for (int h = 0; h < 4; ++h) {
    __m256 acc[8];
    for (auto& a : acc) a = _mm256_setzero_ps();
    for (int64_t u = 0; u < n; ++u) {
      const __m256 a = _mm256_set1_ps(w[(edge ? edge[u] : u) * 4 + h]);
      const float* xj = x + other[u] * ldx + h * 64;
      for (int c = 0; c < 8; ++c) acc[c] = _mm256_fmadd_ps(a, _mm256_loadu_ps(xj + c * 8), acc[c]);
    }
    for (int c = 0; c < 8; ++c) _mm256_storeu_ps(y + h * 64 + c * 8, _mm256_add_ps(_mm256_loadu_ps(y + h * 64 + c * 8), acc[c]));
  }
}
template <>
inline void accumulate_dot_run_fixed<4, 64, float>(float* __restrict y, const float* __restrict x, int64_t ldx,
                                                   const float* __restrict w, const VertexId* other, int64_t n,
                                                   const float* __restrict z, int64_t z_head_stride, float scale,
                                                   float* __restrict grad) {
  for (int h = 0; h < 4; ++h) {
    __m256 acc[8];
    for (auto& a : acc) a = _mm256_setzero_ps();
    const float* zh = z + h * z_head_stride;
    __m256 pending[4] = {};  // the last edges' dot vectors, reduced four at a time
    for (int64_t u = 0; u < n; ++u) {
      const __m256 a = _mm256_set1_ps(w[u * 4 + h]);
      const float* xj = x + other[u] * ldx + h * 64;
      __m256 d0 = _mm256_setzero_ps(), d1 = _mm256_setzero_ps();  // two chains: half the FMA latency per edge
      for (int c = 0; c < 8; c += 2) {
        const __m256 v0 = _mm256_loadu_ps(xj + c * 8), v1 = _mm256_loadu_ps(xj + c * 8 + 8);
        acc[c] = _mm256_fmadd_ps(a, v0, acc[c]);
        acc[c + 1] = _mm256_fmadd_ps(a, v1, acc[c + 1]);
        d0 = _mm256_fmadd_ps(v0, _mm256_loadu_ps(zh + c * 8), d0);
        d1 = _mm256_fmadd_ps(v1, _mm256_loadu_ps(zh + c * 8 + 8), d1);
      }
      pending[u & 3] = _mm256_add_ps(d0, d1);
      if ((u & 3) == 3) add_lane_sums(pending, 4, scale, grad + (u - 3) * 4 + h);
    }
    if (n & 3) add_lane_sums(pending, n & 3, scale, grad + (n & ~int64_t(3)) * 4 + h);
    for (int c = 0; c < 8; ++c) _mm256_storeu_ps(y + h * 64 + c * 8, _mm256_add_ps(_mm256_loadu_ps(y + h * 64 + c * 8), acc[c]));
  }
}
template <>
inline void dot_run_fixed<4, 64, float>(const float* __restrict a, const float* __restrict b, int64_t ldb, float scale, bool accumulate,
                                        float* __restrict out, const int64_t* edge, const VertexId* other, int64_t n) {
  for (int h = 0; h < 4; ++h) {
    __m256 ah[8];  // the run's own row's head h, in registers for the pass
    for (int c = 0; c < 8; ++c) ah[c] = _mm256_loadu_ps(a + h * 64 + c * 8);
    for (int64_t u = 0; u < n; ++u) {
      const float* bj = b + other[u] * ldb + h * 64;
      __m256 d0 = _mm256_mul_ps(ah[0], _mm256_loadu_ps(bj)), d1 = _mm256_mul_ps(ah[1], _mm256_loadu_ps(bj + 8));
      for (int c = 2; c < 8; c += 2) {
        d0 = _mm256_fmadd_ps(ah[c], _mm256_loadu_ps(bj + c * 8), d0);
        d1 = _mm256_fmadd_ps(ah[c + 1], _mm256_loadu_ps(bj + c * 8 + 8), d1);
      }
      float& o = out[edge[u] * 4 + h];
      const float v = scale * lane_sum(_mm256_add_ps(d0, d1));
      o = accumulate ? o + v : v;
    }
  }
}
#endif

// Calls kernel(integral_constant H, integral_constant DH) for the usual shapes; false for the others.
template <typename K>
bool with_fixed_heads(int64_t heads, int64_t dh, K&& kernel) {
  auto width = [&](auto h) {
    switch (dh) {
      case 16: kernel(h, std::integral_constant<int, 16>()); return true;
      case 32: kernel(h, std::integral_constant<int, 32>()); return true;
      case 64: kernel(h, std::integral_constant<int, 64>()); return true;
      case 128: kernel(h, std::integral_constant<int, 128>()); return true;
      // Diffuser's hop-stacked widths (K = 5 hops of 32 or 64): the gradient of A sums over the hops in one dot.
      case 160: kernel(h, std::integral_constant<int, 160>()); return true;
      case 320: kernel(h, std::integral_constant<int, 320>()); return true;
      default: return false;
    }
  };
  switch (heads) {
    case 1: return width(std::integral_constant<int, 1>());
    case 2: return width(std::integral_constant<int, 2>());
    case 4: return width(std::integral_constant<int, 4>());
    case 8: return width(std::integral_constant<int, 8>());
    default: return false;
  }
}

template <typename T>
void accumulate_run(T* y, const T* x, int64_t ldx, const T* w, int64_t heads, int64_t dh, const int64_t* edge,
                    const VertexId* other, int64_t n) {
  if (with_fixed_heads(heads, dh, [&](auto h, auto width) {
        accumulate_run_fixed<decltype(h)::value, decltype(width)::value>(y, x, ldx, w, edge, other, n);
      }))
    return;
  for (int64_t u = 0; u < n; ++u)
    for (int64_t h = 0; h < heads; ++h)
      axpy_row(y + h * dh, x + other[u] * ldx + h * dh, w[(edge ? edge[u] : u) * heads + h], dh);
}

// Eigen's dot: it reassociates the sum into SIMD lanes, which a plain loop may not (strict float order
// turns a 32-long dot into 32 dependent additions).
template <typename T>
inline T dot_row(const T* a, const T* b, int64_t d) {
  using Row = Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>;
  return Row(a, d).dot(Row(b, d));
}


// The edges the CSR loops handle: all of the pattern's, or those its tiles leave (then without a test per
// edge); by row, and by key when the tiles or the transpose index them (backward passes then gather).
class SparseEdges {
 public:
  SparseEdges(const Csr& pattern, const EdgeTiles* tiles, const CsrTranspose* transposed)
      : pattern_(pattern), tiles_(tiles), transposed_(transposed) {}
  // f(edge, key) for row i's edges.
  template <typename F>
  void row(int64_t i, F&& f) const {
    if (tiles_) {
      const EdgeTiles::Rest& r = tiles_->rest_by_row;
      for (int64_t u = r.ptr[i]; u < r.ptr[i + 1]; ++u) f(r.edge[u], static_cast<int64_t>(r.other[u]));
    } else {
      for (int64_t k = pattern_.row_ptr[i]; k < pattern_.row_ptr[i + 1]; ++k) f(k, static_cast<int64_t>(pattern_.col[k]));
    }
  }
  bool by_key() const { return tiles_ || transposed_; }
  // f(edge, row, key) for every edge. With tiles, by blocks of `block` keys (rows in order within a
  // block, keys increasing within a row, so each row still sums in key order): the key-side rows that one
  // block touches stay in cache instead of being fetched from all over memory edge after edge.
  template <typename F>
  void each_by_key_blocks(int64_t block, F&& f) const {
    if (!tiles_) {
      for (int64_t i = 0; i < pattern_.num_rows; ++i) row(i, [&](int64_t k, int64_t j) { f(k, i, j); });
      return;
    }
    blocked(tiles_->rest_by_row, pattern_.num_cols, block, [&](int64_t e, int64_t i, int64_t j) { f(e, i, j); });
  }
  // With tiles: run(row, edges, keys, n) for the runs of each row's rest edges that fall in one block of
  // `block` keys, blocks in order (as each_by_key_blocks, a run at a time). Without tiles: false.
  template <typename F>
  bool each_run_by_key_blocks(int64_t block, F&& run) const {
    if (!tiles_) return false;
    const EdgeTiles::Rest& r = tiles_->rest_by_row;
    blocked_runs(r, pattern_.num_cols, block, [&](int64_t i, int64_t b, int64_t e) { run(i, r.edge.data() + b, r.other.data() + b, e - b); });
    return true;
  }
  // The same by keys: run(key, edges, rows, n) over blocks of `block` rows. Without tiles: false.
  template <typename F>
  bool each_run_by_row_blocks(int64_t block, F&& run) const {
    if (!tiles_) return false;
    const EdgeTiles::Rest& r = tiles_->rest_by_key;
    blocked_runs(r, pattern_.num_rows, block, [&](int64_t j, int64_t b, int64_t e) { run(j, r.edge.data() + b, r.other.data() + b, e - b); });
    return true;
  }
  // f(edge, key, row) for every edge, keys in order, by blocks of `block` rows (by_key() only).
  template <typename F>
  void each_by_row_blocks(int64_t block, F&& f) const {
    if (!tiles_) {
      for (int64_t j = 0; j < pattern_.num_cols; ++j) key(j, [&](int64_t e, int64_t i) { f(e, j, i); });
      return;
    }
    blocked(tiles_->rest_by_key, pattern_.num_rows, block, f);
  }
  // f(edge, row) for key j's edges (by_key() only).
  template <typename F>
  void key(int64_t j, F&& f) const {
    if (tiles_) {
      const EdgeTiles::Rest& r = tiles_->rest_by_key;
      for (int64_t u = r.ptr[j]; u < r.ptr[j + 1]; ++u) f(r.edge[u], static_cast<int64_t>(r.other[u]));
    } else {
      const Csr& t = transposed_->csr;
      for (int64_t u = t.row_ptr[j]; u < t.row_ptr[j + 1]; ++u) f(transposed_->edge[u], static_cast<int64_t>(t.col[u]));
    }
  }

 private:
  // f(edge, list, other) over a rest list whose entries increase in `other` within each list, by blocks of
  // `block` of `others` values.
  template <typename F>
  static void blocked(const EdgeTiles::Rest& r, int64_t others, int64_t block, F&& f) {
    blocked_runs(r, others, block, [&](int64_t i, int64_t begin, int64_t end) {
      for (int64_t u = begin; u < end; ++u) f(r.edge[u], i, static_cast<int64_t>(r.other[u]));
    });
  }
  // run(list, begin, end): the entries [begin, end) of `list` that fall in the current block.
  template <typename F>
  static void blocked_runs(const EdgeTiles::Rest& r, int64_t others, int64_t block, F&& run) {
    const auto lists = static_cast<int64_t>(r.ptr.size()) - 1;
    std::vector<int64_t> cursor(r.ptr.begin(), r.ptr.end() - 1);
    for (int64_t lo = 0; lo < others; lo += block) {
      const int64_t hi = lo + block;
      for (int64_t i = 0; i < lists; ++i) {
        int64_t& u = cursor[static_cast<size_t>(i)];
        const int64_t begin = u, end = r.ptr[i + 1];
        while (u < end && r.other[u] < hi) ++u;
        if (u > begin) run(i, begin, u);
      }
    }
  }
  const Csr& pattern_;
  const EdgeTiles* tiles_;
  const CsrTranspose* transposed_;
};

// Bytes of the other side's rows per cache block of the blocked sparse loops. The default depends on the
// CPU, as measured at L = 4k and 16k (d = 256, one attention layer forward + backward):
// - Intel: 1 MB, half the Xeon's L2 (4k: 0.28 s, against 0.35 s at 512 KB or 4 MB and 0.36 s unblocked);
// - AMD: 4 MB, a core's share of a Zen CCD's L3 (32 MB for 8 cores), which answers fast enough that
//   L2-sized blocks only add passes over shorter runs. Zen 5 (1 MB L2), 16k: one rank 2.28 s at 1 MB,
//   1.28 s at 4 MB, 1.17 s at 8 MB; two ranks sharing the L3 1.35 s at 1 MB, 0.91 s at 4 MB, 0.95 s at 8 MB.
//   A full node runs a rank on every core, so a core's share is the size to plan for.
// A block size changes only where a row's sum is split into runs (the rounding of one addition per run),
// never which edges are summed or in which order.
int64_t cache_block_bytes();
// Sets it for this process (tests; tuning on another CPU); 0 restores the CPU's default.
void set_cache_block_bytes(int64_t bytes);

// Rows of `width` elements of T per cache block.
template <typename T>
int64_t cache_block_rows(int64_t width) {
  return std::max<int64_t>(16, cache_block_bytes() / std::max<int64_t>(1, width * static_cast<int64_t>(sizeof(T))));
}

}  // namespace relfm::sparse
