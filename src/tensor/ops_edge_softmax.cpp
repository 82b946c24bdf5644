// Softmax over each row's entries of a sparse pattern, per head column: the attention weights of each
// query over its keys (Diffuser, ops_attention.cpp).
#include "src/tensor/ops.hpp"
#include "src/tensor/op_util.hpp"

#include <cmath>
#include <type_traits>

#include <immintrin.h>

namespace relfm {

namespace detail {

#if defined(__AVX512F__)
namespace {

// 4 heads of floats: a row's n edges are 4n consecutive floats, lane l of a 16-wide vector holding head
// l % 4. Whole vectors, the last one masked; per-head results are reduced across the four edges a vector
// holds and broadcast back in the same lane pattern.
constexpr int64_t kLanes = 16;
inline __mmask16 tail_mask(int64_t left) { return left >= kLanes ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1u); }
// Lanes l, l + 4, l + 8, l + 12 combined by op: every lane then holds its head's result.
template <typename Op>
inline __m512 per_head(__m512 v, Op op) {
  v = op(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(1, 0, 3, 2)));  // swap 256-bit halves
  return op(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(2, 3, 0, 1)));  // swap 128-bit quarters
}

void softmax_row_four_heads(const float* s, float* a, int64_t n) {
  const int64_t m = 4 * n;
  __m512 mx = _mm512_set1_ps(-INFINITY);
  for (int64_t k = 0; k < m; k += kLanes) mx = _mm512_max_ps(mx, _mm512_mask_loadu_ps(mx, tail_mask(m - k), s + k));
  mx = per_head(mx, [](__m512 x, __m512 y) { return _mm512_max_ps(x, y); });
  for (int64_t k = 0; k < m; k += kLanes) {
    const __mmask16 mask = tail_mask(m - k);
    _mm512_mask_storeu_ps(a + k, mask, _mm512_sub_ps(_mm512_maskz_loadu_ps(mask, s + k), mx));
  }
  exp_in_place(a, m);
  __m512 total = _mm512_setzero_ps();
  for (int64_t k = 0; k < m; k += kLanes) total = _mm512_add_ps(total, _mm512_maskz_loadu_ps(tail_mask(m - k), a + k));
  const __m512 inverse = _mm512_div_ps(_mm512_set1_ps(1.0f), per_head(total, [](__m512 x, __m512 y) { return _mm512_add_ps(x, y); }));
  for (int64_t k = 0; k < m; k += kLanes) {
    const __mmask16 mask = tail_mask(m - k);
    _mm512_mask_storeu_ps(a + k, mask, _mm512_mul_ps(_mm512_maskz_loadu_ps(mask, a + k), inverse));
  }
}

