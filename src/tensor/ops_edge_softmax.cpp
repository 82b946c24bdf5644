// Softmax over each row's entries of a sparse pattern, per head column: the attention weights of each
// query over its keys (Diffuser, ops_attention.cpp).
#include "src/tensor/ops.hpp"
#include "src/tensor/op_util.hpp"

#include <cmath>
#include <type_traits>

namespace relfm {
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
    const Mat<T>& g = this->grad();
    const int64_t heads = a.cols();
    Mat<T> gs(a.rows(), heads);
    const Csr& p = *pattern;
    std::vector<T> dot(static_cast<size_t>(heads));
    for (int64_t i = 0; i < p.num_rows; ++i) {
      std::fill(dot.begin(), dot.end(), T(0));
      for (int64_t k = p.row_ptr[i]; k < p.row_ptr[i + 1]; ++k)
        for (int64_t h = 0; h < heads; ++h) dot[h] += a(k, h) * g(k, h);
      for (int64_t k = p.row_ptr[i]; k < p.row_ptr[i + 1]; ++k)
        for (int64_t h = 0; h < heads; ++h) gs(k, h) = a(k, h) * (g(k, h) - dot[h]);
    }
    s->accumulate_grad(gs);
  }
};

}  // namespace

template <typename T>
Var<T> edge_softmax(CsrPtr pattern, Var<T> s) {
  const Csr& p = *pattern;
  if (s.rows() != p.nnz()) fail("edge_softmax: {} edge values for a pattern of {} edges", s.rows(), p.nnz());
  const int64_t heads = s.cols();
  auto* tape = s.tape();
  auto* node = tape->template push<EdgeSoftmaxNode<T>>(pattern, s.node());
  auto& a = node->mutable_value();
  a.resize(s.rows(), heads);
  const Mat<T>& sv = s.value();
  // A row's edges are consecutive rows of the nnz x H matrices, so a query's values are one contiguous,
  // cache-resident run: shifted by the heads' maxima, exponentiated (floats and doubles by Eigen's
  // vectorised exp in one call over the run), and normalised, in one visit.
  std::vector<T> mx(static_cast<size_t>(heads)), total(static_cast<size_t>(heads));
  for (int64_t i = 0; i < p.num_rows; ++i) {
    const int64_t b = p.row_ptr[i], e = p.row_ptr[i + 1];
    if (b == e) continue;
    for (int64_t h = 0; h < heads; ++h) mx[h] = sv(b, h);
    for (int64_t k = b + 1; k < e; ++k)
      for (int64_t h = 0; h < heads; ++h) mx[h] = sv(k, h) > mx[h] ? sv(k, h) : mx[h];
    for (int64_t k = b; k < e; ++k)
      for (int64_t h = 0; h < heads; ++h) a(k, h) = sv(k, h) - mx[h];
    if constexpr (std::is_floating_point_v<T>) {
      Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>> run(&a(b, 0), (e - b) * heads);
      run = run.exp();
    } else {
      using std::exp;
      for (int64_t k = b; k < e; ++k)
        for (int64_t h = 0; h < heads; ++h) a(k, h) = exp(a(k, h));
    }
    std::fill(total.begin(), total.end(), T(0));
    for (int64_t k = b; k < e; ++k)
      for (int64_t h = 0; h < heads; ++h) total[h] += a(k, h);
    for (int64_t h = 0; h < heads; ++h) total[h] = T(1) / total[h];
    for (int64_t k = b; k < e; ++k)
      for (int64_t h = 0; h < heads; ++h) a(k, h) *= total[h];
  }
  return finish(tape, node, {s});
}

template Var<float> edge_softmax<float>(CsrPtr, Var<float>);
template Var<double> edge_softmax<double>(CsrPtr, Var<double>);
template Var<Dual<double>> edge_softmax<Dual<double>>(CsrPtr, Var<Dual<double>>);

}  // namespace relfm
