// A collection of molecule graphs in flat arrays (struct of arrays), exactly as a shard stores them,
// and the collation of some of them into one disjoint-union batch graph.
//
// Molecule m owns atoms [atom_offsets[m], atom_offsets[m+1]) and directed edges
// [edge_offsets[m], edge_offsets[m+1]). Edges are grouped by destination atom: the edges into atom a
// are [edge_row_ptr[a], edge_row_ptr[a+1]) (a CSR over atoms), so a molecule's edges are contiguous and
// already in CSR order. edge_src holds the source atom's index local to its molecule.
#pragma once

#include "src/core/types.hpp"
#include "src/graph/csr.hpp"

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace relfm {

using FeatureMat = Mat<uint8_t>;

struct MoleculeSet {
  std::vector<int64_t> atom_offsets{0};
  std::vector<int64_t> edge_offsets{0};
  std::vector<int64_t> edge_row_ptr{0};
  std::vector<int32_t> edge_src;
  FeatureMat atom_features;  // atoms x atom feature columns
  FeatureMat edge_features;  // directed edges x bond feature columns
  MatF labels;               // molecules x tasks, NaN = missing
  std::vector<int64_t> ids;  // each molecule's index in its source shard

  int64_t size() const { return static_cast<int64_t>(atom_offsets.size()) - 1; }
  int64_t num_atoms() const { return atom_offsets.back(); }
  int64_t num_edges() const { return edge_offsets.back(); }
  int64_t atoms_of(int64_t m) const { return atom_offsets[m + 1] - atom_offsets[m]; }
  int64_t edges_of(int64_t m) const { return edge_offsets[m + 1] - edge_offsets[m]; }

  // Throws relfm::Error naming the first structural inconsistency (for data read from files).
  void validate() const;
  // The molecules at the given positions, renumbered 0..n-1 (ids are kept).
  MoleculeSet subset(std::span<const int64_t> positions) const;
};

// One mini-batch: the disjoint union of some molecules.
struct GraphBatch {
  int64_t num_graphs = 0;
  int64_t num_nodes = 0;
  IndexMat atom_categories;               // num_nodes x (selected atom columns)
  IndexMat edge_categories;               // num_edges x (selected bond columns), CSR entry order
  std::shared_ptr<const Csr> adjacency;    // rows = destination atoms, col = source atoms
  std::shared_ptr<const std::vector<int64_t>> graph_offsets;  // atoms of graph g: [off[g], off[g+1])
  std::shared_ptr<const MatF> labels;     // num_graphs x tasks
  std::vector<int64_t> ids;               // shard ids of the graphs

  int64_t num_edges() const { return adjacency->nnz(); }
};

// Collates the molecules at `positions` of `set`, keeping the given feature columns.
GraphBatch collate(const MoleculeSet& set, std::span<const int64_t> positions, std::span<const int> atom_columns,
                   std::span<const int> bond_columns);

}  // namespace relfm
