// Indexing and graph-structured ops: gathers, segment reductions over CSR offsets, embedding sums and
// fused GIN message passing (sparse products on a fixed pattern: ops_attention.cpp). The inner loops run over one
// contiguous feature row at a time so the compiler vectorises them.
#include "src/tensor/ops.hpp"
#include "src/tensor/op_util.hpp"

namespace relfm {
namespace {

using detail::finish;

template <typename T>
inline void axpy_row(T* __restrict y, const T* __restrict x, T a, int64_t d) {
  for (int64_t c = 0; c < d; ++c) y[c] += a * x[c];
}
template <typename T>
inline void add_row(T* __restrict y, const T* __restrict x, int64_t d) {
  for (int64_t c = 0; c < d; ++c) y[c] += x[c];
}

// ---- gather ------------------------------------------------------------------------------------

template <typename T>
struct GatherRowsNode final : Node<T> {
  Node<T>* x;
  IndexList index;
  GatherRowsNode(Node<T>* x_, IndexList i) : Node<T>(OpKind::kGatherRows), x(x_), index(std::move(i)) {}
  void backward() override {
    if (!x->requires_grad()) return;
    Mat<T>& gx = x->grad_accumulator();
    const Mat<T>& g = this->grad();
    const int64_t d = g.cols();
    for (size_t i = 0; i < index->size(); ++i) add_row(gx.row((*index)[i]).data(), g.row(i).data(), d);
  }
};

// ---- segments ----------------------------------------------------------------------------------

template <typename T>
struct SegmentNode final : Node<T> {
  Node<T>* x;
  OffsetList offsets;
  bool mean;
  SegmentNode(Node<T>* x_, OffsetList o, bool m)
      : Node<T>(m ? OpKind::kSegmentMean : OpKind::kSegmentSum), x(x_), offsets(std::move(o)), mean(m) {}
  void backward() override {
    if (!x->requires_grad()) return;
    Mat<T>& gx = x->grad_accumulator();
    const Mat<T>& g = this->grad();
    const int64_t d = g.cols();
    const auto& off = *offsets;
    for (size_t s = 0; s + 1 < off.size(); ++s) {
      const int64_t n = off[s + 1] - off[s];
      if (n == 0) continue;
      const T f = mean ? T(1) / static_cast<T>(n) : T(1);
      for (int64_t r = off[s]; r < off[s + 1]; ++r) axpy_row(gx.row(r).data(), g.row(s).data(), f, d);
    }
  }
};

template <typename T>
Var<T> segment_impl(Var<T> x, OffsetList offsets, bool mean) {
  const auto& off = *offsets;
  if (off.empty() || off.front() != 0 || off.back() != x.rows())
    fail("segment_{}: offsets cover [{}, {}) but the input has {} rows", mean ? "mean" : "sum",
         off.empty() ? 0 : off.front(), off.empty() ? 0 : off.back(), x.rows());
  auto* tape = x.tape();
  auto* n = tape->template push<SegmentNode<T>>(x.node(), offsets, mean);
  auto& y = n->mutable_value();
  const int64_t d = x.cols();
  y.setZero(static_cast<int64_t>(off.size()) - 1, d);
  const Mat<T>& xv = x.value();
  for (size_t s = 0; s + 1 < off.size(); ++s) {
    RELFM_CHECK(off[s + 1] >= off[s], "segment offsets decrease at {}", s);
    T* out = y.row(s).data();
    for (int64_t r = off[s]; r < off[s + 1]; ++r) add_row(out, xv.row(r).data(), d);
    const int64_t count = off[s + 1] - off[s];
    if (mean && count > 0) y.row(s) /= static_cast<T>(count);
  }
  return finish(tape, n, {x});
}

// ---- embeddings ----------------------------------------------------------------------------------

template <typename T>
struct EmbeddingSumNode final : Node<T> {
  Node<T>* table;
  IndexMatPtr rows;
  EmbeddingSumNode(Node<T>* t, IndexMatPtr r) : Node<T>(OpKind::kEmbeddingSum), table(t), rows(std::move(r)) {}
  void backward() override {
    if (!table->requires_grad()) return;
    Mat<T>& gt = table->grad_accumulator();
    const Mat<T>& g = this->grad();
    const int64_t d = g.cols();
    const IndexMat& idx = *rows;
    for (int64_t i = 0; i < idx.rows(); ++i)
      for (int64_t f = 0; f < idx.cols(); ++f) add_row(gt.row(idx(i, f)).data(), g.row(i).data(), d);
  }
};

// ---- fused GIN aggregation -----------------------------------------------------------------------

template <typename T>
struct GinAggregateNode final : Node<T> {
  Node<T>* h;
  Node<T>* e;
  Node<T>* eps;
  CsrPtr adj;
  const uint8_t* frozen = nullptr;  // a replayed relu pattern (edges x d): decides instead of h + e
  GinAggregateNode(Node<T>* h_, Node<T>* e_, Node<T>* eps_, CsrPtr a)
      : Node<T>(OpKind::kGinAggregate), h(h_), e(e_), eps(eps_), adj(std::move(a)) {}
  void backward() override {
    const Mat<T>& g = this->grad();
    const Mat<T>& hv = h->value();
    const Mat<T>& ev = e->value();
    const int64_t d = g.cols();
    const T one_plus_eps = T(1) + eps->value()(0, 0);
    if (eps->requires_grad()) eps->accumulate_grad(Mat<T>::Constant(1, 1, hv.cwiseProduct(g).sum()));
    if (!h->requires_grad() && !e->requires_grad()) return;
    // Edge-side gradients need zeroed buffers only where they are scattered (h); e gets one row per edge.
    T* gh = h->requires_grad() ? h->grad_accumulator().data() : nullptr;
    T* ge = e->requires_grad() ? e->grad_accumulator().data() : nullptr;
    if (gh) {
      const int64_t n = hv.size();
      const T* gp = g.data();
      for (int64_t k = 0; k < n; ++k) gh[k] += one_plus_eps * gp[k];
    }
    const Csr& a = *adj;
    for (int64_t i = 0; i < a.num_rows; ++i) {
      const T* gi = g.row(i).data();
      for (int64_t k = a.row_ptr[i]; k < a.row_ptr[i + 1]; ++k) {
        const T* hj = hv.row(a.col[k]).data();
        const T* ek = ev.row(k).data();
        T* ghj = gh ? gh + static_cast<int64_t>(a.col[k]) * d : nullptr;
        T* gek = ge ? ge + k * d : nullptr;
        if (frozen) {
          const uint8_t* __restrict on = frozen + k * d;
          for (int64_t c = 0; c < d; ++c) {
            const T v = on[c] ? gi[c] : T(0);
            if (ghj) ghj[c] += v;
            if (gek) gek[c] += v;
          }
        } else if (ghj && gek) {
          for (int64_t c = 0; c < d; ++c) {
            const T v = (hj[c] + ek[c] > T(0)) ? gi[c] : T(0);
            ghj[c] += v;
            gek[c] += v;
          }
        } else if (ghj) {
          for (int64_t c = 0; c < d; ++c) ghj[c] += (hj[c] + ek[c] > T(0)) ? gi[c] : T(0);
        } else {
          for (int64_t c = 0; c < d; ++c) gek[c] += (hj[c] + ek[c] > T(0)) ? gi[c] : T(0);
        }
      }
    }
  }
};

// The GIN aggregation with edge embeddings computed from a small table inside the kernel. The table
// (a few rows per bond feature) stays in L1/L2, so each edge costs a few cached row reads instead of
// a write and a read of an edges x dim matrix in both passes.
template <typename T>
struct GinAggregateEmbeddedNode final : Node<T> {
  Node<T>* h;
  Node<T>* table;
  IndexMatPtr rows;
  Node<T>* eps;
  CsrPtr adj;
  const uint8_t* frozen = nullptr;  // a replayed relu pattern (edges x d): decides instead of h + e
  GinAggregateEmbeddedNode(Node<T>* h_, Node<T>* t_, IndexMatPtr r, Node<T>* eps_, CsrPtr a)
      : Node<T>(OpKind::kGinAggregateEmbedded), h(h_), table(t_), rows(std::move(r)), eps(eps_), adj(std::move(a)) {}
  void backward() override {
    const Mat<T>& g = this->grad();
    const Mat<T>& hv = h->value();
    const Mat<T>& tv = table->value();
    const IndexMat& idx = *rows;
    const int64_t d = g.cols(), nf = idx.cols();
    const T one_plus_eps = T(1) + eps->value()(0, 0);
    if (eps->requires_grad()) eps->accumulate_grad(Mat<T>::Constant(1, 1, hv.cwiseProduct(g).sum()));
    if (!h->requires_grad() && !table->requires_grad()) return;
    T* gh = nullptr;
    if (h->requires_grad()) {
      bool accumulate = false;
      Mat<T>& ghm = h->grad_for_write(&accumulate);
      if (accumulate) ghm.noalias() += one_plus_eps * g;
      else ghm.noalias() = one_plus_eps * g;
      gh = ghm.data();
    }
    T* gt = table->requires_grad() ? table->grad_accumulator().data() : nullptr;
    std::vector<T> e(static_cast<size_t>(d)), ge(static_cast<size_t>(d));
    const Csr& a = *adj;
    for (int64_t i = 0; i < a.num_rows; ++i) {
      const T* __restrict gi = g.row(i).data();
      for (int64_t k = a.row_ptr[i]; k < a.row_ptr[i + 1]; ++k) {
        T* __restrict gek = ge.data();
        if (frozen) {
          const uint8_t* __restrict on = frozen + k * d;
          for (int64_t c = 0; c < d; ++c) gek[c] = on[c] ? gi[c] : T(0);
        } else {
          edge_embedding(tv, idx, k, e.data());
          const T* __restrict hj = hv.row(a.col[k]).data();
          for (int64_t c = 0; c < d; ++c) gek[c] = (hj[c] + e[c] > T(0)) ? gi[c] : T(0);
        }
        if (gh) add_row(gh + static_cast<int64_t>(a.col[k]) * d, gek, d);
        if (gt)
          for (int64_t f = 0; f < nf; ++f) add_row(gt + static_cast<int64_t>(idx(k, f)) * d, gek, d);
      }
    }
  }
  static void edge_embedding(const Mat<T>& tv, const IndexMat& idx, int64_t k, T* __restrict out) {
    const int64_t d = tv.cols();
    const T* __restrict first = tv.row(idx(k, 0)).data();
    for (int64_t c = 0; c < d; ++c) out[c] = first[c];
    for (int64_t f = 1; f < idx.cols(); ++f) add_row(out, tv.row(idx(k, f)).data(), d);
  }
};

}  // namespace

template <typename T>
Var<T> gather_rows(Var<T> x, IndexList index) {
  const int64_t n = static_cast<int64_t>(index->size());
  auto* tape = x.tape();
  for (int32_t i : *index)
    if (i < 0 || i >= x.rows()) fail("gather_rows: index {} outside [0, {})", i, x.rows());
  auto* node = tape->template push<GatherRowsNode<T>>(x.node(), index);
  auto& y = node->mutable_value();
  y.resize(n, x.cols());
  for (int64_t i = 0; i < n; ++i) y.row(i) = x.value().row((*index)[i]);
  return finish(tape, node, {x});
}

template <typename T>
Var<T> segment_sum(Var<T> x, OffsetList offsets) {
  return segment_impl(x, std::move(offsets), false);
}

template <typename T>
Var<T> segment_mean(Var<T> x, OffsetList offsets) {
  return segment_impl(x, std::move(offsets), true);
}

template <typename T>
Var<T> embedding_sum(Var<T> table, IndexMatPtr rows) {
  const IndexMat& idx = *rows;
  const int64_t n = idx.rows(), d = table.cols();
  for (int64_t k = 0; k < idx.size(); ++k)
    if (idx.data()[k] < 0 || idx.data()[k] >= table.rows())
      fail("embedding_sum: row {} outside the table's {} rows", idx.data()[k], table.rows());
  auto* tape = table.tape();
  auto* node = tape->template push<EmbeddingSumNode<T>>(table.node(), rows);
  auto& y = node->mutable_value();
  y.setZero(n, d);
  const Mat<T>& t = table.value();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t f = 0; f < idx.cols(); ++f) add_row(y.row(i).data(), t.row(idx(i, f)).data(), d);
  return finish(tape, node, {table});
}

