#include "src/graph/csr.hpp"

#include "src/core/error.hpp"

namespace relfm {

void Csr::validate(bool with_columns) const {
  if (static_cast<int64_t>(row_ptr.size()) != num_rows + 1)
    fail("CSR: row_ptr has {} entries for {} rows", row_ptr.size(), num_rows);
  if (row_ptr.front() != 0) fail("CSR: row_ptr[0] is {}, not 0", row_ptr.front());
  for (int64_t r = 0; r < num_rows; ++r)
    if (row_ptr[r + 1] < row_ptr[r]) fail("CSR: row_ptr decreases at row {}", r);
  if (with_columns) {
    if (static_cast<int64_t>(col.size()) != nnz())
      fail("CSR: {} column entries for {} non-zeros", col.size(), nnz());
    for (size_t k = 0; k < col.size(); ++k)
      if (col[k] < 0 || col[k] >= num_cols) fail("CSR: entry {} has column {} outside [0, {})", k, col[k], num_cols);
  }
}

Csr Csr::segments(const std::vector<int64_t>& sizes) {
  Csr csr;
  csr.num_rows = static_cast<int64_t>(sizes.size());
  csr.row_ptr.resize(sizes.size() + 1);
  csr.row_ptr[0] = 0;
  for (size_t i = 0; i < sizes.size(); ++i) csr.row_ptr[i + 1] = csr.row_ptr[i] + sizes[i];
  csr.num_cols = csr.row_ptr.back();
  return csr;
}

Csr Csr::from_pairs(int64_t num_rows, int64_t num_cols, const std::vector<VertexId>& rows,
                    const std::vector<VertexId>& cols, std::vector<int64_t>* order) {
  RELFM_CHECK(rows.size() == cols.size(), "{} rows vs {} cols", rows.size(), cols.size());
  Csr csr;
  csr.num_rows = num_rows;
  csr.num_cols = num_cols;
  csr.row_ptr.assign(static_cast<size_t>(num_rows) + 1, 0);
  for (VertexId r : rows) {
    RELFM_CHECK(r >= 0 && r < num_rows, "row {} outside [0, {})", r, num_rows);
    ++csr.row_ptr[r + 1];
  }
  for (int64_t r = 0; r < num_rows; ++r) csr.row_ptr[r + 1] += csr.row_ptr[r];
  std::vector<int64_t> next(csr.row_ptr.begin(), csr.row_ptr.end() - 1);
  csr.col.resize(rows.size());
  if (order) order->resize(rows.size());
  for (size_t k = 0; k < rows.size(); ++k) {
    const int64_t slot = next[rows[k]]++;
    csr.col[slot] = cols[k];
    if (order) (*order)[slot] = static_cast<int64_t>(k);
  }
  return csr;
}

CsrTranspose transpose_with_edges(const Csr& a) {
  CsrTranspose t;
  t.csr.num_rows = a.num_cols;
  t.csr.num_cols = a.num_rows;
  t.csr.row_ptr.assign(static_cast<size_t>(a.num_cols + 1), 0);
  for (VertexId j : a.col) t.csr.row_ptr[static_cast<size_t>(j) + 1] += 1;
  for (int64_t j = 0; j < a.num_cols; ++j) t.csr.row_ptr[j + 1] += t.csr.row_ptr[j];
  t.csr.col.resize(a.col.size());
  t.edge.resize(a.col.size());
  std::vector<int64_t> next(t.csr.row_ptr.begin(), t.csr.row_ptr.end() - 1);
  for (int64_t i = 0; i < a.num_rows; ++i)
    for (int64_t e = a.row_ptr[i]; e < a.row_ptr[i + 1]; ++e) {
      const int64_t at = next[static_cast<size_t>(a.col[e])]++;
      t.csr.col[at] = static_cast<VertexId>(i);
      t.edge[at] = e;
    }
  return t;
}

}  // namespace relfm
