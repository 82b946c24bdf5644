// The graph a random walker moves on: the rows of a CSR graph that one process owns, with optional edge
// weights turned into per-row alias tables, so a weighted step costs the same as a uniform one.
//
// A walk graph covers the contiguous vertex range [first, last) of a graph whose vertex ids are global
// (after a partition, vertices are renumbered so that every rank owns one contiguous range): row v - first
// lists the out-neighbours of vertex v as global ids. On one process first = 0 and last = num_vertices.
// Any CSR graph will do, not only proximity graphs: rows are out-edges (row v holds the targets of v).
#pragma once

#include "src/core/huge_array.hpp"
#include "src/core/types.hpp"
#include "src/graph/csr.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace relfm::sampler {

// One out-edge as the engine stores it: the target and, when this process owns the target, the target's
// own row (begin, degree). A step then costs one random read (this entry) instead of two (the entry, then
// the target's row offsets), which is what bounds a walker on a graph too big for the caches.
// For a target another process owns, the row is the one on that process (PartitionedGraph fills it in;
// -1 when unknown), and it travels with the walker.
struct WalkEdge {
  VertexId to = 0;
  uint32_t to_degree = 0;
  int64_t to_begin = -1;
};

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
  VertexId last() const { return first_ + static_cast<VertexId>(num_rows_); }
  VertexId num_global_vertices() const { return num_global_; }
  bool owns(VertexId v) const { return v >= first_ && v < last(); }
  bool weighted() const { return !alias_probability_.empty(); }
  int64_t num_rows() const { return num_rows_; }
  int64_t nnz() const { return num_rows_ == 0 ? 0 : row_ptr_[static_cast<size_t>(num_rows_)]; }
  // The entries of owned vertex v (a global id): [row_begin(v), row_end(v)) of edges().
  int64_t row_begin(VertexId v) const { return row_ptr_[static_cast<size_t>(v - first_)]; }
  int64_t row_end(VertexId v) const { return row_ptr_[static_cast<size_t>(v - first_) + 1]; }
  int64_t degree(VertexId v) const { return row_end(v) - row_begin(v); }

  // Raw arrays for the engine's inner loop (huge-page backed: src/core/huge_array.hpp).
  const int64_t* row_ptr() const { return row_ptr_.data(); }
  const WalkEdge* edges() const { return edges_.data(); }
  VertexId neighbour(int64_t entry) const { return edges_[static_cast<size_t>(entry)].to; }
  // Records the row (on its owner) of the target of `entry`, a vertex another process owns.
  void set_remote_row(int64_t entry, int64_t begin, uint32_t degree);
  // Alias table (Walker/Vose), entry-aligned: within row r, slot j is kept with probability
  // alias_probability[j] and otherwise replaced by slot alias_slot[j] (a row-local index).
  const float* alias_probability() const { return alias_probability_.data(); }
  const int32_t* alias_slot() const { return alias_slot_.data(); }

  // The exact probability of moving from v to each of its CSR entries (what the alias table realises,
  // in double): for tests and for the analysis of a walk's statistics.
  std::vector<double> step_probabilities(VertexId v) const;

 private:
  int64_t num_rows_ = 0;
  HugeArray<int64_t> row_ptr_;
  HugeArray<WalkEdge> edges_;
  VertexId first_ = 0;
  VertexId num_global_ = 0;
  HugeArray<float> alias_probability_;
  HugeArray<int32_t> alias_slot_;
};

}  // namespace relfm::sampler
