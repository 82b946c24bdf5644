// The closed list of differentiable operations. Adding an op means:
//   1. add an enumerator here and its name in kOpNames (a static_assert catches a forgotten name);
//   2. declare it in ops.hpp and implement forward + backward in one of the ops_*.cpp files;
//   3. add a case to the gradient-check suite (tests/src/tensor/gradcheck_test.cpp): one generic forward,
//      checked in double, in float against double, and to second order. Instantiate the op for float,
//      double and Dual<double>. The suite fails while any OpKind below is not exercised by some case.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

namespace relfm {

enum class OpKind : int {
  kLeaf = 0,        // an input or a parameter; not an operation
  kMatMul,          // A B
  kLinear,          // X W + b
  kAdd,             // broadcast add
  kSub,             // broadcast subtract
  kMul,             // broadcast multiply
  kScale,           // a * X + c for constants a, c
  kRelu,
  kGelu,            // exact (erf) GELU
  kSigmoid,
  kTanh,
  kSoftmax,         // row-wise
  kLogSoftmax,      // row-wise
  kSum,             // all elements -> 1x1
  kMean,            // all elements -> 1x1
  kGatherRows,      // Y[i] = X[index[i]]
  kSegmentSum,      // Y[s] = sum of rows in segment s (CSR offsets)
  kSegmentMean,     // Y[s] = mean of rows in segment s; empty segments give 0
  kDropout,         // inverted dropout with a counter-based mask
  kBatchNorm,       // per-column; batch statistics in training, running statistics in eval
  kBatchNormAct,    // fused batch norm -> optional relu -> optional inverted dropout (one pass each way)
  kLayerNorm,       // per-row
  kEmbeddingSum,    // Y[i] = sum_f Table[index(i, f)]
  kBceWithLogits,   // sum over labelled entries / normaliser; NaN label = missing
  kMse,             // sum over labelled entries / normaliser; NaN label = missing
  kGinAggregate,    // (1 + eps) H[i] + sum_{j -> i} relu(H[j] + E[j -> i])   (fused GIN message passing)
  kGinAggregateEmbedded,  // the same with E[k] = sum_f Table[rows(k, f)] computed in the kernel, never stored
  kSpmm,            // Y[i, h] = sum_{e = (i, j)} w[e, h] X[j, h]   (sparse pattern, differentiable values, per head)
  kSddmm,           // w[e, h] = A[i, h] . B[j, h] for e = (i, j)  (edge-wise products on a fixed pattern, per head)
  kInfoNce,         // -log softmax(Z P^T / tau)[i, positive(i)], summed / normaliser
  kAllGatherRows,   // every rank's rows stacked in rank order (backward: sum over ranks, own slice)
  kTranspose,
  kConcatCols,      // [A B]
  kL2NormalizeRows, // X[i] / max(||X[i]||, eps)
  kGateMix,         // g A + (1 - g) B, g 1 x 1
  kEdgeSoftmax,     // softmax over each row's entries of a pattern, per head column
  kDenseAttention,  // softmax(Q_h K_h^T) V_h per head
  kDiffusion,       // K hops z <- dropout((1 - alpha) A z + alpha v) on fixed edge values A (Diffuser)
  kSplitToColumns,  // a split matrix's owned rows -> the columns a rank reads (halo exchange, shared rows reduced)
  kSplitCompleteRows,  // partial rows summed over ranks -> owned rows
  kSplitEdgeSoftmax,   // edge softmax whose partial rows reduce their max and sum over ranks
  kSumRowsOverRanks,   // rows placed into a matrix and summed over ranks
  kCount
};

inline constexpr std::array<std::string_view, static_cast<size_t>(OpKind::kCount)> kOpNames = {
    "leaf",         "matmul",       "linear",      "add",         "sub",        "mul",
    "scale",        "relu",         "gelu",        "sigmoid",     "tanh",       "softmax",
    "log_softmax",  "sum",          "mean",        "gather_rows", "segment_sum", "segment_mean",
    "dropout",      "batch_norm",   "batch_norm_act", "layer_norm",  "embedding_sum", "bce_with_logits", "mse",
    "gin_aggregate", "gin_aggregate_embedded", "spmm",        "sddmm",       "info_nce",
    "all_gather_rows", "transpose",   "concat_cols", "l2_normalize_rows", "gate_mix",
    "edge_softmax", "dense_attention", "diffusion",
    "split_to_columns", "split_complete_rows", "split_edge_softmax", "sum_rows_over_ranks",
};
constexpr bool all_ops_named() {
  for (std::string_view name : kOpNames)
    if (name.empty()) return false;
  return true;
}
static_assert(all_ops_named(), "every OpKind needs a name in kOpNames");

inline constexpr std::string_view op_name(OpKind op) { return kOpNames[static_cast<size_t>(op)]; }

}  // namespace relfm
