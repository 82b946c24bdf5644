// The graph a random walker moves on: the rows of a CSR graph that one process owns, with optional edge
// weights turned into per-row alias tables, so a weighted step costs the same as a uniform one.
//
// A walk graph covers the contiguous vertex range [first, last) of a graph whose vertex ids are global
// (after a partition, vertices are renumbered so that every rank owns one contiguous range): row v - first
// lists the out-neighbours of vertex v as global ids. On one process first = 0 and last = num_vertices.
// Any CSR graph will do, not only proximity graphs: rows are out-edges (row v holds the targets of v).
#pragma once

#include "src/core/types.hpp"
#include "src/graph/csr.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace relfm::sampler {

class WalkGraph {
 public:
  WalkGraph() = default;
  // Owns a copy of the rows; `first` is the global id of row 0; `weights` (one per CSR entry, >= 0, finite)
  // make steps proportional to the weight; empty means uniform. Throws Error on an inconsistent graph or
  // a negative, NaN or infinite weight.
  WalkGraph(Csr rows, VertexId first, VertexId num_global_vertices, std::vector<float> weights = {});
  // The whole graph on one process.
  static WalkGraph whole(Csr graph, std::vector<float> weights = {});

  VertexId first() const { return first_; }
  VertexId last() const { return first_ + static_cast<VertexId>(rows_.num_rows); }
  VertexId num_global_vertices() const { return num_global_; }
  bool owns(VertexId v) const { return v >= first_ && v < last(); }
  bool weighted() const { return !alias_probability_.empty(); }
  const Csr& rows() const { return rows_; }
  int64_t degree(VertexId v) const { return rows_.row_end(v - first_) - rows_.row_begin(v - first_); }

  // Raw arrays for the engine's inner loop.
  const int64_t* row_ptr() const { return rows_.row_ptr.data(); }
  const VertexId* col() const { return rows_.col.data(); }
  // Alias table (Walker/Vose), entry-aligned: within row r, slot j is kept with probability
  // alias_probability[j] and otherwise replaced by slot alias_slot[j] (a row-local index).
  const float* alias_probability() const { return alias_probability_.data(); }
  const int32_t* alias_slot() const { return alias_slot_.data(); }

  // The exact probability of moving from v to each of its CSR entries (what the alias table realises,
  // in double): for tests and for the analysis of a walk's statistics.
  std::vector<double> step_probabilities(VertexId v) const;

 private:
  Csr rows_;
  VertexId first_ = 0;
  VertexId num_global_ = 0;
  std::vector<float> alias_probability_;
  std::vector<int32_t> alias_slot_;
};

}  // namespace relfm::sampler
