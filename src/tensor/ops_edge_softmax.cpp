// Softmax over each row's entries of a sparse pattern, per head column: the attention weights of each
// query over its keys (Diffuser, ops_attention.cpp).
#include "src/tensor/ops.hpp"
#include "src/tensor/op_util.hpp"

#include <cmath>
#include <type_traits>

namespace relfm {

namespace detail {

template <typename T>
void edge_softmax_rows(const Csr& p, const Mat<T>& sv, Mat<T>& a, int64_t first, int64_t end) {
  // A row's edges are consecutive rows of the nnz x H matrices, so a query's values are one contiguous,
  // cache-resident run: shifted by the heads' maxima, exponentiated (floats and doubles by Eigen's
  // vectorised exp in one call over the run), and normalised, in one visit.
  const int64_t heads = sv.cols();
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
