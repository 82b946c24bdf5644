// The sparse matrix of one set of edge values over an attention pattern, for products with node features
// (ops_attention.cpp: SpMM, SDDMM's backward, Diffuser's hops): the regular parts as dense per-head tiles
// (GEMMs), the rest walked edge by edge in cache blocks.
#pragma once

#include "src/graph/csr.hpp"
#include "src/graph/edge_tiles.hpp"
#include "src/tensor/gemm.hpp"
#include "src/tensor/sparse_edges.hpp"
#include "src/tensor/tile_values.hpp"

#include <Eigen/Dense>

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

namespace relfm::pattern_matrix {

using namespace sparse;
using tile_values::gather_tile;

template <typename T>
using RowsView = Eigen::Map<const Mat<T>, 0, Eigen::OuterStride<>>;
template <typename T>
using MutableRowsView = Eigen::Map<Mat<T>, 0, Eigen::OuterStride<>>;

// Head h's columns of the rows `span` of m: a view when the rows are contiguous, else gathered into
// `scratch` (the products below then run on either without a copy of contiguous operands).
template <typename T>
RowsView<T> rows_view(const Mat<T>& m, const IndexSpan& span, int64_t h, int64_t dh, Mat<T>& scratch) {
  if (span.contiguous()) return RowsView<T>(m.data() + span.first * m.cols() + h * dh, span.count, dh, Eigen::OuterStride<>(m.cols()));
  scratch.resize(span.count, dh);
  for (int64_t r = 0; r < span.count; ++r) scratch.row(r) = m.row(span[r]).segment(h * dh, dh);
  return RowsView<T>(scratch.data(), span.count, dh, Eigen::OuterStride<>(dh));
}
// Adds `product` to head h's columns of the rows `span` of m: in place when the rows are contiguous,
// else through `scratch`.
template <typename T, typename Product>
void add_product(Mat<T>& m, const IndexSpan& span, int64_t h, int64_t dh, const Product& product, Mat<T>& scratch) {
  if (span.contiguous()) {
    MutableRowsView<T>(m.data() + span.first * m.cols() + h * dh, span.count, dh, Eigen::OuterStride<>(m.cols())).noalias() += product;
    return;
  }
  scratch.noalias() = product;
  for (int64_t r = 0; r < span.count; ++r) m.row(span[r]).segment(h * dh, dh) += scratch.row(r);
}

// Float tiles run on the GEMM backend relfm selected at start-up (gemm.hpp), as the dense layers do: on a
// CPU where OpenBLAS has a fast kernel its small-product path beats Eigen's packing on the tiles' shapes
// (32 x 96 by 96 x 64 per head; 79-92 against 55-57 GFLOP/s on an AMD Zen 5 with OpenBLAS Cooperlake).
// Other scalars (double gradient checks, Dual) stay on Eigen expressions.
struct TileOperand {
  const float* data;
  int64_t ld;
};
// The rows `span` of m, every head's columns, as GEMM operands (head h at data + h d_head): the rows in place
// when they are contiguous, else gathered once into `scratch` for all the heads' products (a tile whose
// keys are a list: the global columns, per-stride random keys), whole rows instead of a head's slice each.
// `scratch` only grows: tiles' key lists differ in length, and a buffer resized to each (an Eigen resize
// reallocates on any change of size) cost a fresh allocation, and its page faults, per tile.
inline TileOperand tile_rows(const Mat<float>& m, const IndexSpan& span, std::vector<float>& scratch) {
  const int64_t d = m.cols();
  if (span.contiguous()) return {m.data() + span.first * d, d};
  if (static_cast<int64_t>(scratch.size()) < span.count * d) scratch.resize(static_cast<size_t>(span.count * d));
  for (int64_t r = 0; r < span.count; ++r) std::memcpy(scratch.data() + r * d, m.row(span[r]).data(), sizeof(float) * static_cast<size_t>(d));
  return {scratch.data(), d};
}
// A grow-only buffer of at least n floats (as tile_rows' scratch).
inline float* grown(std::vector<float>& buffer, int64_t n) {
  if (static_cast<int64_t>(buffer.size()) < n) buffer.resize(static_cast<size_t>(n));
  return buffer.data();
}

// The sparse matrix of one set of edge values (nnz x heads) over a pattern, for products with node
// features: the tiles' values are gathered once into dense per-head blocks (products over them are GEMMs),
// the rest is walked edge by edge. One PatternMatrix serves every product with the same values (Diffuser's
// hops: the forward and the backward of all K of them).
template <typename T>
class PatternMatrix {
 public:
  PatternMatrix(const Csr& pattern, const EdgeTiles* tiles, const CsrTranspose* transposed, const Mat<T>& values)
      : pattern_(pattern), tiles_(tiles), edges_(pattern, tiles, transposed), values_(values) {
    if (tiles_) {
      dense_.resize(tiles_->tiles.size());
      for (size_t t = 0; t < dense_.size(); ++t) gather_tile(values, tiles_->tiles[t], dense_[t]);
    }
  }
  int64_t heads() const { return values_.cols(); }