template <typename T>
Var<T> gin_aggregate(Var<T> h, Var<T> edge_emb, Var<T> eps, CsrPtr adjacency) {
  const Csr& a = *adjacency;
  if (a.num_rows != h.rows() || a.num_cols != h.rows())
    fail("gin_aggregate: adjacency is {}x{} but there are {} vertices", a.num_rows, a.num_cols, h.rows());
  if (edge_emb.rows() != a.nnz() || edge_emb.cols() != h.cols())
    fail("gin_aggregate: edge embeddings are {}x{}, expected {}x{}", edge_emb.rows(), edge_emb.cols(), a.nnz(), h.cols());
  if (eps.rows() != 1 || eps.cols() != 1) fail("gin_aggregate: eps must be 1x1");
  auto* tape = h.tape();
  auto* node = tape->template push<GinAggregateNode<T>>(h.node(), edge_emb.node(), eps.node(), adjacency);
  auto& y = node->mutable_value();
  const Mat<T>& hv = h.value();
  const Mat<T>& ev = edge_emb.value();
  const int64_t d = hv.cols();
  y = (T(1) + eps.value()(0, 0)) * hv;
  const detail::ReluSite site = detail::relu_site(*tape, a.nnz() * d, "gin_aggregate");
  node->frozen = site.replay;
  detail::with_relu_mode(site, [&](auto mode) {
    for (int64_t i = 0; i < a.num_rows; ++i) {
      T* __restrict yi = y.row(i).data();
      for (int64_t k = a.row_ptr[i]; k < a.row_ptr[i + 1]; ++k) {
        const T* __restrict hj = hv.row(a.col[k]).data();
        const T* __restrict ek = ev.row(k).data();
        for (int64_t c = 0; c < d; ++c) yi[c] += detail::relu_at<mode()>(hj[c] + ek[c], site.record, site.replay, k * d + c);
      }
    }
  });
  return finish(tape, node, {h, edge_emb, eps});
}

