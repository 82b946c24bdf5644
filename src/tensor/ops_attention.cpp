// Attention on a fixed sparse pattern, multi-head (its dense counterpart: ops_dense_attention.cpp).
//
// Edge tensors are nnz x H: column h holds head h's value on every edge, in the pattern's CSR order (rows
// are queries, entries their keys). Node features are n x d with d = H * d_head, head h owning columns
// [h d_head, (h + 1) d_head). With H = 1 the sparse ops are the classic single-valued SpMM and SDDMM.
// Every loop runs over one contiguous head slice of a feature row, so it vectorises; backward passes that
// go against the pattern's direction (to keys) scatter, which is conflict-free in one thread.
#include "src/tensor/ops.hpp"
#include "src/tensor/op_util.hpp"
#include "src/tensor/sparse_edges.hpp"
#include "src/tensor/split_moves.hpp"
#include "src/tensor/pattern_matrix.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <span>
#include <type_traits>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace relfm {
namespace {

using detail::finish;
using detail::head_width;
using namespace sparse;
using tile_values::scatter_tile;
using pattern_matrix::PatternMatrix;
using pattern_matrix::rows_view;

// Checks that `t` is the transpose of `p` (sizes only: it is built by transpose_with_edges).
void check_transpose(const char* op, const Csr& p, const CsrTransposePtr& t) {
  if (t && (t->csr.num_rows != p.num_cols || t->csr.nnz() != p.nnz() || static_cast<int64_t>(t->edge.size()) != p.nnz()))
    fail("{}: the transposed pattern does not belong to the pattern", op);
}
void check_tiles(const char* op, const Csr& p, const EdgeTilesPtr& tiles) {
  if (!tiles) return;
  if (static_cast<int64_t>(tiles->tiled.size()) != p.nnz())
    fail("{}: the edge tiles mark {} edges, the pattern has {}", op, tiles->tiled.size(), p.nnz());
  if (static_cast<int64_t>(tiles->rest_by_row.ptr.size()) != p.num_rows + 1 ||
      static_cast<int64_t>(tiles->rest_by_key.ptr.size()) != p.num_cols + 1)
    fail("{}: the edge tiles' rest is not indexed for this pattern (EdgeTiles::index_rest)", op);
}

// out[e, h] (= or +=) scale * a[i, slice h] . b[j, slice h] for every edge e = (i, j) of the pattern, where a
// and b hold `heads` slices of equal width side by side (a head's columns; or a head's K hops stacked, so
// that one product sums over the hops). rest = false: the tiles' edges only (the caller has the others).
template <typename T>
void sampled_products(const Csr& pattern, const EdgeTiles* tiles, const Mat<T>& a, const Mat<T>& b, int64_t heads, T scale,
                      bool accumulate, T* out, bool rest = true) {
  const int64_t width = a.cols() / heads;
  if (tiles) {
    std::vector<Mat<T>> dense(static_cast<size_t>(heads));
    Mat<T> as, bs;
    std::vector<float> rows_a, rows_b;
    if constexpr (std::is_same_v<T, float>) {  // one buffer per head, as large as the largest tile (sized once)
      int64_t cells = 0;
      for (const auto& t : tiles->tiles) cells = std::max(cells, t.rows.count * t.keys.count);
      for (auto& tile : dense) tile.resize(cells, 1);
    }
    for (const auto& t : tiles->tiles) {
      if constexpr (std::is_same_v<T, float>) {  // on the selected GEMM backend (pattern_matrix.hpp)
        const pattern_matrix::TileOperand x = pattern_matrix::tile_rows(a, t.rows, rows_a), y = pattern_matrix::tile_rows(b, t.keys, rows_b);
        for (int64_t h = 0; h < heads; ++h) {
          float* tile = dense[static_cast<size_t>(h)].data();  // the tile's cells, row-major, at the buffer's start
          gemm::multiply({x.data + h * width, y.data + h * width, tile, t.rows.count, t.keys.count, width, false, true, false, x.ld, y.ld, 0});
          if (scale != T(1))
            for (int64_t q = 0; q < t.rows.count * t.keys.count; ++q) tile[q] *= scale;
        }
      } else {
        for (int64_t h = 0; h < heads; ++h) {
          Mat<T>& tile = dense[static_cast<size_t>(h)];
          tile.noalias() = rows_view(a, t.rows, h, width, as) * rows_view(b, t.keys, h, width, bs).transpose();
          if (scale != T(1)) tile *= scale;
        }
      }
      scatter_tile(dense, t, out, heads, accumulate);
    }
  }
  if (!rest) return;
  const SparseEdges edges(pattern, tiles, nullptr);
  const bool fixed = tiles && with_fixed_heads(heads, width, [](auto, auto) {});
  if (fixed && edges.each_run_by_key_blocks(cache_block_rows<T>(b.cols()), [&](int64_t i, const int64_t* edge, const VertexId* key, int64_t n) {
        with_fixed_heads(heads, width, [&](auto h, auto w) {
          dot_run_fixed<decltype(h)::value, decltype(w)::value>(a.row(i).data(), b.data(), b.cols(), scale, accumulate, out, edge, key, n);
        });
      }))
    return;
  edges.each_by_key_blocks(cache_block_rows<T>(b.cols()), [&](int64_t k, int64_t i, int64_t j) {
    const T* ai = a.row(i).data();
    const T* bj = b.row(j).data();
    T* o = out + k * heads;
    for (int64_t h = 0; h < heads; ++h) {
      const T v = scale * dot_row(ai + h * width, bj + h * width, width);
      o[h] = accumulate ? o[h] + v : v;
    }
  });
}

template <typename T>
struct SpmmNode final : Node<T> {
  CsrPtr pattern;
  CsrTransposePtr transposed;
  EdgeTilesPtr tiles;
  Node<T>* w;
  Node<T>* x;
  SpmmNode(CsrPtr p, CsrTransposePtr t, EdgeTilesPtr tl, Node<T>* w_, Node<T>* x_)
      : Node<T>(OpKind::kSpmm), pattern(std::move(p)), transposed(std::move(t)), tiles(std::move(tl)), w(w_), x(x_) {}
  void backward() override {
    const Mat<T>& g = this->grad();
    if (w->requires_grad())  // gW = G X^T on the pattern
      sampled_products(*pattern, tiles.get(), g, x->value(), w->value().cols(), T(1), true, w->grad_accumulator().data());
    if (x->requires_grad())  // gX += W^T G
      PatternMatrix<T>(*pattern, tiles.get(), transposed.get(), w->value()).multiply_transposed(g, x->grad_accumulator());
  }
};

template <typename T>
struct SddmmNode final : Node<T> {
  CsrPtr pattern;
  CsrTransposePtr transposed;
  EdgeTilesPtr tiles;
  Node<T>* a;
  Node<T>* b;
  SddmmNode(CsrPtr p, CsrTransposePtr t, EdgeTilesPtr tl, Node<T>* a_, Node<T>* b_)
      : Node<T>(OpKind::kSddmm), pattern(std::move(p)), transposed(std::move(t)), tiles(std::move(tl)), a(a_), b(b_) {}
  void backward() override {
    if (!a->requires_grad() && !b->requires_grad()) return;
    const PatternMatrix<T> g(*pattern, tiles.get(), transposed.get(), this->grad());
    if (a->requires_grad()) g.multiply(b->value(), a->grad_accumulator());              // gA += G B
    if (b->requires_grad()) g.multiply_transposed(a->value(), b->grad_accumulator());  // gB += G^T A
  }
};

// K hops of personalised-PageRank diffusion on fixed edge values A (research/diffuser.md §1.4, §1.6):
//   z_0 = v,  u_{t+1} = keep A z_t + teleport v,  z_{t+1} = dropout_t(u_{t+1}),  output z_K.
// One node for all hops: A's tiles are gathered once, and the gradient of A sums over the hops in one
// product per tile with the hops stacked (inner width K d_head instead of K products of width d_head):
//   gu_{t+1} = mask_t . g_{t+1},  g_t = keep A^T gu_{t+1},  gv = sum_t teleport gu_{t+1} + g_0,
//   gA = keep sum_t gu_{t+1} z_t^T on the pattern.
// Split over ranks (a SplitLayout), z_t is held by owned rows and A reads the columns: each hop brings
// z_t's halo and shared rows to the columns before the product and completes the partial rows after it;
// the backward runs the adjoints of the two moves. Every rank then runs every move of every hop.
template <typename T>
struct DiffusionNode final : Node<T> {
  CsrPtr pattern;
  CsrTransposePtr transposed;
  EdgeTilesPtr tiles;
  SplitLayoutPtr layout;  // null: unsplit (rows, columns and owned rows are the same)
  Node<T>* a;
  Node<T>* v;
  int64_t hops;
  T keep, teleport, drop_scale;
  std::vector<std::vector<uint8_t>> masks;  // per hop (empty: no dropout)
  Mat<T> stacked;  // z_0 .. z_{K-1} over the columns: head h's hop t at columns (h K + t) d_head
  DiffusionNode(CsrPtr p, CsrTransposePtr t, EdgeTilesPtr tl, SplitLayoutPtr l, Node<T>* a_, Node<T>* v_, int64_t k, T kp,
                T tp, T ds)
      : Node<T>(OpKind::kDiffusion), pattern(std::move(p)), transposed(std::move(t)), tiles(std::move(tl)), layout(std::move(l)),
        a(a_), v(v_), hops(k), keep(kp), teleport(tp), drop_scale(ds) {}
  bool is_collective() const override { return layout != nullptr; }