  // y (rows x d) += A x (x: keys x d), per head.
  void multiply(const Mat<T>& x, Mat<T>& y) const {
    const int64_t heads = values_.cols(), d = x.cols(), dh = d / heads;
    if (tiles_) tile_products(x, y, false);
    if (edges_.each_run_by_key_blocks(cache_block_rows<T>(d), [&](int64_t i, const int64_t* edge, const VertexId* key, int64_t n) {
          accumulate_run(y.row(i).data(), x.data(), d, values_.data(), heads, dh, edge, key, n);
        }))
      return;
    edges_.each_by_key_blocks(cache_block_rows<T>(d), [&](int64_t k, int64_t i, int64_t j) {
      T* yi = y.row(i).data();
      const T* xj = x.row(j).data();
      const T* wk = values_.row(k).data();
      for (int64_t h = 0; h < heads; ++h) axpy_row(yi + h * dh, xj + h * dh, wk[h], dh);
    });
  }

  // gx (keys x d) += A^T g (g: rows x d), per head: gathers along keys when they are indexed, else scatters.
  void multiply_transposed(const Mat<T>& g, Mat<T>& gx) const {
    const int64_t heads = values_.cols(), d = g.cols(), dh = d / heads;
    if (tiles_) {
      tile_products(g, gx, true);
      const EdgeTiles::Rest& r = tiles_->rest_by_key;
      const T* w = rest_values_by_key();
      if (edges_.each_run_by_row_blocks(cache_block_rows<T>(d), [&](int64_t j, const int64_t* edge, const VertexId* row, int64_t n) {
            accumulate_run(gx.row(j).data(), g.data(), d, w + (edge - r.edge.data()) * heads, heads, dh, nullptr, row, n);
          }))
        return;
    }
    if (edges_.by_key()) {
      edges_.each_by_row_blocks(cache_block_rows<T>(d), [&](int64_t e, int64_t j, int64_t i) {
        T* gxj = gx.row(j).data();
        const T* gi = g.row(i).data();
        const T* we = values_.row(e).data();
        for (int64_t h = 0; h < heads; ++h) axpy_row(gxj + h * dh, gi + h * dh, we[h], dh);
      });
      return;
    }
    for (int64_t i = 0; i < pattern_.num_rows; ++i) {
      const T* gi = g.row(i).data();
      edges_.row(i, [&](int64_t k, int64_t j) {
        T* gxj = gx.row(j).data();
        const T* wk = values_.row(k).data();
        for (int64_t h = 0; h < heads; ++h) axpy_row(gxj + h * dh, gi + h * dh, wk[h], dh);
      });
    }
  }

  // multiply_transposed, and from the rows its random edges gather, their part of the gradient of the
  // values: grad_rest[u, h] += scale * g[i, head h] . z[j, head h] for the rest edge (i, j) at place u of
  // the by-key order (tiles->rest_by_key), z's head h of row j at z + j * ldz + h * z_head_stride. False,
  // having done nothing, where it does not apply (no tiles, or a head shape without a fixed kernel).
  bool multiply_transposed_with_rest_products(const Mat<T>& g, Mat<T>& gx, const T* z, int64_t ldz, int64_t z_head_stride, T scale,
                                              T* grad_rest) const {
    const int64_t heads = values_.cols(), d = g.cols(), dh = d / heads;
    if (!tiles_ || !with_fixed_heads(heads, dh, [](auto, auto) {})) return false;
    tile_products(g, gx, true);
    const EdgeTiles::Rest& r = tiles_->rest_by_key;
    const T* w = rest_values_by_key();
    edges_.each_run_by_row_blocks(cache_block_rows<T>(d), [&](int64_t j, const int64_t* edge, const VertexId* row, int64_t n) {
      const int64_t u = edge - r.edge.data();
      with_fixed_heads(heads, dh, [&](auto h, auto width) {
        accumulate_dot_run_fixed<decltype(h)::value, decltype(width)::value>(gx.row(j).data(), g.data(), d, w + u * heads, row, n,
                                                                             z + j * ldz, z_head_stride, scale, grad_rest + u * heads);
      });
    });
    return true;
  }
  // out[e, h] += grad_rest[u, h] for the rest edge e at place u of the by-key order (tiles only).
  void add_rest_by_key(const T* grad_rest, T* out) const {
    const EdgeTiles::Rest& r = tiles_->rest_by_key;
    const int64_t heads = values_.cols(), n = static_cast<int64_t>(r.edge.size());
    const int64_t* at = r.edge.data();
    constexpr int64_t ahead = 16;  // scattered over the whole gradient, as rest_values_by_key's reads
    for (int64_t u = 0; u < n; ++u, grad_rest += heads) {
      if (u + ahead < n) __builtin_prefetch(out + at[u + ahead] * heads, 1);
      T* o = out + at[u] * heads;
      if (heads == 4) {  // (a constant trip count: one vector)
        for (int h = 0; h < 4; ++h) o[h] += grad_rest[h];
      } else {
        for (int64_t h = 0; h < heads; ++h) o[h] += grad_rest[h];
      }
    }
  }
  int64_t rest_edges() const { return tiles_ ? static_cast<int64_t>(tiles_->rest_by_key.edge.size()) : 0; }

