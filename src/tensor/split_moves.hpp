// The row moves of sequence parallelism (SplitLayout in ops.hpp) on plain matrices, shared by the
// collective ops of ops_split.cpp and the split K-hop diffusion of ops_attention.cpp (not part of the
// public op API). Each is collective over the layout's communicator.
#pragma once

#include "src/tensor/ops.hpp"

namespace relfm::detail {

// owned (owned x d) -> columns (columns x d): halo rows from their owners, shared rows by a reduction.
template <typename T> Mat<T> split_columns(const SplitLayout& s, const Mat<T>& owned);
// Its adjoint: a gradient over the columns -> the owned rows (halo columns' gradients added at their owners,
// shared rows' summed over the ranks).
template <typename T> Mat<T> split_columns_adjoint(const SplitLayout& s, const Mat<T>& columns);
// pattern rows (full rows, then one partial row per shared row) -> owned: partial rows summed over ranks.
template <typename T> Mat<T> split_rows(const SplitLayout& s, const Mat<T>& rows);
// Its adjoint: a gradient over the owned rows -> the pattern rows (every rank's partial row of a shared
// row receives its owner's gradient).
template <typename T> Mat<T> split_rows_adjoint(const SplitLayout& s, const Mat<T>& owned);

}  // namespace relfm::detail