  // Copies z (n x d) into hop t's columns of `into` (n x K d).
  void stack(const Mat<T>& z, int64_t t, Mat<T>& into) const {
    const int64_t heads = a->value().cols(), dh = z.cols() / heads;
    for (int64_t h = 0; h < heads; ++h) into.middleCols((h * hops + t) * dh, dh) = z.middleCols(h * dh, dh);
  }
  void mask(int64_t t, Mat<T>& m) const {
    if (masks[static_cast<size_t>(t)].empty()) return;
    const uint8_t* keepers = masks[static_cast<size_t>(t)].data();
    T* p = m.data();
    for (int64_t e = 0; e < m.size(); ++e) p[e] = keepers[e] ? p[e] * drop_scale : T(0);
  }
  // After a hop's product into `next`, one visit per row (unsplit, no dropout): out = keep next (+ teleport
  // base), next back to zero for the following product, and optionally out added to `sum` (x sum_scale) and
  // stacked at hop `stack_at` of `into`. Each of these was a pass over L x d values of its own: a tenth of
  // the layer at 4k went to them.
  void finish_hop(Mat<T>& next, const Mat<T>* base, Mat<T>& out, Mat<T>* sum, T sum_scale, Mat<T>* into, int64_t stack_at) const {
    const int64_t d = next.cols(), heads = a->value().cols(), dh = d / heads;
    for (int64_t r = 0; r < next.rows(); ++r) {
      T* n = next.row(r).data();
      T* o = out.row(r).data();
      if (base) {
        const T* b = base->row(r).data();
        for (int64_t k = 0; k < d; ++k) o[k] = keep * n[k] + teleport * b[k];
      } else {
        for (int64_t k = 0; k < d; ++k) o[k] = keep * n[k];
      }
      std::fill(n, n + d, T(0));
      if (sum) {
        T* s = sum->row(r).data();
        for (int64_t k = 0; k < d; ++k) s[k] += sum_scale * o[k];
      }
      if (into)
        for (int64_t h = 0; h < heads; ++h) {
          T* to = into->row(r).data() + (h * hops + stack_at) * dh;
          for (int64_t c = 0; c < dh; ++c) to[c] = o[h * dh + c];  // (a loop: a call to memmove per head cost more)
        }
    }
  }
  bool dropping() const {
    return std::any_of(masks.begin(), masks.end(), [](const std::vector<uint8_t>& m) { return !m.empty(); });
  }

