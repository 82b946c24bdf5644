// Differentiable operations. Each takes and returns Vars on the same tape; each has a forward and a
// backward (ops_*.cpp) and a gradient-check case (tests/src/tensor/gradcheck_test.cpp).
//
// Shapes are (rows, cols). "Broadcast" ops accept a second operand that is the same shape, a row
// (1 x cols), a column (rows x 1) or a scalar (1 x 1), on either side.
// Index and structure arguments are shared_ptrs: the tape keeps them alive until backward is done.
#pragma once

#include "src/core/collective.hpp"
#include "src/core/rng.hpp"
#include "src/graph/csr.hpp"
#include "src/graph/edge_tiles.hpp"
#include "src/tensor/dual.hpp"
#include "src/tensor/tape.hpp"

#include <memory>
#include <vector>

namespace relfm {

using IndexList = std::shared_ptr<const std::vector<int32_t>>;
using OffsetList = std::shared_ptr<const std::vector<int64_t>>;
using CsrPtr = std::shared_ptr<const Csr>;
using CsrTransposePtr = std::shared_ptr<const CsrTranspose>;
using IndexMatPtr = std::shared_ptr<const IndexMat>;
template <typename T>
using ConstMatPtr = std::shared_ptr<const Mat<T>>;

// ---- dense algebra ---------------------------------------------------------------------------
template <typename T> Var<T> matmul(Var<T> a, Var<T> b);
// x W + b, with W of shape (in, out) and b a (1, out) row or absent.
template <typename T> Var<T> linear(Var<T> x, Var<T> w, Var<T> b = {});
template <typename T> Var<T> add(Var<T> a, Var<T> b);
template <typename T> Var<T> sub(Var<T> a, Var<T> b);
template <typename T> Var<T> mul(Var<T> a, Var<T> b);
// alpha * x + beta with constants alpha and beta.
template <typename T> Var<T> scale(Var<T> x, T alpha, T beta = T(0));

// ---- shape and normalisation ---------------------------------------------------------------------
template <typename T> Var<T> transpose(Var<T> x);
template <typename T> Var<T> concat_cols(Var<T> a, Var<T> b);  // [a b]; equal row counts
// Each row divided by max(||row||_2, eps), as torch.nn.functional.normalize.
template <typename T> Var<T> l2_normalize_rows(Var<T> x, double eps = 1e-12);
// g a + (1 - g) b for a 1 x 1 gate g and two equal-shaped branches (MetaGIN's mixing).
template <typename T> Var<T> gate_mix(Var<T> g, Var<T> a, Var<T> b);

// ---- element-wise nonlinearities ---------------------------------------------------------------
template <typename T> Var<T> relu(Var<T> x);
template <typename T> Var<T> gelu(Var<T> x);  // x * Phi(x), the exact (erf) form
template <typename T> Var<T> sigmoid(Var<T> x);
template <typename T> Var<T> tanh(Var<T> x);
template <typename T> Var<T> softmax(Var<T> x);      // over each row
template <typename T> Var<T> log_softmax(Var<T> x);  // over each row

// ---- reductions --------------------------------------------------------------------------------
template <typename T> Var<T> sum(Var<T> x);   // 1 x 1
template <typename T> Var<T> mean(Var<T> x);  // 1 x 1

// ---- indexing and graph structure ---------------------------------------------------------------
// y[i] = x[index[i]]
template <typename T> Var<T> gather_rows(Var<T> x, IndexList index);
// y[s] = sum (or mean) of x's rows in [offsets[s], offsets[s+1]); x has offsets.back() rows.
template <typename T> Var<T> segment_sum(Var<T> x, OffsetList offsets);
template <typename T> Var<T> segment_mean(Var<T> x, OffsetList offsets);
// y[i] = sum_f table[rows(i, f)]: a sum of per-feature embedding rows (one table, features stacked).
template <typename T> Var<T> embedding_sum(Var<T> table, IndexMatPtr rows);
// Fused GIN message passing over `adjacency` (rows = destinations, edge_emb rows in CSR entry order):
// y[i] = (1 + eps) h[i] + sum_{k in row i} relu(h[col[k]] + edge_emb[k]);  eps is 1 x 1.
template <typename T> Var<T> gin_aggregate(Var<T> h, Var<T> edge_emb, Var<T> eps, CsrPtr adjacency);
// gin_aggregate with the edge embedding computed inside the kernel from a (small) table:
// edge_emb[k] = sum_f table[edge_rows(k, f)]. Saves writing and re-reading an edges x dim matrix.
template <typename T>
Var<T> gin_aggregate_embedded(Var<T> h, Var<T> table, IndexMatPtr edge_rows, Var<T> eps, CsrPtr adjacency);

// ---- attention on a fixed pattern (ops_attention.cpp) ---------------------------------------------
// Edge tensors are nnz x H in the pattern's entry order; features n x d split into H heads of d / H columns.
// `transposed` (optional, transpose_with_edges of the pattern) lets the backward gather the gradient of
// the column-side operand along columns instead of scattering it; `tiles` (optional) runs the pattern's
// dense tiles (edge_tiles.hpp) as matrix products. Both give the same values up to the order of summation.
// Sparse (fixed pattern, differentiable values w: nnz x H) times dense, per head:
// y[i, head h] = sum_{k in row i} w[k, h] x[col[k], head h]. H = 1: the classic SpMM.
template <typename T>
Var<T> spmm(CsrPtr pattern, Var<T> w, Var<T> x, CsrTransposePtr transposed = nullptr, EdgeTilesPtr tiles = nullptr);
// Sampled dense-dense product on a fixed pattern, per head: w[k, h] = a[i, head h] . b[col[k], head h]
// for k in row i (nnz x heads).
template <typename T>
Var<T> sddmm(CsrPtr pattern, Var<T> a, Var<T> b, int64_t heads = 1, CsrTransposePtr transposed = nullptr,
             EdgeTilesPtr tiles = nullptr);
// Softmax over each row's entries, per head column (nnz x H): the attention weights of each query over its
// keys. Rows without entries have none.
template <typename T> Var<T> edge_softmax(CsrPtr pattern, Var<T> s);
// K hops of personalised-PageRank diffusion on fixed, differentiable edge values a (nnz x H, per head):
// z_0 = v, z_{t+1} = dropout_t((1 - alpha) A z_t + alpha v), output z_K (Diffuser, research/diffuser.md
// §1.4). Hop t's dropout mask is that of dropout(., p, dropout_rng.derive(t + 1), training), so this one
// node equals the composition of spmm, scale, add and dropout; it gathers A's tiles once for all hops and
// sums the gradient of A over the hops in one product per tile.
struct DiffusionHops {
  int64_t hops = 5;
  double alpha = 0.1;
  double dropout = 0.0;
};
template <typename T>
Var<T> ppr_diffusion(CsrPtr pattern, Var<T> a, Var<T> v, const DiffusionHops& hops, const CounterRng& dropout_rng,
                     bool training, CsrTransposePtr transposed = nullptr, EdgeTilesPtr tiles = nullptr);
// softmax(q_h k_h^T) v_h for every head h within every segment of rows (q, k: L x d_k, v: L x d_v; each
// segment a sequence of a batch, attending to itself only; null = one segment): the dense attention that
// Diffuser's sparse attention reduces to on a complete pattern (no scaling: scale q first). Stores every
// segment's L_s x L_s probabilities per head.
template <typename T> Var<T> dense_attention(Var<T> q, Var<T> k, Var<T> v, int64_t heads, OffsetList segments = nullptr);

// ---- regularisation and normalisation ------------------------------------------------------------
// Inverted dropout: keeps an element with probability 1 - p and scales it by 1 / (1 - p). The mask
// of element e is rng.uniform_float(e) >= p, so it is reproducible from (seed, step, layer, rank).
// With row_ids, x holds rows row_ids[r] of a larger matrix (a rank's share of a split sequence) and each
// element takes the mask it has there: element (r, c) that of element row_ids[r] * cols + c.
using RowIds = std::shared_ptr<const std::vector<int64_t>>;
template <typename T> Var<T> dropout(Var<T> x, double p, const CounterRng& rng, bool training, RowIds row_ids = nullptr);

template <typename T>
struct BatchNormState {
  Parameter<T>* running_mean = nullptr;  // 1 x cols, updated in training mode
  Parameter<T>* running_var = nullptr;   // 1 x cols, unbiased batch variance (as PyTorch)
  double momentum = 0.1;
  double eps = 1e-5;
  bool update_running_stats = true;      // false: train-mode statistics without touching the buffers
};
// Per column; batch statistics when training (biased variance), running statistics otherwise.
template <typename T>
Var<T> batch_norm(Var<T> x, Var<T> gamma, Var<T> beta, const BatchNormState<T>& state, bool training);
// What follows a fused batch norm: relu, then inverted dropout (when training and p > 0).
struct BatchNormEpilogue {
  bool relu = true;
  double dropout = 0.0;
  CounterRng dropout_rng{0, RngPurpose::kDropout};
};
// dropout(relu(batch_norm(x))) in one forward and one backward pass over memory; the normalised input
// is recomputed in backward instead of stored. Same masks as dropout() with the same generator.
template <typename T>
Var<T> batch_norm_act(Var<T> x, Var<T> gamma, Var<T> beta, const BatchNormState<T>& state, bool training,
                      const BatchNormEpilogue& epilogue);
// Per row over the columns; gamma and beta are 1 x cols.
template <typename T> Var<T> layer_norm(Var<T> x, Var<T> gamma, Var<T> beta, double eps = 1e-5);

// ---- losses (scalars) ------------------------------------------------------------------------
// Sum over labelled entries (label not NaN) divided by `normaliser`. Pass the number of labelled entries
// for a mean; pass the global count to make a data-parallel sum of per-rank losses the global mean.
template <typename T> Var<T> bce_with_logits(Var<T> logits, ConstMatPtr<T> labels, double normaliser);
template <typename T> Var<T> mse(Var<T> prediction, ConstMatPtr<T> labels, double normaliser);
// InfoNCE: sum_i [logsumexp_j(z_i . p_j / tau) - z_i . p_{positive[i]} / tau] / normaliser.
// p may hold the candidates of every rank (all-gathered); positive[i] indexes p's rows. With
// kNegatives the positive is left out of the logsumexp (GraphCL's loss_cal: pos / (sum - pos)).
enum class InfoNceDenominator { kAll, kNegatives };
template <typename T>
Var<T> info_nce(Var<T> z, Var<T> p, OffsetList positive, double tau, double normaliser,
                InfoNceDenominator denominator = InfoNceDenominator::kAll);

// ---- across ranks ------------------------------------------------------------------------------
// Every rank's rows stacked in rank order (all ranks call it; column counts must agree). The gradient of a
// rank's rows is the sum over ranks of the gradient reaching the gathered matrix there, so a loss summed
// over ranks differentiates exactly as if computed in one process. `comm` must outlive the backward pass.
template <typename T>
Var<T> all_gather_rows(Var<T> x, const Communicator& comm);

// One rank's share of the rows of a matrix split over the ranks of `comm` (sequence parallelism: the
// tokens of a long sequence; issue 9). Every row of the whole is owned by one rank. A rank works on three
// layouts of rows:
//   owned   - its own rows;
//   columns - the rows its sparse products read: owned rows, halo rows owned by neighbours (received), and
//             the shared rows (the global tokens, which every rank reads: combined by a reduction);
//   pattern rows - the rows its sparse products write: "full" rows (owned, complete here), then one
//             partial row per shared row (that row's terms over this rank's columns; the whole row is
//             the sum over ranks).
// Built by the model from the split attention graph (src/models/sequence_parallel.hpp).
struct SplitLayout {
  const Communicator* comm = nullptr;
  // Halo exchange and its reverse (gradients back to the owners).
  std::shared_ptr<const Neighbourhood> halo, halo_back;
  int64_t owned = 0, columns = 0;
  std::vector<int64_t> owned_column;    // column of each owned row
  std::vector<int64_t> shared_column;   // column of each shared row (same order on every rank)
  std::vector<int64_t> shared_owned;    // owned index of each shared row; -1 where another rank owns it
  std::vector<int64_t> full_row_owned;  // owned index of each full pattern row
  // Halo plan, per halo->sources()[i]: the columns that source fills; per halo->destinations()[j]: the
  // owned rows sent there (in the order that rank's receive list expects).
  std::vector<std::vector<int64_t>> recv_columns, send_owned;
  int64_t full_rows() const { return static_cast<int64_t>(full_row_owned.size()); }
  int64_t pattern_rows() const { return full_rows() + static_cast<int64_t>(shared_column.size()); }
};
using SplitLayoutPtr = std::shared_ptr<const SplitLayout>;
// owned -> columns: the halo rows arrive from their owners, the shared rows from a reduction.
// Backward: each column's gradient goes back to its owner and is added there.
template <typename T> Var<T> split_to_columns(Var<T> x, SplitLayoutPtr layout);
// pattern rows -> owned: full rows are taken as they are, the partial rows of every shared row are summed
// over the ranks (and kept by its owner). Backward: the owners' gradients of the shared rows reach every
// rank's partial rows.
template <typename T> Var<T> split_complete_rows(Var<T> y, SplitLayoutPtr layout);
// Softmax over each pattern row's entries (as edge_softmax) where the partial rows' maxima and sums
// are reduced over the ranks, so every partial row ends normalised by its whole row.
template <typename T> Var<T> split_edge_softmax(CsrPtr pattern, Var<T> s, SplitLayoutPtr layout);
// ppr_diffusion on a pattern whose rows are split over ranks (its local pattern: the layout's pattern rows
// by its columns): v and the output are the owned rows, each hop moves z to the columns and completes the
// partial rows (split_to_columns, then spmm, then split_complete_rows, in one node that gathers A's tiles
// once and sums A's gradient over the hops in one product). Hop t's dropout mask is that of dropout(.,
// p, dropout_rng.derive(t + 1), training, owned_rows), so a split run draws the unsplit run's masks.
template <typename T>
Var<T> split_ppr_diffusion(CsrPtr pattern, Var<T> a, Var<T> v, const DiffusionHops& hops, const CounterRng& dropout_rng,
                           bool training, SplitLayoutPtr layout, RowIds owned_rows, CsrTransposePtr transposed = nullptr,
                           EdgeTilesPtr tiles = nullptr);
// y = sum over ranks of each rank's rows x[i] placed at row target[i] (-1: not placed) of an
// out_rows x cols matrix: a pooled row per sequence of a split batch, on every rank. Backward: the
// gradient reaching y on every rank, summed over ranks, back to the placed rows (so a loss computed on one
// rank, or equally on all with weights that sum to one, differentiates as in one process).
template <typename T>
Var<T> sum_rows_over_ranks(Var<T> x, IndexList target, int64_t out_rows, const Communicator& comm);

// Number of labelled entries (non-NaN) of a label matrix.
template <typename T> int64_t count_labelled(const Mat<T>& labels);

}  // namespace relfm