void softmax_row_backward_four_heads(const float* a, const float* g, float* gs, int64_t n) {
  const int64_t m = 4 * n;
  __m512 dot = _mm512_setzero_ps();
  for (int64_t k = 0; k < m; k += kLanes) {
    const __mmask16 mask = tail_mask(m - k);
    dot = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, a + k), _mm512_maskz_loadu_ps(mask, g + k), dot);
  }
  dot = per_head(dot, [](__m512 x, __m512 y) { return _mm512_add_ps(x, y); });
  for (int64_t k = 0; k < m; k += kLanes) {
    const __mmask16 mask = tail_mask(m - k);
    const __m512 av = _mm512_maskz_loadu_ps(mask, a + k), gv = _mm512_maskz_loadu_ps(mask, g + k);
    _mm512_mask_storeu_ps(gs + k, mask, _mm512_mul_ps(av, _mm512_sub_ps(gv, dot)));
  }
}

}  // namespace
#define RELFM_SOFTMAX_FOUR_HEADS 1
#elif defined(__AVX2__) && defined(__FMA__)
namespace {

// The same on AVX2 CPUs: 8 lanes (two edges of 4 heads; lane l holds head l % 4), the last vector half
// (an odd edge count: the row's values are 4n floats) by a masked load and store.
constexpr int64_t kLanes = 8;
inline __m256i tail_mask(int64_t left) { return left >= kLanes ? _mm256_set1_epi32(-1) : _mm256_setr_epi32(-1, -1, -1, -1, 0, 0, 0, 0); }
// Lanes l and l + 4 combined by op: every lane then holds its head's result.
template <typename Op>
inline __m256 per_head(__m256 v, Op op) {
  return op(v, _mm256_permute2f128_ps(v, v, 1));  // swap 128-bit halves
}

void softmax_row_four_heads(const float* s, float* a, int64_t n) {
  const int64_t m = 4 * n;
  const __m256 lowest = _mm256_set1_ps(-INFINITY);
  __m256 mx = lowest;
  for (int64_t k = 0; k < m; k += kLanes) {
    const __m256i mask = tail_mask(m - k);
    mx = _mm256_max_ps(mx, _mm256_blendv_ps(lowest, _mm256_maskload_ps(s + k, mask), _mm256_castsi256_ps(mask)));
  }
  mx = per_head(mx, [](__m256 x, __m256 y) { return _mm256_max_ps(x, y); });
  for (int64_t k = 0; k < m; k += kLanes) {
    const __m256i mask = tail_mask(m - k);
    _mm256_maskstore_ps(a + k, mask, _mm256_sub_ps(_mm256_maskload_ps(s + k, mask), mx));
  }
  exp_in_place(a, m);
  __m256 total = _mm256_setzero_ps();
  for (int64_t k = 0; k < m; k += kLanes) total = _mm256_add_ps(total, _mm256_maskload_ps(a + k, tail_mask(m - k)));
  const __m256 inverse = _mm256_div_ps(_mm256_set1_ps(1.0f), per_head(total, [](__m256 x, __m256 y) { return _mm256_add_ps(x, y); }));
  for (int64_t k = 0; k < m; k += kLanes) {
    const __m256i mask = tail_mask(m - k);
    _mm256_maskstore_ps(a + k, mask, _mm256_mul_ps(_mm256_maskload_ps(a + k, mask), inverse));
  }
}

void softmax_row_backward_four_heads(const float* a, const float* g, float* gs, int64_t n) {
  const int64_t m = 4 * n;
  __m256 dot = _mm256_setzero_ps();
  for (int64_t k = 0; k < m; k += kLanes) {
    const __m256i mask = tail_mask(m - k);
    dot = _mm256_fmadd_ps(_mm256_maskload_ps(a + k, mask), _mm256_maskload_ps(g + k, mask), dot);
  }
  dot = per_head(dot, [](__m256 x, __m256 y) { return _mm256_add_ps(x, y); });
  for (int64_t k = 0; k < m; k += kLanes) {
    const __m256i mask = tail_mask(m - k);
    const __m256 av = _mm256_maskload_ps(a + k, mask), gv = _mm256_maskload_ps(g + k, mask);
    _mm256_maskstore_ps(gs + k, mask, _mm256_mul_ps(av, _mm256_sub_ps(gv, dot)));
  }
}

}  // namespace
#define RELFM_SOFTMAX_FOUR_HEADS 1
#endif

template <typename T>
void edge_softmax_rows(const Csr& p, const Mat<T>& sv, Mat<T>& a, int64_t first, int64_t end) {
  // A row's edges are consecutive rows of the nnz x H matrices, so a query's values are one contiguous,
  // cache-resident run: shifted by the heads' maxima, exponentiated (floats and doubles by Eigen's
  // vectorised exp in one call over the run), and normalised, in one visit.
  const int64_t heads = sv.cols();
#if defined(RELFM_SOFTMAX_FOUR_HEADS)
  if constexpr (std::is_same_v<T, float>)
    if (heads == 4) {
      for (int64_t i = first; i < end; ++i)
        if (p.row_ptr[i + 1] > p.row_ptr[i])
          softmax_row_four_heads(&sv(p.row_ptr[i], 0), &a(p.row_ptr[i], 0), p.row_ptr[i + 1] - p.row_ptr[i]);
      return;
    }
#endif
  std::vector<T> mx(static_cast<size_t>(heads)), total(static_cast<size_t>(heads));
  for (int64_t i = first; i < end; ++i) {
    const int64_t b = p.row_ptr[i], e = p.row_ptr[i + 1];
    if (b == e) continue;
    for (int64_t h = 0; h < heads; ++h) mx[h] = sv(b, h);
    for (int64_t k = b + 1; k < e; ++k)
      for (int64_t h = 0; h < heads; ++h) mx[h] = sv(k, h) > mx[h] ? sv(k, h) : mx[h];
    for (int64_t k = b; k < e; ++k)
      for (int64_t h = 0; h < heads; ++h) a(k, h) = sv(k, h) - mx[h];
    exp_in_place(&a(b, 0), (e - b) * heads);
    std::fill(total.begin(), total.end(), T(0));
    for (int64_t k = b; k < e; ++k)
      for (int64_t h = 0; h < heads; ++h) total[h] += a(k, h);
    for (int64_t h = 0; h < heads; ++h) total[h] = T(1) / total[h];
    for (int64_t k = b; k < e; ++k)
      for (int64_t h = 0; h < heads; ++h) a(k, h) *= total[h];
  }
}

