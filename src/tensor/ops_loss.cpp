// Losses. Each returns a 1x1 sum over its terms divided by a caller-given normaliser, so that a
// data-parallel sum of per-rank losses equals the loss of the global batch.
#include "src/tensor/ops.hpp"
#include "src/tensor/op_util.hpp"

#include <cmath>
#include <limits>

namespace relfm {
namespace {

using detail::finish;
using std::abs;
using std::exp;
using std::isnan;
using std::log;
using std::log1p;
using std::max;

template <typename T>
struct MaskedLossNode final : Node<T> {
  Node<T>* x;
  ConstMatPtr<T> labels;
  T inv_norm;
  bool bce;
  MaskedLossNode(Node<T>* x_, ConstMatPtr<T> l, T inv, bool is_bce)
      : Node<T>(is_bce ? OpKind::kBceWithLogits : OpKind::kMse), x(x_), labels(std::move(l)), inv_norm(inv), bce(is_bce) {}
  void backward() override {
    if (!x->requires_grad()) return;
    const T g0 = this->grad()(0, 0) * inv_norm;
    const Mat<T>& xv = x->value();
    const Mat<T>& y = *labels;
    Mat<T> gx(xv.rows(), xv.cols());
    for (int64_t k = 0; k < xv.size(); ++k) {
      const T yk = y.data()[k];
      const T xk = xv.data()[k];
      if (isnan(yk)) {
        gx.data()[k] = T(0);
      } else if (bce) {
        gx.data()[k] = g0 * (T(1) / (T(1) + exp(-xk)) - yk);
      } else {
        gx.data()[k] = g0 * T(2) * (xk - yk);
      }
    }
    x->accumulate_grad(gx);
  }
};

template <typename T>
Var<T> masked_loss(Var<T> x, ConstMatPtr<T> labels, double normaliser, bool bce) {
  const Mat<T>& y = *labels;
  if (y.rows() != x.rows() || y.cols() != x.cols())
    fail("{}: labels are {}x{} but predictions are {}x{}", bce ? "bce_with_logits" : "mse", y.rows(), y.cols(),
         x.rows(), x.cols());
  if (!(normaliser > 0.0)) fail("{}: normaliser must be positive, got {}", bce ? "bce_with_logits" : "mse", normaliser);
  auto* tape = x.tape();
  auto* node = tape->template push<MaskedLossNode<T>>(x.node(), labels, static_cast<T>(1.0 / normaliser), bce);
  T total = T(0);
  const Mat<T>& xv = x.value();
  for (int64_t k = 0; k < xv.size(); ++k) {
    const T yk = y.data()[k];
    if (isnan(yk)) continue;
    const T xk = xv.data()[k];
    if (bce)
      total += max(xk, T(0)) - xk * yk + log1p(exp(-abs(xk)));
    else
      total += (xk - yk) * (xk - yk);
  }
  node->mutable_value() = Mat<T>::Constant(1, 1, total * node->inv_norm);
  return finish(tape, node, {x});
}

template <typename T>
struct InfoNceNode final : Node<T> {
  Node<T>* z;
  Node<T>* p;
  OffsetList positive;
  T inv_tau;
  T inv_norm;
  Mat<T> prob;  // row softmax of the similarity logits
  InfoNceNode(Node<T>* z_, Node<T>* p_, OffsetList pos, T it, T in)
      : Node<T>(OpKind::kInfoNce), z(z_), p(p_), positive(std::move(pos)), inv_tau(it), inv_norm(in) {}
  void backward() override {
    // dL/dS = (softmax(S) - onehot(positive)) / normaliser, S = Z P^T / tau (with kNegatives the
    // softmax runs over the negatives only, so prob is 0 at the positive)
    Mat<T> ds = prob;
    for (int64_t i = 0; i < ds.rows(); ++i) ds(i, (*positive)[i]) -= T(1);
    ds *= this->grad()(0, 0) * inv_norm * inv_tau;
    detail::accumulate_product(z, ds, false, p->value(), false);  // dZ = dS P
    detail::accumulate_product(p, ds, true, z->value(), false);   // dP = dS^T Z
  }
};

}  // namespace

template <typename T>
Var<T> bce_with_logits(Var<T> logits, ConstMatPtr<T> labels, double normaliser) {
  return masked_loss(logits, std::move(labels), normaliser, true);
}

template <typename T>
Var<T> mse(Var<T> prediction, ConstMatPtr<T> labels, double normaliser) {
  return masked_loss(prediction, std::move(labels), normaliser, false);
}

template <typename T>
Var<T> info_nce(Var<T> z, Var<T> p, OffsetList positive, double tau, double normaliser,
                InfoNceDenominator denominator) {
  if (z.cols() != p.cols()) fail("info_nce: anchors have {} columns, candidates {}", z.cols(), p.cols());
  if (static_cast<int64_t>(positive->size()) != z.rows())
    fail("info_nce: {} positives for {} anchors", positive->size(), z.rows());
  for (int64_t j : *positive)
    if (j < 0 || j >= p.rows()) fail("info_nce: positive {} outside the {} candidates", j, p.rows());
  if (!(tau > 0.0) || !(normaliser > 0.0)) fail("info_nce: tau and normaliser must be positive");
  const bool negatives_only = denominator == InfoNceDenominator::kNegatives;
  if (negatives_only && p.rows() < 2) fail("info_nce: no negatives among {} candidate(s)", p.rows());
  auto* tape = z.tape();
  auto* node = tape->template push<InfoNceNode<T>>(z.node(), p.node(), positive, static_cast<T>(1.0 / tau),
                                                   static_cast<T>(1.0 / normaliser));
  // The product, then the scale: what Eigen evaluated `(Z P^T) * inv_tau` as.
  Mat<T> s;
  detail::product_into(s, false, z.value(), false, p.value(), true);
  s *= node->inv_tau;
  T total = T(0);
  node->prob.resize(s.rows(), s.cols());
  for (int64_t i = 0; i < s.rows(); ++i) {
    const int64_t pos = (*positive)[i];
    const T positive_logit = s(i, pos);
    if (negatives_only) s(i, pos) = T(-std::numeric_limits<double>::infinity());  // exp() = 0 below
    const T mx = s.row(i).maxCoeff();
    const T lse = mx + log(T((s.row(i).array() - mx).exp().sum()));
    node->prob.row(i) = (s.row(i).array() - lse).exp();
    total += lse - positive_logit;
  }
  node->mutable_value() = Mat<T>::Constant(1, 1, total * node->inv_norm);
  return finish(tape, node, {z, p});
}

template <typename T>
int64_t count_labelled(const Mat<T>& labels) {
  int64_t n = 0;
  for (int64_t k = 0; k < labels.size(); ++k) n += isnan(labels.data()[k]) ? 0 : 1;
  return n;
}

#define RELFM_INSTANTIATE_LOSS(T)                                               \
  template Var<T> bce_with_logits<T>(Var<T>, ConstMatPtr<T>, double);           \
  template Var<T> mse<T>(Var<T>, ConstMatPtr<T>, double);                       \
  template Var<T> info_nce<T>(Var<T>, Var<T>, OffsetList, double, double, InfoNceDenominator); \
  template int64_t count_labelled<T>(const Mat<T>&);

RELFM_INSTANTIATE_LOSS(float)
RELFM_INSTANTIATE_LOSS(double)
RELFM_INSTANTIATE_LOSS(Dual<double>)

}  // namespace relfm