template <typename T>
Var<T> gin_aggregate_embedded(Var<T> h, Var<T> table, IndexMatPtr edge_rows, Var<T> eps, CsrPtr adjacency) {
  const Csr& a = *adjacency;
  const IndexMat& idx = *edge_rows;
  if (a.num_rows != h.rows() || a.num_cols != h.rows())
    fail("gin_aggregate_embedded: adjacency is {}x{} but there are {} vertices", a.num_rows, a.num_cols, h.rows());
  if (idx.rows() != a.nnz() || idx.cols() < 1)
    fail("gin_aggregate_embedded: {}x{} edge rows for {} edges", idx.rows(), idx.cols(), a.nnz());
  if (table.cols() != h.cols()) fail("gin_aggregate_embedded: table width {} != {}", table.cols(), h.cols());
  if (eps.rows() != 1 || eps.cols() != 1) fail("gin_aggregate_embedded: eps must be 1x1");
  for (int64_t k = 0; k < idx.size(); ++k)
    if (idx.data()[k] < 0 || idx.data()[k] >= table.rows())
      fail("gin_aggregate_embedded: table row {} outside [0, {})", idx.data()[k], table.rows());
  auto* tape = h.tape();
  auto* node =
      tape->template push<GinAggregateEmbeddedNode<T>>(h.node(), table.node(), edge_rows, eps.node(), adjacency);
  auto& y = node->mutable_value();
  const Mat<T>& hv = h.value();
  const int64_t d = hv.cols();
  y.noalias() = (T(1) + eps.value()(0, 0)) * hv;
  std::vector<T> e(static_cast<size_t>(d));
  const detail::ReluSite site = detail::relu_site(*tape, a.nnz() * d, "gin_aggregate_embedded");
  node->frozen = site.replay;
  detail::with_relu_mode(site, [&](auto mode) {
    for (int64_t i = 0; i < a.num_rows; ++i) {
      T* __restrict yi = y.row(i).data();
      for (int64_t k = a.row_ptr[i]; k < a.row_ptr[i + 1]; ++k) {
        GinAggregateEmbeddedNode<T>::edge_embedding(table.value(), idx, k, e.data());
        const T* __restrict hj = hv.row(a.col[k]).data();
        const T* __restrict ek = e.data();
        for (int64_t c = 0; c < d; ++c) yi[c] += detail::relu_at<mode()>(hj[c] + ek[c], site.record, site.replay, k * d + c);
      }
    }
  });
  return finish(tape, node, {h, table, eps});
}

#define RELFM_INSTANTIATE_GRAPH(T)                                        \
  template Var<T> gather_rows<T>(Var<T>, IndexList);                      \
  template Var<T> segment_sum<T>(Var<T>, OffsetList);                     \
  template Var<T> segment_mean<T>(Var<T>, OffsetList);                    \
  template Var<T> embedding_sum<T>(Var<T>, IndexMatPtr);                  \
  template Var<T> gin_aggregate<T>(Var<T>, Var<T>, Var<T>, CsrPtr);       \
  template Var<T> gin_aggregate_embedded<T>(Var<T>, Var<T>, IndexMatPtr, Var<T>, CsrPtr);

RELFM_INSTANTIATE_GRAPH(float)
RELFM_INSTANTIATE_GRAPH(double)
RELFM_INSTANTIATE_GRAPH(Dual<double>)

}  // namespace relfm
