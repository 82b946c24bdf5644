// Attention on a fixed sparse pattern, multi-head, and its dense counterpart.
//
// Edge tensors are nnz x H: column h holds head h's value on every edge, in the pattern's CSR order (rows
// are queries, entries their keys). Node features are n x d with d = H * d_head, head h owning columns
// [h d_head, (h + 1) d_head). With H = 1 the sparse ops are the classic single-valued SpMM and SDDMM.
// Every loop runs over one contiguous head slice of a feature row, so it vectorises; backward passes that
// go against the pattern's direction (to keys) scatter, which is conflict-free in one thread.
#include "src/tensor/ops.hpp"
#include "src/tensor/op_util.hpp"

#include <algorithm>
#include <cmath>

namespace relfm {
namespace {

using detail::finish;
using detail::product_into;

template <typename T>
inline void axpy_row(T* __restrict y, const T* __restrict x, T a, int64_t d) {
  for (int64_t c = 0; c < d; ++c) y[c] += a * x[c];
}
// Eigen's dot: it reassociates the sum into SIMD lanes, which a plain loop may not (strict float order
// turns a 32-long dot into 32 dependent additions).
template <typename T>
inline T dot_row(const T* a, const T* b, int64_t d) {
  using Row = Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>;
  return Row(a, d).dot(Row(b, d));
}

// Width of one head's slice; fails unless `heads` divides d.
int64_t head_width(const char* op, int64_t d, int64_t heads) {
  if (heads < 1 || d % heads != 0) fail("{}: {} features do not split into {} heads", op, d, heads);
  return d / heads;
}

// Checks that `t` is the transpose of `p` (sizes only: it is built by transpose_with_edges).
void check_transpose(const char* op, const Csr& p, const CsrTransposePtr& t) {
  if (t && (t->csr.num_rows != p.num_cols || t->csr.nnz() != p.nnz() || static_cast<int64_t>(t->edge.size()) != p.nnz()))
    fail("{}: the transposed pattern does not belong to the pattern", op);
}
void check_band(const char* op, const Csr& p, const BandLayoutPtr& band) {
  if (!band) return;
  if (static_cast<int64_t>(band->run_start.size()) != p.num_rows || static_cast<int64_t>(band->run_keys.size()) != p.num_rows)
    fail("{}: the band layout has {} rows, the pattern {}", op, band->run_start.size(), p.num_rows);
  for (const auto& b : band->blocks)
    if (b.first_row < 0 || b.first_row + b.rows > p.num_rows || b.first_key < 0 || b.first_key + b.keys > p.num_cols)
      fail("{}: a band block lies outside the pattern", op);
}

// Views of head h's columns of rows [r0, r0 + n) of a row-major matrix (no copy).
template <typename T>
auto rows_of(const Mat<T>& m, int64_t r0, int64_t n, int64_t h, int64_t dh) {
  return m.block(r0, h * dh, n, dh);
}
template <typename T>
auto rows_of(Mat<T>& m, int64_t r0, int64_t n, int64_t h, int64_t dh) {
  return m.block(r0, h * dh, n, dh);
}

// A band block's edge values of head h as a dense rows x keys matrix, and back.
template <typename T>
void gather_band(const Mat<T>& edge, const BandLayout& band, const BandLayout::Block& b, int64_t h, Mat<T>& out) {
  out.resize(b.rows, b.keys);
  for (int64_t r = 0; r < b.rows; ++r) {
    const int64_t start = band.run_start[b.first_row + r];
    for (int64_t c = 0; c < b.keys; ++c) out(r, c) = edge(start + c, h);
  }
}
template <typename T>
void scatter_band(const Mat<T>& dense, const BandLayout& band, const BandLayout::Block& b, int64_t h, T* edge, int64_t heads) {
  for (int64_t r = 0; r < b.rows; ++r) {
    const int64_t start = band.run_start[b.first_row + r];
    for (int64_t c = 0; c < b.keys; ++c) edge[(start + c) * heads + h] += dense(r, c);
  }
}

template <typename T>
struct SpmmNode final : Node<T> {
  CsrPtr pattern;
  CsrTransposePtr transposed;
  BandLayoutPtr band;
  Node<T>* w;
  Node<T>* x;
  SpmmNode(CsrPtr p, CsrTransposePtr t, BandLayoutPtr bl, Node<T>* w_, Node<T>* x_)
      : Node<T>(OpKind::kSpmm), pattern(std::move(p)), transposed(std::move(t)), band(std::move(bl)), w(w_), x(x_) {}
  bool banded(int64_t i, int64_t k) const { return band && band->in_run(i, k); }
  void backward() override {
    const Mat<T>& g = this->grad();
    const Mat<T>& xv = x->value();
    const Mat<T>& wv = w->value();
    const int64_t d = g.cols(), heads = wv.cols(), dh = d / heads;
    const Csr& a = *pattern;
    T* gw = w->requires_grad() ? w->grad_accumulator().data() : nullptr;
    Mat<T>* gxm = x->requires_grad() ? &x->grad_accumulator() : nullptr;
    T* gx = gxm ? gxm->data() : nullptr;
    if (band) {  // dense blocks: gA = G X^T, gX += A^T G
      Mat<T> dense, ga;
      for (const auto& b : band->blocks)
        for (int64_t h = 0; h < heads; ++h) {
          if (gw) {
            ga.noalias() = rows_of(g, b.first_row, b.rows, h, dh) * rows_of(xv, b.first_key, b.keys, h, dh).transpose();
            scatter_band(ga, *band, b, h, gw, heads);
          }
          if (gxm) {
            gather_band(wv, *band, b, h, dense);
            rows_of(*gxm, b.first_key, b.keys, h, dh).noalias() += dense.transpose() * rows_of(g, b.first_row, b.rows, h, dh);
          }
        }
    }
    if (gw)
      for (int64_t i = 0; i < a.num_rows; ++i) {
        const T* gi = g.row(i).data();
        for (int64_t k = a.row_ptr[i]; k < a.row_ptr[i + 1]; ++k) {
          if (banded(i, k)) continue;
          const T* xj = xv.row(a.col[k]).data();
          for (int64_t h = 0; h < heads; ++h) gw[k * heads + h] += dot_row(gi + h * dh, xj + h * dh, dh);
        }
      }
    if (!gx) return;
    if (transposed) {  // gather: gx[j] += sum over j's rows i of w[e] g[i]
      const Csr& t = transposed->csr;
      const int64_t* edge = transposed->edge.data();
      for (int64_t j = 0; j < t.num_rows; ++j) {
        T* gxj = gx + j * d;
        for (int64_t u = t.row_ptr[j]; u < t.row_ptr[j + 1]; ++u) {
          if (banded(t.col[u], edge[u])) continue;
          const T* gi = g.row(t.col[u]).data();
          const T* we = wv.row(edge[u]).data();
          for (int64_t h = 0; h < heads; ++h) axpy_row(gxj + h * dh, gi + h * dh, we[h], dh);
        }
      }
      return;
    }
    for (int64_t i = 0; i < a.num_rows; ++i) {
      const T* gi = g.row(i).data();
      for (int64_t k = a.row_ptr[i]; k < a.row_ptr[i + 1]; ++k) {
        if (banded(i, k)) continue;
        for (int64_t h = 0; h < heads; ++h) axpy_row(gx + a.col[k] * d + h * dh, gi + h * dh, wv(k, h), dh);
      }
    }
  }
};

template <typename T>
struct SddmmNode final : Node<T> {
  CsrPtr pattern;
  CsrTransposePtr transposed;
  BandLayoutPtr band;
  Node<T>* a;
  Node<T>* b;
  SddmmNode(CsrPtr p, CsrTransposePtr t, BandLayoutPtr bl, Node<T>* a_, Node<T>* b_)
      : Node<T>(OpKind::kSddmm), pattern(std::move(p)), transposed(std::move(t)), band(std::move(bl)), a(a_), b(b_) {}
  bool banded(int64_t i, int64_t k) const { return band && band->in_run(i, k); }
  void backward() override {
    const Mat<T>& g = this->grad();
    const Mat<T>& av = a->value();
    const Mat<T>& bv = b->value();
    const int64_t d = av.cols(), heads = g.cols(), dh = d / heads;
    const Csr& p = *pattern;
    Mat<T>* gam = a->requires_grad() ? &a->grad_accumulator() : nullptr;
    Mat<T>* gbm = b->requires_grad() ? &b->grad_accumulator() : nullptr;
    T* ga = gam ? gam->data() : nullptr;
    T* gb = gbm ? gbm->data() : nullptr;
    if (band) {  // dense blocks: gA += G B, gB += G^T A
      Mat<T> dense;
      for (const auto& blk : band->blocks)
        for (int64_t h = 0; h < heads; ++h) {
          gather_band(g, *band, blk, h, dense);
          if (gam) rows_of(*gam, blk.first_row, blk.rows, h, dh).noalias() += dense * rows_of(bv, blk.first_key, blk.keys, h, dh);
          if (gbm) rows_of(*gbm, blk.first_key, blk.keys, h, dh).noalias() += dense.transpose() * rows_of(av, blk.first_row, blk.rows, h, dh);
        }
    }
    if (ga)
      for (int64_t i = 0; i < p.num_rows; ++i) {
        T* gai = ga + i * d;
        for (int64_t k = p.row_ptr[i]; k < p.row_ptr[i + 1]; ++k) {
          if (banded(i, k)) continue;
          const T* bj = bv.row(p.col[k]).data();
          for (int64_t h = 0; h < heads; ++h) axpy_row(gai + h * dh, bj + h * dh, g(k, h), dh);
        }
      }
    if (!gb) return;
    if (transposed) {  // gather: gb[j] += sum over j's rows i of g[e] a[i]
      const Csr& t = transposed->csr;
      const int64_t* edge = transposed->edge.data();
      for (int64_t j = 0; j < t.num_rows; ++j) {
        T* gbj = gb + j * d;
        for (int64_t u = t.row_ptr[j]; u < t.row_ptr[j + 1]; ++u) {
          if (banded(t.col[u], edge[u])) continue;
          const T* ai = av.row(t.col[u]).data();
          const T* ge = g.row(edge[u]).data();
          for (int64_t h = 0; h < heads; ++h) axpy_row(gbj + h * dh, ai + h * dh, ge[h], dh);
        }
      }
      return;
    }
    for (int64_t i = 0; i < p.num_rows; ++i)
      for (int64_t k = p.row_ptr[i]; k < p.row_ptr[i + 1]; ++k) {
        if (banded(i, k)) continue;
        for (int64_t h = 0; h < heads; ++h) axpy_row(gb + p.col[k] * d + h * dh, av.row(i).data() + h * dh, g(k, h), dh);
      }
  }
};

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

// Head h's columns of x as a contiguous matrix (the GEMM backend takes dense operands).
template <typename T>
Mat<T> head_of(const Mat<T>& x, int64_t h, int64_t dh) {
  return x.middleCols(h * dh, dh);
}

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
Var<T> spmm(CsrPtr pattern, Var<T> w, Var<T> x, CsrTransposePtr transposed, BandLayoutPtr band) {
  const Csr& a = *pattern;
  check_transpose("spmm", a, transposed);
  check_band("spmm", a, band);
  if (a.num_cols != x.rows()) fail("spmm: pattern has {} columns but x has {} rows", a.num_cols, x.rows());
  if (w.rows() != a.nnz()) fail("spmm: values are {}x{}, expected {} rows (one per edge)", w.rows(), w.cols(), a.nnz());
  const int64_t heads = w.cols(), d = x.cols(), dh = head_width("spmm", d, heads);
  auto* tape = x.tape();
  auto* node = tape->template push<SpmmNode<T>>(pattern, transposed, band, w.node(), x.node());
  auto& y = node->mutable_value();
  y.setZero(a.num_rows, d);
  const Mat<T>& wv = w.value();
  const Mat<T>& xv = x.value();
  if (band) {
    Mat<T> dense;
    for (const auto& b : band->blocks)
      for (int64_t h = 0; h < heads; ++h) {
        gather_band(wv, *band, b, h, dense);
        rows_of(y, b.first_row, b.rows, h, dh).noalias() += dense * rows_of(xv, b.first_key, b.keys, h, dh);
      }
  }
  for (int64_t i = 0; i < a.num_rows; ++i) {
    T* yi = y.row(i).data();
    for (int64_t k = a.row_ptr[i]; k < a.row_ptr[i + 1]; ++k) {
      if (band && band->in_run(i, k)) continue;
      const T* xj = xv.row(a.col[k]).data();
      for (int64_t h = 0; h < heads; ++h) axpy_row(yi + h * dh, xj + h * dh, wv(k, h), dh);
    }
  }
  return finish(tape, node, {w, x});
}

template <typename T>
Var<T> sddmm(CsrPtr pattern, Var<T> a, Var<T> b, int64_t heads, CsrTransposePtr transposed, BandLayoutPtr band) {
  const Csr& p = *pattern;
  check_transpose("sddmm", p, transposed);
  check_band("sddmm", p, band);
  if (p.num_rows != a.rows() || p.num_cols != b.rows() || a.cols() != b.cols())
    fail("sddmm: pattern {}x{} does not fit a {}x{} and b {}x{}", p.num_rows, p.num_cols, a.rows(), a.cols(), b.rows(),
         b.cols());
  const int64_t dh = head_width("sddmm", a.cols(), heads);
  auto* tape = a.tape();
  auto* node = tape->template push<SddmmNode<T>>(pattern, transposed, band, a.node(), b.node());
  auto& w = node->mutable_value();
  w.resize(p.nnz(), heads);
  const Mat<T>& av = a.value();
  const Mat<T>& bv = b.value();
  if (band) {
    Mat<T> dense;
    for (const auto& blk : band->blocks)
      for (int64_t h = 0; h < heads; ++h) {
        dense.noalias() = rows_of(av, blk.first_row, blk.rows, h, dh) * rows_of(bv, blk.first_key, blk.keys, h, dh).transpose();
        for (int64_t r = 0; r < blk.rows; ++r) {
          const int64_t start = band->run_start[blk.first_row + r];
          for (int64_t c = 0; c < blk.keys; ++c) w(start + c, h) = dense(r, c);
        }
      }
  }
  for (int64_t i = 0; i < p.num_rows; ++i) {
    const T* ai = av.row(i).data();
    for (int64_t k = p.row_ptr[i]; k < p.row_ptr[i + 1]; ++k) {
      if (band && band->in_run(i, k)) continue;
      const T* bj = bv.row(p.col[k]).data();
      for (int64_t h = 0; h < heads; ++h) w(k, h) = dot_row(ai + h * dh, bj + h * dh, dh);
    }
  }
  return finish(tape, node, {a, b});
}

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
  std::vector<T> mx(static_cast<size_t>(heads)), total(static_cast<size_t>(heads));
  using std::exp;
  for (int64_t i = 0; i < p.num_rows; ++i) {
    const int64_t b = p.row_ptr[i], e = p.row_ptr[i + 1];
    if (b == e) continue;
    for (int64_t h = 0; h < heads; ++h) mx[h] = sv(b, h);
    for (int64_t k = b + 1; k < e; ++k)
      for (int64_t h = 0; h < heads; ++h) mx[h] = sv(k, h) > mx[h] ? sv(k, h) : mx[h];
    std::fill(total.begin(), total.end(), T(0));
    for (int64_t k = b; k < e; ++k)
      for (int64_t h = 0; h < heads; ++h) {
        a(k, h) = exp(sv(k, h) - mx[h]);
        total[h] += a(k, h);
      }
    for (int64_t h = 0; h < heads; ++h) total[h] = T(1) / total[h];
    for (int64_t k = b; k < e; ++k)
      for (int64_t h = 0; h < heads; ++h) a(k, h) *= total[h];
  }
  return finish(tape, node, {s});
}

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

#define RELFM_INSTANTIATE_ATTENTION(T)                                 \
  template Var<T> spmm<T>(CsrPtr, Var<T>, Var<T>, CsrTransposePtr, BandLayoutPtr);            \
  template Var<T> sddmm<T>(CsrPtr, Var<T>, Var<T>, int64_t, CsrTransposePtr, BandLayoutPtr);  \
  template Var<T> edge_softmax<T>(CsrPtr, Var<T>);                     \
  template Var<T> dense_attention<T>(Var<T>, Var<T>, Var<T>, int64_t, OffsetList);

RELFM_INSTANTIATE_ATTENTION(float)
RELFM_INSTANTIATE_ATTENTION(double)
RELFM_INSTANTIATE_ATTENTION(Dual<double>)

}  // namespace relfm
