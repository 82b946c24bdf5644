// Compressed sparse rows: row r owns entries [row_ptr[r], row_ptr[r+1]); entry k points at column col[k].
// In message passing a row is a destination vertex and its entries are the incoming edges, so an
// edge-indexed array (edge features, edge weights) is stored in the same order as `col`.
// The same structure with an empty `col` describes plain segments (e.g. the atoms of each molecule).
#pragma once

#include "src/core/types.hpp"

#include <cstdint>
#include <vector>

namespace relfm {

struct Csr {
  int64_t num_rows = 0;
  int64_t num_cols = 0;
  std::vector<int64_t> row_ptr{0};  // size num_rows + 1
  std::vector<VertexId> col;         // size nnz, or empty for plain segments

  int64_t nnz() const { return row_ptr.back(); }
  int64_t row_begin(int64_t r) const { return row_ptr[r]; }
  int64_t row_end(int64_t r) const { return row_ptr[r + 1]; }

  // Throws relfm::Error naming the first inconsistency (offsets not monotone, column out of range, ...).
  void validate(bool with_columns = true) const;

  // Segments of the given sizes, e.g. the atom counts of the molecules in a batch.
  static Csr segments(const std::vector<int64_t>& sizes);
  // Builds CSR from (row, col) pairs; entries keep their relative order within a row (stable) and
  // `order` receives, for each CSR entry, the index of the pair it came from.
  static Csr from_pairs(int64_t num_rows, int64_t num_cols, const std::vector<VertexId>& rows,
                        const std::vector<VertexId>& cols, std::vector<int64_t>* order = nullptr);
};

// The transpose of a pattern, with the entry of the original that each of its entries mirrors: column j's
// rows are csr.col[csr.row_ptr[j] ...] (increasing), and entry t is entry edge[t] of the original. A
// backward pass then gathers along columns instead of scattering into them.
struct CsrTranspose {
  Csr csr;
  std::vector<int64_t> edge;
};
CsrTranspose transpose_with_edges(const Csr& a);

}  // namespace relfm
