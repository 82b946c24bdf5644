// Shape ops (transpose, column concatenation) and row normalisation: the set pooling of MolGroup's router
// (Set2Set) and cosine affinities are built from them.
#include "src/tensor/op_util.hpp"
#include "src/tensor/ops.hpp"

#include <cmath>

namespace relfm {
namespace {

using detail::finish;

template <typename T>
struct TransposeNode final : Node<T> {
  Node<T>* x;
  explicit TransposeNode(Node<T>* x_) : Node<T>(OpKind::kTranspose), x(x_) {}
  void backward() override { x->accumulate_grad(this->grad().transpose()); }
};

template <typename T>
struct ConcatColsNode final : Node<T> {
  Node<T>* a;
  Node<T>* b;
  ConcatColsNode(Node<T>* a_, Node<T>* b_) : Node<T>(OpKind::kConcatCols), a(a_), b(b_) {}
  void backward() override {
    const Mat<T>& g = this->grad();
    const int64_t ca = a->value().cols();
    a->accumulate_grad(g.leftCols(ca));
    b->accumulate_grad(g.rightCols(g.cols() - ca));
  }
};

template <typename T>
struct L2NormalizeRowsNode final : Node<T> {
  Node<T>* x;
  Eigen::Matrix<T, Eigen::Dynamic, 1> denom;  // max(||x_i||, eps)
  std::vector<char> clamped;                  // ||x_i|| <= eps: the row was divided by the constant eps
  explicit L2NormalizeRowsNode(Node<T>* x_) : Node<T>(OpKind::kL2NormalizeRows), x(x_) {}
  void backward() override {
    const Mat<T>& y = this->value();
    const Mat<T>& g = this->grad();
    Mat<T> dx(g.rows(), g.cols());
    for (int64_t i = 0; i < g.rows(); ++i) {
      if (clamped[static_cast<size_t>(i)]) {
        dx.row(i) = g.row(i) / denom(i);
      } else {
        const T dot = g.row(i).dot(y.row(i));
        dx.row(i) = (g.row(i) - dot * y.row(i)) / denom(i);
      }
    }
    x->accumulate_grad(dx);
  }
};

// y = g a + (1 - g) b with g 1 x 1: one pass each way instead of four ops' passes (MetaGIN mixes two
// branches like this at every layer).
template <typename T>
struct GateMixNode final : Node<T> {
  Node<T>* g;
  Node<T>* a;
  Node<T>* b;
  GateMixNode(Node<T>* g_, Node<T>* a_, Node<T>* b_) : Node<T>(OpKind::kGateMix), g(g_), a(a_), b(b_) {}
  void backward() override {
    const Mat<T>& grad = this->grad();
    const T w = g->value()(0, 0);
    a->accumulate_grad(w * grad);
    b->accumulate_grad((T(1) - w) * grad);
    if (g->requires_grad()) g->accumulate_grad(Mat<T>::Constant(1, 1, grad.cwiseProduct(a->value() - b->value()).sum()));
  }
};

}  // namespace

template <typename T>
Var<T> gate_mix(Var<T> g, Var<T> a, Var<T> b) {
  if (g.rows() != 1 || g.cols() != 1) fail("gate_mix: the gate is {}x{}, not 1x1", g.rows(), g.cols());
  if (a.rows() != b.rows() || a.cols() != b.cols())
    fail("gate_mix: branches of {}x{} and {}x{}", a.rows(), a.cols(), b.rows(), b.cols());
  auto* tape = a.tape();
  auto* n = tape->template push<GateMixNode<T>>(g.node(), a.node(), b.node());
  const T w = g.value()(0, 0);
  n->mutable_value() = w * a.value() + (T(1) - w) * b.value();
  return finish(tape, n, {g, a, b});
}

template <typename T>
Var<T> transpose(Var<T> x) {
  auto* tape = x.tape();
  auto* n = tape->template push<TransposeNode<T>>(x.node());
  n->mutable_value() = x.value().transpose();
  return finish(tape, n, {x});
}

template <typename T>
Var<T> concat_cols(Var<T> a, Var<T> b) {
  if (a.rows() != b.rows()) fail("concat_cols: {} rows and {} rows", a.rows(), b.rows());
  auto* tape = a.tape();
  auto* n = tape->template push<ConcatColsNode<T>>(a.node(), b.node());
  Mat<T>& y = n->mutable_value();
  y.resize(a.rows(), a.cols() + b.cols());
  y.leftCols(a.cols()) = a.value();
  y.rightCols(b.cols()) = b.value();
  return finish(tape, n, {a, b});
}

template <typename T>
Var<T> l2_normalize_rows(Var<T> x, double eps) {
  using std::sqrt;
  auto* tape = x.tape();
  auto* n = tape->template push<L2NormalizeRowsNode<T>>(x.node());
  const Mat<T>& v = x.value();
  n->denom.resize(v.rows());
  n->clamped.assign(static_cast<size_t>(v.rows()), 0);
  Mat<T>& y = n->mutable_value();
  y.resize(v.rows(), v.cols());
  for (int64_t i = 0; i < v.rows(); ++i) {
    const T norm = sqrt(v.row(i).squaredNorm());
    const bool clamp = !(static_cast<double>(norm) > eps);
    n->clamped[static_cast<size_t>(i)] = clamp;
    n->denom(i) = clamp ? T(eps) : norm;
    y.row(i) = v.row(i) / n->denom(i);
  }
  return finish(tape, n, {x});
}

#define RELFM_INSTANTIATE_SHAPE(T)                \
  template Var<T> transpose<T>(Var<T>);           \
  template Var<T> concat_cols<T>(Var<T>, Var<T>); \
  template Var<T> l2_normalize_rows<T>(Var<T>, double); \
  template Var<T> gate_mix<T>(Var<T>, Var<T>, Var<T>);

RELFM_INSTANTIATE_SHAPE(float)
RELFM_INSTANTIATE_SHAPE(double)
RELFM_INSTANTIATE_SHAPE(Dual<double>)

}  // namespace relfm