template <typename T>
void edge_softmax_rows_backward(const Csr& p, const Mat<T>& a, const Mat<T>& g, Mat<T>& gs, int64_t first, int64_t end) {
  const int64_t heads = a.cols();
#if defined(RELFM_SOFTMAX_FOUR_HEADS)
  if constexpr (std::is_same_v<T, float>)
    if (heads == 4) {
      for (int64_t i = first; i < end; ++i) {
        const int64_t b = p.row_ptr[i];
        if (p.row_ptr[i + 1] > b) softmax_row_backward_four_heads(&a(b, 0), &g(b, 0), &gs(b, 0), p.row_ptr[i + 1] - b);
      }
      return;
    }
#endif
  std::vector<T> dot(static_cast<size_t>(heads));
  for (int64_t i = first; i < end; ++i) {
    std::fill(dot.begin(), dot.end(), T(0));
    for (int64_t k = p.row_ptr[i]; k < p.row_ptr[i + 1]; ++k)
      for (int64_t h = 0; h < heads; ++h) dot[h] += a(k, h) * g(k, h);
    for (int64_t k = p.row_ptr[i]; k < p.row_ptr[i + 1]; ++k)
      for (int64_t h = 0; h < heads; ++h) gs(k, h) = a(k, h) * (g(k, h) - dot[h]);
  }
}

#define RELFM_INSTANTIATE_EDGE_SOFTMAX_ROWS(T)                                                                 \
  template void edge_softmax_rows<T>(const Csr&, const Mat<T>&, Mat<T>&, int64_t, int64_t);                   \
  template void edge_softmax_rows_backward<T>(const Csr&, const Mat<T>&, const Mat<T>&, Mat<T>&, int64_t, int64_t);
RELFM_INSTANTIATE_EDGE_SOFTMAX_ROWS(float)
RELFM_INSTANTIATE_EDGE_SOFTMAX_ROWS(double)
RELFM_INSTANTIATE_EDGE_SOFTMAX_ROWS(Dual<double>)

}  // namespace detail

namespace {

using detail::finish;

template <typename T>
struct EdgeSoftmaxNode final : Node<T> {
  CsrPtr pattern;
  Node<T>* s;
  EdgeSoftmaxNode(CsrPtr p, Node<T>* s_) : Node<T>(OpKind::kEdgeSoftmax), pattern(std::move(p)), s(s_) {}
  void backward() override {
    if (!s->requires_grad()) return;
    const Mat<T>& a = this->value();
    Mat<T> gs(a.rows(), a.cols());
    detail::edge_softmax_rows_backward(*pattern, a, this->grad(), gs, 0, pattern->num_rows);
    s->accumulate_grad(gs);
  }
};

}  // namespace

template <typename T>
Var<T> edge_softmax(CsrPtr pattern, Var<T> s) {
  const Csr& p = *pattern;
  if (s.rows() != p.nnz()) fail("edge_softmax: {} edge values for a pattern of {} edges", s.rows(), p.nnz());
  auto* tape = s.tape();
  auto* node = tape->template push<EdgeSoftmaxNode<T>>(pattern, s.node());
  auto& a = node->mutable_value();
  a.resize(s.rows(), s.cols());
  detail::edge_softmax_rows(p, s.value(), a, 0, p.num_rows);
  return finish(tape, node, {s});
}

template Var<float> edge_softmax<float>(CsrPtr, Var<float>);
template Var<double> edge_softmax<double>(CsrPtr, Var<double>);
template Var<Dual<double>> edge_softmax<Dual<double>>(CsrPtr, Var<Dual<double>>);

}  // namespace relfm
