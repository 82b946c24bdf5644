// Ops on a matrix whose rows are split over ranks (SplitLayout in ops.hpp): the moves of sequence
// parallelism (halo rows to their readers, partial rows to their owners) and the softmax whose rows are
// split. Every op here is collective: each rank of the layout's communicator calls it in the same order.
#include "src/tensor/op_util.hpp"
#include "src/tensor/ops.hpp"
#include "src/tensor/split_moves.hpp"

#include <cmath>
#include <limits>

namespace relfm {
namespace {

using detail::finish;
using detail::wire;

// Sends, to each destination j of `nb`, the rows send_rows[j] of src (in that order), and stores what
// source i sends into the rows recv_rows[i] of dst (adding when `add`).
template <typename T>
void exchange_rows(const Neighbourhood& nb, const Mat<T>& src, const std::vector<std::vector<int64_t>>& send_rows,
                   Mat<T>& dst, const std::vector<std::vector<int64_t>>& recv_rows, bool add) {
  const int64_t d = src.cols();
  RELFM_CHECK(send_rows.size() == nb.destinations().size() && recv_rows.size() == nb.sources().size(),
              "split exchange: plans for {} / {} neighbours, {} / {} in the neighbourhood", send_rows.size(), recv_rows.size(),
              nb.destinations().size(), nb.sources().size());
  std::vector<int64_t> send_counts, recv_counts;
  int64_t sent = 0, received = 0;
  for (const auto& rows : send_rows) sent += static_cast<int64_t>(rows.size());
  for (const auto& rows : recv_rows) received += static_cast<int64_t>(rows.size());
  Mat<T> send(sent, d), recv(received, d);
  int64_t at = 0;
  for (const auto& rows : send_rows) {
    for (int64_t r : rows) send.row(at++) = src.row(r);
    send_counts.push_back(static_cast<int64_t>(rows.size()) * d * detail::Wire<T>::width);
  }
  for (const auto& rows : recv_rows) recv_counts.push_back(static_cast<int64_t>(rows.size()) * d * detail::Wire<T>::width);
  nb.exchange(wire(send.data()), send_counts, wire(recv.data()), recv_counts);
  at = 0;
  for (const auto& rows : recv_rows)
    for (int64_t r : rows) {
      if (add) dst.row(r) += recv.row(at++);
      else dst.row(r) = recv.row(at++);
    }
}

}  // namespace

namespace detail {

template <typename T>
Mat<T> split_columns(const SplitLayout& s, const Mat<T>& xv) {
  if (xv.rows() != s.owned) fail("split_to_columns: {} rows for a layout that owns {}", xv.rows(), s.owned);
  Mat<T> y = Mat<T>::Zero(s.columns, xv.cols());
  for (int64_t i = 0; i < s.owned; ++i) y.row(s.owned_column[i]) = xv.row(i);
  exchange_rows(*s.halo, xv, s.send_owned, y, s.recv_columns, false);
  const auto shared = static_cast<int64_t>(s.shared_column.size());
  Mat<T> rows = Mat<T>::Zero(shared, xv.cols());
  for (int64_t k = 0; k < shared; ++k)
    if (s.shared_owned[k] >= 0) rows.row(k) = xv.row(s.shared_owned[k]);
  allreduce_sum(*s.comm, rows);
  for (int64_t k = 0; k < shared; ++k) y.row(s.shared_column[k]) = rows.row(k);
  return y;
}

template <typename T>
Mat<T> split_columns_adjoint(const SplitLayout& s, const Mat<T>& g) {
  Mat<T> gx = Mat<T>::Zero(s.owned, g.cols());
  // Shared rows: every rank read them, so their gradient is the sum over ranks (kept by the owner). The
  // owner's own column is in that sum, so the owned-column copy below skips shared rows.
  const auto shared = static_cast<int64_t>(s.shared_column.size());
  Mat<T> sum(shared, g.cols());
  std::vector<char> is_shared(static_cast<size_t>(s.owned), 0);
  for (int64_t k = 0; k < shared; ++k) {
    sum.row(k) = g.row(s.shared_column[k]);
    if (s.shared_owned[k] >= 0) is_shared[static_cast<size_t>(s.shared_owned[k])] = 1;
  }
  allreduce_sum(*s.comm, sum);
  for (int64_t k = 0; k < shared; ++k)
    if (s.shared_owned[k] >= 0) gx.row(s.shared_owned[k]) = sum.row(k);
  for (int64_t i = 0; i < s.owned; ++i)
    if (!is_shared[static_cast<size_t>(i)]) gx.row(i) = g.row(s.owned_column[i]);
  // Halo columns: back to their owners, added.
  exchange_rows(*s.halo_back, g, s.recv_columns, gx, s.send_owned, true);
  return gx;
}

template <typename T>
Mat<T> split_rows(const SplitLayout& s, const Mat<T>& yv) {
  const int64_t full = s.full_rows(), shared = static_cast<int64_t>(s.shared_column.size());
  if (yv.rows() != full + shared) fail("split_complete_rows: {} rows for a layout of {} pattern rows", yv.rows(), full + shared);
  Mat<T> out = Mat<T>::Zero(s.owned, yv.cols());
  for (int64_t r = 0; r < full; ++r) out.row(s.full_row_owned[r]) = yv.row(r);
  Mat<T> whole = yv.bottomRows(shared);
  allreduce_sum(*s.comm, whole);
  for (int64_t k = 0; k < shared; ++k)
    if (s.shared_owned[k] >= 0) out.row(s.shared_owned[k]) = whole.row(k);
  return out;
}

template <typename T>
Mat<T> split_rows_adjoint(const SplitLayout& s, const Mat<T>& g) {
  const int64_t full = s.full_rows(), shared = static_cast<int64_t>(s.shared_column.size());
  Mat<T> gy(full + shared, g.cols());
  for (int64_t r = 0; r < full; ++r) gy.row(r) = g.row(s.full_row_owned[r]);
  // Each rank's partial row of a shared row receives the owner's gradient of the whole row.
  Mat<T> owner = Mat<T>::Zero(shared, g.cols());
  for (int64_t k = 0; k < shared; ++k)
    if (s.shared_owned[k] >= 0) owner.row(k) = g.row(s.shared_owned[k]);
  allreduce_sum(*s.comm, owner);
  gy.bottomRows(shared) = owner;
  return gy;
}

}  // namespace detail

namespace {

template <typename T>
struct SplitToColumnsNode final : Node<T> {
  Node<T>* x;
  SplitLayoutPtr layout;
  SplitToColumnsNode(Node<T>* x_, SplitLayoutPtr l) : Node<T>(OpKind::kSplitToColumns), x(x_), layout(std::move(l)) {}
  bool is_collective() const override { return true; }
  void backward() override {
    Mat<T> gx = detail::split_columns_adjoint(*layout, this->grad());
    if (x->requires_grad()) x->accumulate_grad(gx);
  }
};

template <typename T>
struct SplitCompleteRowsNode final : Node<T> {
  Node<T>* y;
  SplitLayoutPtr layout;
  SplitCompleteRowsNode(Node<T>* y_, SplitLayoutPtr l) : Node<T>(OpKind::kSplitCompleteRows), y(y_), layout(std::move(l)) {}
  bool is_collective() const override { return true; }
  void backward() override {
    Mat<T> gy = detail::split_rows_adjoint(*layout, this->grad());
    if (y->requires_grad()) y->accumulate_grad(gy);
  }
};

template <typename T>
struct SplitEdgeSoftmaxNode final : Node<T> {
  CsrPtr pattern;
  Node<T>* s;
  SplitLayoutPtr layout;
  SplitEdgeSoftmaxNode(CsrPtr p, Node<T>* s_, SplitLayoutPtr l)
      : Node<T>(OpKind::kSplitEdgeSoftmax), pattern(std::move(p)), s(s_), layout(std::move(l)) {}
  bool is_collective() const override { return true; }
  void backward() override {
    // ds = a (g - sum_row a g): full rows as edge_softmax's; the partial rows' sums reduced over ranks.
    const Mat<T>& a = this->value();
    const Mat<T>& g = this->grad();
    const Csr& p = *pattern;
    const int64_t heads = a.cols(), full = layout->full_rows();
    Mat<T> dot = Mat<T>::Zero(p.num_rows - full, heads);
    for (int64_t i = full; i < p.num_rows; ++i)
      for (int64_t k = p.row_ptr[i]; k < p.row_ptr[i + 1]; ++k)
        for (int64_t h = 0; h < heads; ++h) dot(i - full, h) += a(k, h) * g(k, h);
    detail::allreduce_sum(*layout->comm, dot);
    if (!s->requires_grad()) return;
    Mat<T> gs(a.rows(), heads);
    detail::edge_softmax_rows_backward(p, a, g, gs, 0, full);
    for (int64_t i = full; i < p.num_rows; ++i)
      for (int64_t k = p.row_ptr[i]; k < p.row_ptr[i + 1]; ++k)
        for (int64_t h = 0; h < heads; ++h) gs(k, h) = a(k, h) * (g(k, h) - dot(i - full, h));
    s->accumulate_grad(gs);
  }
};

template <typename T>
struct SumRowsOverRanksNode final : Node<T> {
  Node<T>* x;
  IndexList target;
  const Communicator& comm;
  SumRowsOverRanksNode(Node<T>* x_, IndexList t, const Communicator& c)
      : Node<T>(OpKind::kSumRowsOverRanks), x(x_), target(std::move(t)), comm(c) {}
  bool is_collective() const override { return true; }
  void backward() override {
    Mat<T> g = this->grad();
    detail::allreduce_sum(comm, g);
    Mat<T> gx = Mat<T>::Zero(x->value().rows(), g.cols());
    for (size_t i = 0; i < target->size(); ++i)
      if ((*target)[i] >= 0) gx.row(static_cast<int64_t>(i)) = g.row((*target)[i]);
    if (x->requires_grad()) x->accumulate_grad(gx);
  }
};

template <typename T>
double value_of(const T& v) {
  if constexpr (std::is_same_v<T, Dual<double>>) return v.v;
  else return static_cast<double>(v);
}

}  // namespace

template <typename T>
Var<T> split_to_columns(Var<T> x, SplitLayoutPtr layout) {
  if (x.rows() != layout->owned) fail("split_to_columns: {} rows for a layout that owns {}", x.rows(), layout->owned);
  auto* tape = x.tape();
  auto* node = tape->template push<SplitToColumnsNode<T>>(x.node(), layout);
  node->mutable_value() = detail::split_columns(*layout, x.value());
  tape->set_requires_grad_collective(node);
  return Var<T>(node, tape);
}

template <typename T>
Var<T> split_complete_rows(Var<T> y, SplitLayoutPtr layout) {
  if (y.rows() != layout->pattern_rows())
    fail("split_complete_rows: {} rows for a layout of {} pattern rows", y.rows(), layout->pattern_rows());
  auto* tape = y.tape();
  auto* node = tape->template push<SplitCompleteRowsNode<T>>(y.node(), layout);
  node->mutable_value() = detail::split_rows(*layout, y.value());
  tape->set_requires_grad_collective(node);
  return Var<T>(node, tape);
}

template <typename T>
Var<T> split_edge_softmax(CsrPtr pattern, Var<T> s, SplitLayoutPtr layout) {
  const Csr& p = *pattern;
  const int64_t full = layout->full_rows();
  if (s.rows() != p.nnz()) fail("split_edge_softmax: {} edge values for a pattern of {} edges", s.rows(), p.nnz());
  if (p.num_rows != layout->pattern_rows())
    fail("split_edge_softmax: a pattern of {} rows for a layout of {}", p.num_rows, layout->pattern_rows());
  const int64_t heads = s.cols(), partial = p.num_rows - full;
  auto* tape = s.tape();
  auto* node = tape->template push<SplitEdgeSoftmaxNode<T>>(pattern, s.node(), layout);
  Mat<T>& a = node->mutable_value();
  a.resize(s.rows(), heads);
  const Mat<T>& sv = s.value();
  // Full rows: whole on this rank, so edge_softmax's. Partial rows: their maxima (a constant shift, so a
  // plain double: it carries no tangent) and sums reduced over the ranks between the passes.
  detail::edge_softmax_rows(p, sv, a, 0, full);
  std::vector<double> mx(static_cast<size_t>(partial * heads), -std::numeric_limits<double>::infinity());
  for (int64_t i = full; i < p.num_rows; ++i)
    for (int64_t k = p.row_ptr[i]; k < p.row_ptr[i + 1]; ++k)
      for (int64_t h = 0; h < heads; ++h) mx[(i - full) * heads + h] = std::max(mx[(i - full) * heads + h], value_of(sv(k, h)));
  layout->comm->allreduce_max(mx.data(), mx.size());
  Mat<T> total = Mat<T>::Zero(partial, heads);
  for (int64_t i = full; i < p.num_rows; ++i) {
    const int64_t b = p.row_ptr[i], e = p.row_ptr[i + 1];
    for (int64_t k = b; k < e; ++k)
      for (int64_t h = 0; h < heads; ++h) a(k, h) = sv(k, h) - T(mx[(i - full) * heads + h]);
    detail::exp_in_place(a.data() + b * heads, (e - b) * heads);
    for (int64_t k = b; k < e; ++k)
      for (int64_t h = 0; h < heads; ++h) total(i - full, h) += a(k, h);
  }
  detail::allreduce_sum(*layout->comm, total);
  for (int64_t i = full; i < p.num_rows; ++i)
    for (int64_t k = p.row_ptr[i]; k < p.row_ptr[i + 1]; ++k)
      for (int64_t h = 0; h < heads; ++h) a(k, h) /= total(i - full, h);
  tape->set_requires_grad_collective(node);
  return Var<T>(node, tape);
}

template <typename T>
Var<T> sum_rows_over_ranks(Var<T> x, IndexList target, int64_t out_rows, const Communicator& comm) {
  if (static_cast<int64_t>(target->size()) != x.rows()) fail("sum_rows_over_ranks: {} targets for {} rows", target->size(), x.rows());
  auto* tape = x.tape();
  auto* node = tape->template push<SumRowsOverRanksNode<T>>(x.node(), target, comm);
  Mat<T>& y = node->mutable_value();
  y = Mat<T>::Zero(out_rows, x.cols());
  for (size_t i = 0; i < target->size(); ++i) {
    const int32_t t = (*target)[i];
    if (t >= out_rows) fail("sum_rows_over_ranks: target row {} of {}", t, out_rows);
    if (t >= 0) y.row(t) += x.value().row(static_cast<int64_t>(i));
  }
  detail::allreduce_sum(comm, y);
  tape->set_requires_grad_collective(node);
  return Var<T>(node, tape);
}

#define RELFM_INSTANTIATE_SPLIT(T)                                                           \
  template Mat<T> detail::split_columns<T>(const SplitLayout&, const Mat<T>&);               \
  template Mat<T> detail::split_columns_adjoint<T>(const SplitLayout&, const Mat<T>&);       \
  template Mat<T> detail::split_rows<T>(const SplitLayout&, const Mat<T>&);                  \
  template Mat<T> detail::split_rows_adjoint<T>(const SplitLayout&, const Mat<T>&);          \
  template Var<T> split_to_columns<T>(Var<T>, SplitLayoutPtr);                               \
  template Var<T> split_complete_rows<T>(Var<T>, SplitLayoutPtr);                            \
  template Var<T> split_edge_softmax<T>(CsrPtr, Var<T>, SplitLayoutPtr);                     \
  template Var<T> sum_rows_over_ranks<T>(Var<T>, IndexList, int64_t, const Communicator&);

RELFM_INSTANTIATE_SPLIT(float)
RELFM_INSTANTIATE_SPLIT(double)
RELFM_INSTANTIATE_SPLIT(Dual<double>)

}  // namespace relfm
