// A collection of small graphs (a graph-classification data set such as the TU sets) in flat arrays:
// graph g owns the consecutive global nodes [node_offsets[g], node_offsets[g+1]), and one CSR over all
// nodes holds every graph's edges, so the adjacency is block-diagonal. Keeping one flat CSR (rather than a
// vector of graphs) lets a batch be a contiguous slice and lets METIS or a sampler see the whole set.
#pragma once

#include "src/core/types.hpp"
#include "src/graph/csr.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace relfm {

struct NodeRange {
  int64_t begin = 0;
  int64_t end = 0;
  int64_t size() const { return end - begin; }
};

struct GraphSet {
  std::string name;
  std::vector<int64_t> node_offsets{0};  // size() + 1 entries

  // Undirected: symmetric, no duplicate entries, each row's columns ascending, no entry across graphs.
  // A self-loop is one diagonal entry.
  Csr adjacency;

  std::vector<int32_t> node_labels;  // per node in [0, num_node_labels), or empty
  int32_t num_node_labels = 0;
  std::vector<std::string> node_label_values;  // original text of node label l
  MatF node_attributes;                        // nodes × columns; 0 columns when there are none

  std::vector<int32_t> edge_labels;  // per CSR entry, in CSR order, or empty; both directions agree
  int32_t num_edge_labels = 0;
  std::vector<std::string> edge_label_values;

  std::vector<int32_t> graph_labels;  // per graph in [0, num_classes)
  int32_t num_classes = 0;
  std::vector<std::string> class_values;  // original text of class c, e.g. "-1" for MUTAG's class 0

  // What loading found or changed, for the caller's log. self_loops is the number of diagonal entries
  // (a property of the graphs); the other two describe how the source file was repaired, so a subset,
  // which was not loaded from a file, has them at 0.
  int64_t self_loops = 0;
  int64_t duplicate_entries_dropped = 0;
  int64_t entries_added_by_symmetrising = 0;

  int64_t size() const { return static_cast<int64_t>(node_offsets.size()) - 1; }
  int64_t num_nodes() const { return node_offsets.back(); }
  NodeRange nodes_of(int64_t g) const { return {node_offsets[g], node_offsets[g + 1]}; }

  // Throws relfm::Error naming the first inconsistency between the fields above.
  void validate() const;

  // Number of adjacency entries of each node (a self-loop counts once).
  std::vector<int64_t> degrees() const;

  // The listed graphs, in the order given (repeats allowed), renumbered from 0. Label mappings
  // (num_classes, class_values, ...) are the full set's, so class ids mean the same in every split.
  GraphSet subset(std::span<const int64_t> graphs) const;
};

}  // namespace relfm