  void backward() override {
    const bool grad_a = a->requires_grad(), grad_v = v->requires_grad();
    // A split node's peers wait in its moves: it runs them all whatever this rank's inputs need.
    const bool all = layout != nullptr;
    if (!grad_a && !grad_v && !all) return;
    const PatternMatrix<T> matrix(*pattern, tiles.get(), transposed.get(), a->value());
    if (!layout && !dropping() && hops > 0) {
      backward_fused(matrix, grad_a, grad_v);
      return;
    }
    const Csr& p = *pattern;
    const int64_t d = v->value().cols(), heads = a->value().cols(), dh = d / heads;
    Mat<T> g = this->grad(), gv, gu_stacked, gu_rows, next, ga_rest;
    if (grad_v || all) gv.setZero(v->value().rows(), d);
    if (grad_a) gu_stacked.resize(p.num_rows, hops * d);
    // The random edges' share of A's gradient inside the hops' transposed products, as backward_fused
    // does (there the reasons): here keep gu_{t+1}[i] . z_t[j] with the dropped-out gu and the local
    // columns' z_t that the forward stacked.
    bool rest_in_hops = grad_a && matrix.rest_edges() > 0;
    if (rest_in_hops) ga_rest.setZero(matrix.rest_edges(), heads);
    for (int64_t t = hops - 1; t >= 0; --t) {
      mask(t, g);  // now gu_{t+1}, over the owned rows
      if ((grad_v || all) && teleport != T(0)) gv += teleport * g;
      const Mat<T>& gu = layout ? (gu_rows = detail::split_rows_adjoint(*layout, g)) : g;  // over the pattern's rows
      if (grad_a) stack(gu, t, gu_stacked);
      if (t == 0 && !grad_v && !all && !rest_in_hops) break;
      next.setZero(p.num_cols, d);
      if (!rest_in_hops || !matrix.multiply_transposed_with_rest_products(gu, next, stacked.data() + t * dh, stacked.cols(), hops * dh,
                                                                          keep, ga_rest.data())) {
        rest_in_hops = false;  // (the same answer at every hop: a head shape without a fused kernel)
        matrix.multiply_transposed(gu, next);
      }
      if (layout) {
        next *= keep;
        g = detail::split_columns_adjoint(*layout, next);
      } else {
        g = keep * next;  // g_t
      }
    }
    next = Mat<T>();  // freed before the product of A's gradient allocates its own
    if (grad_v || all) {
      if (hops > 0) gv += g;  // z_0 = v
      else gv = g;            // no hops, no moves: the output is v
      if (grad_v) v->accumulate_grad(gv);
    }
    if (grad_a) {
      sampled_products(p, tiles.get(), gu_stacked, stacked, heads, keep, true, a->grad_accumulator().data(), !rest_in_hops);
      if (rest_in_hops) matrix.add_rest_by_key(ga_rest.data(), a->grad_accumulator().data());
    }
  }

