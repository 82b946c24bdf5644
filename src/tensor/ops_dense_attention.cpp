// Dense softmax attention per head within segments of rows: the baseline of Diffuser's benchmark and the
// oracle of its tests (on a complete pattern with one hop and no teleport, Diffuser attention is this).
#include "src/tensor/ops.hpp"
#include "src/tensor/op_util.hpp"

namespace relfm {
namespace {

using detail::finish;
using detail::head_width;
using detail::product_into;

// Head h's columns of rows [r0, r0 + n) of x, contiguous.
template <typename T>
Mat<T> block_of(const Mat<T>& x, int64_t r0, int64_t n, int64_t h, int64_t dh) {
  return x.block(r0, h * dh, n, dh);
}

template <typename T>
struct DenseAttentionNode final : Node<T> {
  Node<T>* q;
  Node<T>* k;
  Node<T>* v;
  int64_t heads;
  OffsetList segments;
  std::vector<Mat<T>> probs;  // per (segment, head), L_s x L_s
  DenseAttentionNode(Node<T>* q_, Node<T>* k_, Node<T>* v_, int64_t h, OffsetList s)
      : Node<T>(OpKind::kDenseAttention), q(q_), k(k_), v(v_), heads(h), segments(std::move(s)) {}
  void backward() override {
    const Mat<T>& g = this->grad();
    const int64_t dh = g.cols() / heads, dk = k->value().cols() / heads;
    Mat<T>* gq = q->requires_grad() ? &q->grad_accumulator() : nullptr;
    Mat<T>* gk = k->requires_grad() ? &k->grad_accumulator() : nullptr;
    Mat<T>* gv = v->requires_grad() ? &v->grad_accumulator() : nullptr;
    const std::vector<int64_t>& seg = *segments;
    for (size_t s = 0; s + 1 < seg.size(); ++s) {
      const int64_t r0 = seg[s], n = seg[s + 1] - seg[s];
      for (int64_t h = 0; h < heads; ++h) {
        const Mat<T>& p = probs[s * static_cast<size_t>(heads) + static_cast<size_t>(h)];
        const Mat<T> gh = block_of(g, r0, n, h, dh);
        if (gv) {
          Mat<T> t;
          product_into(t, false, p, true, gh, false);  // P^T G
          gv->block(r0, h * dh, n, dh) += t;
        }
        if (!gq && !gk) continue;
        Mat<T> gp;
        product_into(gp, false, gh, false, block_of(v->value(), r0, n, h, dh), true);  // G V^T
        Eigen::Matrix<T, Eigen::Dynamic, 1> row_dot = gp.cwiseProduct(p).rowwise().sum();
        const Mat<T> gsc = p.cwiseProduct(gp - row_dot.replicate(1, gp.cols()));
        if (gq) {
          Mat<T> t;
          product_into(t, false, gsc, false, block_of(k->value(), r0, n, h, dk), false);
          gq->block(r0, h * dk, n, dk) += t;
        }
        if (gk) {
          Mat<T> t;
          product_into(t, false, gsc, true, block_of(q->value(), r0, n, h, dk), false);
          gk->block(r0, h * dk, n, dk) += t;
        }
      }
    }
  }
};

}  // namespace

template <typename T>
Var<T> dense_attention(Var<T> q, Var<T> k, Var<T> v, int64_t heads, OffsetList segments) {
  if (q.cols() != k.cols() || k.rows() != v.rows() || q.rows() != k.rows())
    fail("dense_attention: q {}x{}, k {}x{}, v {}x{} do not fit", q.rows(), q.cols(), k.rows(), k.cols(), v.rows(), v.cols());
  const int64_t dk = head_width("dense_attention", q.cols(), heads), dh = head_width("dense_attention", v.cols(), heads);
  if (!segments) segments = std::make_shared<const std::vector<int64_t>>(std::vector<int64_t>{0, q.rows()});
  const std::vector<int64_t>& seg = *segments;
  if (seg.empty() || seg.front() != 0 || seg.back() != q.rows() || !std::is_sorted(seg.begin(), seg.end()))
    fail("dense_attention: segments do not cover the {} rows", q.rows());
  auto* tape = q.tape();
  auto* node = tape->template push<DenseAttentionNode<T>>(q.node(), k.node(), v.node(), heads, segments);
  auto& y = node->mutable_value();
  y.resize(q.rows(), v.cols());
  node->probs.reserve((seg.size() - 1) * static_cast<size_t>(heads));
  for (size_t s = 0; s + 1 < seg.size(); ++s) {
    const int64_t r0 = seg[s], n = seg[s + 1] - seg[s];
    for (int64_t h = 0; h < heads; ++h) {
      Mat<T> scores;
      product_into(scores, false, block_of(q.value(), r0, n, h, dk), false, block_of(k.value(), r0, n, h, dk), true);
      Mat<T> p(n, n);
      if (n > 0) {
        Eigen::Matrix<T, Eigen::Dynamic, 1> mx = scores.rowwise().maxCoeff();
        p = (scores - mx.replicate(1, scores.cols())).array().exp().matrix();
        Eigen::Matrix<T, Eigen::Dynamic, 1> inv = p.rowwise().sum().cwiseInverse();
        p = inv.asDiagonal() * p;
        Mat<T> out;
        product_into(out, false, p, false, block_of(v.value(), r0, n, h, dh), false);
        y.block(r0, h * dh, n, dh) = out;
      }
      node->probs.push_back(std::move(p));
    }
  }
  return finish(tape, node, {q, k, v});
}

template Var<float> dense_attention<float>(Var<float>, Var<float>, Var<float>, int64_t, OffsetList);
template Var<double> dense_attention<double>(Var<double>, Var<double>, Var<double>, int64_t, OffsetList);
template Var<Dual<double>> dense_attention<Dual<double>>(Var<Dual<double>>, Var<Dual<double>>, Var<Dual<double>>, int64_t, OffsetList);

}  // namespace relfm