 private:
  // The rest edges' values in by-key order (built at the first transposed product, then reused by the
  // others): by key, a run's edges lie all over the pattern, and reading their values through the edge
  // index missed the cache at every edge (the values of 1M edges x 4 heads are 18 MB).
  const T* rest_values_by_key() const {
    if (rest_by_key_.size() == 0) {
      const EdgeTiles::Rest& r = tiles_->rest_by_key;
      const int64_t heads = values_.cols(), n = static_cast<int64_t>(r.edge.size());
      rest_by_key_.resize(n, heads);
      const T* from = values_.data();
      T* to = rest_by_key_.data();
      const int64_t* at = r.edge.data();
      constexpr int64_t ahead = 16;  // the reads are scattered over the whole values array: ask for them early
      for (int64_t u = 0; u < n; ++u, to += heads) {
        if (u + ahead < n) __builtin_prefetch(from + at[u + ahead] * heads);
        if (heads == 4) std::memcpy(to, from + at[u] * 4, 4 * sizeof(T));  // (a constant size: no call)
        else std::copy_n(from + at[u] * heads, heads, to);
      }
    }
    return rest_by_key_.data();
  }

  // The tiles' part of multiply (out[rows] += A in[keys]) or, transposed, of multiply_transposed
  // (out[keys] += A^T in[rows]): per tile and head, a GEMM. Float tiles read and write whole rows for all
  // heads at once (gathered or scattered once per tile when the rows are a list).
  void tile_products(const Mat<T>& in, Mat<T>& out, bool transposed) const {
    const int64_t heads = values_.cols(), d = in.cols(), dh = d / heads;
    Mat<T> scratch_in, scratch_out;
    std::vector<float> rows_in, rows_out;
    for (size_t t = 0; t < dense_.size(); ++t) {
      const EdgeTiles::Tile& tile = tiles_->tiles[t];
      const IndexSpan& from = transposed ? tile.rows : tile.keys;
      const IndexSpan& to = transposed ? tile.keys : tile.rows;
      if constexpr (std::is_same_v<T, float>) {
        const TileOperand x = tile_rows(in, from, rows_in);
        const bool in_place = to.contiguous();
        float* c = in_place ? out.data() + to.first * d : grown(rows_out, to.count * d);
        for (int64_t h = 0; h < heads; ++h)
          gemm::multiply({dense_[t][static_cast<size_t>(h)].data(), x.data + h * dh, c + h * dh, to.count, dh, from.count, transposed,
                          false, in_place, 0, x.ld, d});
        if (!in_place)
          for (int64_t r = 0; r < to.count; ++r) {
            float* o = out.row(to[r]).data();
            const float* p = c + r * d;
            for (int64_t k = 0; k < d; ++k) o[k] += p[k];
          }
      } else {
        for (int64_t h = 0; h < heads; ++h) {
          const Mat<T>& a = dense_[t][static_cast<size_t>(h)];
          if (transposed) add_product(out, to, h, dh, a.transpose() * rows_view(in, from, h, dh, scratch_in), scratch_out);
          else add_product(out, to, h, dh, a * rows_view(in, from, h, dh, scratch_in), scratch_out);
        }
      }
    }
  }

  const Csr& pattern_;
  const EdgeTiles* tiles_;
  SparseEdges edges_;
  const Mat<T>& values_;
  std::vector<std::vector<Mat<T>>> dense_;  // per tile, per head
  mutable Mat<T> rest_by_key_;
};

}  // namespace relfm::pattern_matrix