  // The same recurrence unsplit and without dropout (gu_t = g_t), each hop's element-wise work in one
  // visit: g_t = keep A^T g_{t+1}, then gv += teleport g_t and g_t stacked at t - 1, while the row is hot.
  // The random edges' share of gA is taken inside the hops' products: each hop's transposed product
  // gathers g_{t+1}'s rows along the random edges anyway, and dots them with the key's z_t as it goes
  // (keep g_{t+1}[i] . z_t[j], hop by hop), where the product with the hops stacked would gather each
  // edge's 5 d_head-wide stacked row once more (about a tenth of the layer at 4k).
  void backward_fused(const PatternMatrix<T>& matrix, bool grad_a, bool grad_v) {
    const Csr& p = *pattern;
    const int64_t d = v->value().cols(), heads = a->value().cols(), dh = d / heads;
    Mat<T> g = this->grad(), gu_stacked, next, ga_rest;
    const bool teleporting = grad_v && teleport != T(0);
    Mat<T>* gv = grad_v ? &v->grad_accumulator() : nullptr;  // v's gradient, added to in place
    if (grad_a) gu_stacked.resize(p.num_rows, hops * d);
    if (teleporting) *gv += teleport * g;
    if (grad_a) stack(g, hops - 1, gu_stacked);
    bool rest_in_hops = grad_a && matrix.rest_edges() > 0;
    if (rest_in_hops) ga_rest.setZero(matrix.rest_edges(), heads);
    next.setZero(p.num_cols, d);
    for (int64_t t = hops - 1; t >= 0; --t) {
      if (t == 0 && !grad_v && !rest_in_hops) break;
      // z_t's head h at columns (h K + t) d_head of `stacked`
      if (!rest_in_hops || !matrix.multiply_transposed_with_rest_products(g, next, stacked.data() + t * dh, stacked.cols(), hops * dh,
                                                                          keep, ga_rest.data())) {
        rest_in_hops = false;  // (the same answer at every hop: a head shape without a fused kernel)
        matrix.multiply_transposed(g, next);
      }
      const bool inner = t > 0;  // g_t is then gu_t, which feeds gv and hop t - 1's stack
      finish_hop(next, nullptr, g, inner && teleporting ? gv : nullptr, teleport, inner && grad_a ? &gu_stacked : nullptr, t - 1);
    }
    next = Mat<T>();
    if (grad_v) *gv += g;  // z_0 = v
    if (grad_a) {
      sampled_products(p, tiles.get(), gu_stacked, stacked, heads, keep, true, a->grad_accumulator().data(), !rest_in_hops);
      if (rest_in_hops) matrix.add_rest_by_key(ga_rest.data(), a->grad_accumulator().data());
    }
  }
};

// ppr_diffusion and split_ppr_diffusion: checks, then the forward hops into a DiffusionNode.
template <typename T>
Var<T> diffusion(const char* op, CsrPtr pattern, Var<T> a, Var<T> v, const DiffusionHops& hops, const CounterRng& dropout_rng,
                 bool training, CsrTransposePtr transposed, EdgeTilesPtr tiles, SplitLayoutPtr layout, RowIds row_ids) {
  const Csr& p = *pattern;
  check_transpose(op, p, transposed);
  check_tiles(op, p, tiles);
  if (layout) {
    if (p.num_rows != layout->pattern_rows() || p.num_cols != layout->columns || v.rows() != layout->owned)
      fail("{}: pattern {}x{} and v with {} rows do not fit a layout of {} pattern rows, {} columns, {} owned rows", op, p.num_rows,
           p.num_cols, v.rows(), layout->pattern_rows(), layout->columns, layout->owned);
  } else if (p.num_rows != p.num_cols || p.num_cols != v.rows()) {
    fail("{}: pattern {}x{} does not fit v with {} rows", op, p.num_rows, p.num_cols, v.rows());
  }
  if (a.rows() != p.nnz()) fail("{}: values are {}x{}, expected {} rows (one per edge)", op, a.rows(), a.cols(), p.nnz());
  head_width(op, v.cols(), a.cols());
  if (hops.hops < 0) fail("{}: {} hops", op, hops.hops);
  if (!(hops.alpha >= 0.0 && hops.alpha <= 1.0)) fail("{}: alpha {} outside [0, 1]", op, hops.alpha);
  if (!(hops.dropout >= 0.0 && hops.dropout < 1.0)) fail("{}: dropout {} outside [0, 1)", op, hops.dropout);
  if (row_ids && static_cast<int64_t>(row_ids->size()) != v.rows()) fail("{}: {} row ids for {} rows", op, row_ids->size(), v.rows());
  const bool dropping = training && hops.dropout > 0.0;
  auto* tape = v.tape();
  auto* node = tape->template push<DiffusionNode<T>>(pattern, transposed, tiles, layout, a.node(), v.node(), hops.hops,
                                                     T(1.0 - hops.alpha), T(hops.alpha),
                                                     T(dropping ? 1.0 / (1.0 - hops.dropout) : 1.0));
  const Mat<T>& vv = v.value();
  const int64_t d = vv.cols();
  node->masks.resize(static_cast<size_t>(hops.hops));
  node->stacked.resize(p.num_cols, hops.hops * d);
  const PatternMatrix<T> matrix(p, tiles.get(), nullptr, a.value());
  Mat<T> z = vv, split_columns, next;
  if (!layout && !dropping) {  // each hop's element-wise work in one visit per row (DiffusionNode::finish_hop)
    if (hops.hops > 0) node->stack(z, 0, node->stacked);
    next.setZero(p.num_rows, d);
    for (int64_t t = 0; t < hops.hops; ++t) {
      matrix.multiply(z, next);
      const bool more = t + 1 < hops.hops;
      node->finish_hop(next, hops.alpha > 0.0 ? &vv : nullptr, z, nullptr, T(0), more ? &node->stacked : nullptr, t + 1);
    }
    node->mutable_value() = std::move(z);
    return finish(tape, node, {a, v});
  }
  for (int64_t t = 0; t < hops.hops; ++t) {
    const Mat<T>& columns = layout ? (split_columns = detail::split_columns(*layout, z)) : z;
    node->stack(columns, t, node->stacked);
    next.setZero(p.num_rows, d);
    matrix.multiply(columns, next);
    if (layout) z = node->keep * detail::split_rows(*layout, next);
    else z = node->keep * next;
    if (hops.alpha > 0.0) z += node->teleport * vv;
    if (dropping) {  // the mask of dropout(z, p, dropout_rng.derive(t + 1), training, row_ids)
      auto& m = node->masks[static_cast<size_t>(t)];
      m.resize(static_cast<size_t>(z.size()));
      const auto threshold = static_cast<float>(hops.dropout);
      detail::dropout_uniforms(dropout_rng.derive(static_cast<uint64_t>(t) + 1), z.rows(), z.cols(), row_ids.get(),
                               [&](const float* u, int64_t base, int64_t len) {
                                 for (int64_t k = 0; k < len; ++k) m[static_cast<size_t>(base + k)] = u[k] >= threshold;
                               });
      node->mask(t, z);
    }
  }
  node->mutable_value() = std::move(z);
  if (layout) {
    tape->set_requires_grad_collective(node);
    return Var<T>(node, tape);
  }
  return finish(tape, node, {a, v});
}

}  // namespace

template <typename T>
Var<T> spmm(CsrPtr pattern, Var<T> w, Var<T> x, CsrTransposePtr transposed, EdgeTilesPtr tiles) {
  const Csr& a = *pattern;
  check_transpose("spmm", a, transposed);
  check_tiles("spmm", a, tiles);
  if (a.num_cols != x.rows()) fail("spmm: pattern has {} columns but x has {} rows", a.num_cols, x.rows());
  if (w.rows() != a.nnz()) fail("spmm: values are {}x{}, expected {} rows (one per edge)", w.rows(), w.cols(), a.nnz());
  head_width("spmm", x.cols(), w.cols());
  auto* tape = x.tape();
  auto* node = tape->template push<SpmmNode<T>>(pattern, transposed, tiles, w.node(), x.node());
  auto& y = node->mutable_value();
  y.setZero(a.num_rows, x.cols());
  PatternMatrix<T>(a, tiles.get(), nullptr, w.value()).multiply(x.value(), y);
  return finish(tape, node, {w, x});
}

template <typename T>
Var<T> sddmm(CsrPtr pattern, Var<T> a, Var<T> b, int64_t heads, CsrTransposePtr transposed, EdgeTilesPtr tiles) {
  const Csr& p = *pattern;
  check_transpose("sddmm", p, transposed);
  check_tiles("sddmm", p, tiles);
  if (p.num_rows != a.rows() || p.num_cols != b.rows() || a.cols() != b.cols())
    fail("sddmm: pattern {}x{} does not fit a {}x{} and b {}x{}", p.num_rows, p.num_cols, a.rows(), a.cols(), b.rows(),
         b.cols());
  head_width("sddmm", a.cols(), heads);
  auto* tape = a.tape();
  auto* node = tape->template push<SddmmNode<T>>(pattern, transposed, tiles, a.node(), b.node());
  auto& w = node->mutable_value();
  w.resize(p.nnz(), heads);
  sampled_products(p, tiles.get(), a.value(), b.value(), heads, T(1), false, w.data());
  return finish(tape, node, {a, b});
}

template <typename T>
Var<T> ppr_diffusion(CsrPtr pattern, Var<T> a, Var<T> v, const DiffusionHops& hops, const CounterRng& dropout_rng,
                     bool training, CsrTransposePtr transposed, EdgeTilesPtr tiles) {
  return diffusion("ppr_diffusion", std::move(pattern), a, v, hops, dropout_rng, training, std::move(transposed), std::move(tiles),
                   nullptr, nullptr);
}

template <typename T>
Var<T> split_ppr_diffusion(CsrPtr pattern, Var<T> a, Var<T> v, const DiffusionHops& hops, const CounterRng& dropout_rng,
                           bool training, SplitLayoutPtr layout, RowIds owned_rows, CsrTransposePtr transposed, EdgeTilesPtr tiles) {
  if (!layout) fail("split_ppr_diffusion: no split layout");
  return diffusion("split_ppr_diffusion", std::move(pattern), a, v, hops, dropout_rng, training, std::move(transposed),
                   std::move(tiles), std::move(layout), std::move(owned_rows));
}

#define RELFM_INSTANTIATE_ATTENTION(T)                                 \
  template Var<T> spmm<T>(CsrPtr, Var<T>, Var<T>, CsrTransposePtr, EdgeTilesPtr);            \
  template Var<T> sddmm<T>(CsrPtr, Var<T>, Var<T>, int64_t, CsrTransposePtr, EdgeTilesPtr);  \
  template Var<T> ppr_diffusion<T>(CsrPtr, Var<T>, Var<T>, const DiffusionHops&, const CounterRng&, bool, CsrTransposePtr, EdgeTilesPtr); \
  template Var<T> split_ppr_diffusion<T>(CsrPtr, Var<T>, Var<T>, const DiffusionHops&, const CounterRng&, bool, SplitLayoutPtr, RowIds, \
                                         CsrTransposePtr, EdgeTilesPtr);

RELFM_INSTANTIATE_ATTENTION(float)
RELFM_INSTANTIATE_ATTENTION(double)
RELFM_INSTANTIATE_ATTENTION(Dual<double>)

}  // namespace relfm
