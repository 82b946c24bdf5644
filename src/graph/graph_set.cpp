#include "src/graph/graph_set.hpp"

#include "src/core/error.hpp"

#include <algorithm>
#include <limits>

namespace relfm {
namespace {

// The entry (r, c) of a CSR whose rows are sorted, or -1.
int64_t find_entry(const Csr& csr, int64_t r, VertexId c) {
  const auto begin = csr.col.begin() + csr.row_begin(r), end = csr.col.begin() + csr.row_end(r);
  const auto it = std::lower_bound(begin, end, c);
  return it != end && *it == c ? it - csr.col.begin() : -1;
}

void validate_labels(const std::vector<int32_t>& labels, int32_t count, const std::vector<std::string>& values,
                     int64_t expected_size, const char* what) {
  if (labels.empty() && count != 0) fail("GraphSet: no {} labels but num_{}_labels is {}", what, what, count);
  if (!labels.empty() && static_cast<int64_t>(labels.size()) != expected_size)
    fail("GraphSet: {} {} labels for {} {}s", labels.size(), what, expected_size, what);
  if (static_cast<int64_t>(values.size()) != count)
    fail("GraphSet: {} original {} label values for {} labels", values.size(), what, count);
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] < 0 || labels[i] >= count)
      fail("GraphSet: {} {} has label {} outside [0, {})", what, i, labels[i], count);
}

}  // namespace

void GraphSet::validate() const {
  if (node_offsets.empty() || node_offsets.front() != 0) fail("GraphSet '{}': node_offsets must start with 0", name);
  for (int64_t g = 0; g < size(); ++g)
    if (node_offsets[g + 1] < node_offsets[g]) fail("GraphSet '{}': node_offsets decrease at graph {}", name, g);
  if (num_nodes() > std::numeric_limits<VertexId>::max())
    fail("GraphSet '{}': {} nodes do not fit 32-bit vertex ids", name, num_nodes());
  if (adjacency.num_rows != num_nodes() || adjacency.num_cols != num_nodes())
    fail("GraphSet '{}': adjacency is {} × {} for {} nodes", name, adjacency.num_rows, adjacency.num_cols,
         num_nodes());
  adjacency.validate();
  if (!edge_labels.empty() && static_cast<int64_t>(edge_labels.size()) != adjacency.nnz())
    fail("GraphSet '{}': {} edge labels for {} adjacency entries", name, edge_labels.size(), adjacency.nnz());

  // Rows first: the mirror search below needs every row sorted.
  int64_t diagonal = 0;
  for (int64_t g = 0; g < size(); ++g) {
    const NodeRange nodes = nodes_of(g);
    for (int64_t r = nodes.begin; r < nodes.end; ++r) {
      for (int64_t k = adjacency.row_begin(r); k < adjacency.row_end(r); ++k) {
        const VertexId c = adjacency.col[k];
        if (c < nodes.begin || c >= nodes.end)
          fail("GraphSet '{}': entry ({}, {}) joins graph {} to another graph", name, r, c, g);
        if (k > adjacency.row_begin(r) && adjacency.col[k - 1] >= c)
          fail("GraphSet '{}': row {} is not strictly ascending at column {}", name, r, c);
        diagonal += c == r;
      }
    }
  }
  for (int64_t r = 0; r < num_nodes(); ++r) {
    for (int64_t k = adjacency.row_begin(r); k < adjacency.row_end(r); ++k) {
      const VertexId c = adjacency.col[k];
      const int64_t mirror = find_entry(adjacency, c, static_cast<VertexId>(r));
      if (mirror < 0) fail("GraphSet '{}': entry ({}, {}) has no mirror ({}, {})", name, r, c, c, r);
      if (!edge_labels.empty() && edge_labels[k] != edge_labels[mirror])
        fail("GraphSet '{}': edge ({}, {}) has labels {} and {} in its two directions", name, r, c, edge_labels[k],
             edge_labels[mirror]);
    }
  }
  if (diagonal != self_loops)
    fail("GraphSet '{}': {} diagonal entries but self_loops is {}", name, diagonal, self_loops);

  validate_labels(node_labels, num_node_labels, node_label_values, num_nodes(), "node");
  validate_labels(edge_labels, num_edge_labels, edge_label_values, adjacency.nnz(), "edge");
  if (static_cast<int64_t>(graph_labels.size()) != size())
    fail("GraphSet '{}': {} graph labels for {} graphs", name, graph_labels.size(), size());
  if (static_cast<int64_t>(class_values.size()) != num_classes)
    fail("GraphSet '{}': {} class values for {} classes", name, class_values.size(), num_classes);
  for (int64_t g = 0; g < size(); ++g)
    if (graph_labels[g] < 0 || graph_labels[g] >= num_classes)
      fail("GraphSet '{}': graph {} has class {} outside [0, {})", name, g, graph_labels[g], num_classes);
  const bool no_attributes = node_attributes.rows() == 0 && node_attributes.cols() == 0;
  if (!no_attributes && node_attributes.rows() != num_nodes())
    fail("GraphSet '{}': {} attribute rows for {} nodes", name, node_attributes.rows(), num_nodes());
}

std::vector<int64_t> GraphSet::degrees() const {
  std::vector<int64_t> out(static_cast<size_t>(num_nodes()));
  for (int64_t v = 0; v < num_nodes(); ++v) out[v] = adjacency.row_end(v) - adjacency.row_begin(v);
  return out;
}

GraphSet GraphSet::subset(std::span<const int64_t> graphs) const {
  GraphSet out;
  out.name = name;
  out.num_node_labels = num_node_labels;
  out.node_label_values = node_label_values;
  out.num_edge_labels = num_edge_labels;
  out.edge_label_values = edge_label_values;
  out.num_classes = num_classes;
  out.class_values = class_values;

  int64_t total_nodes = 0, total_entries = 0;
  for (const int64_t g : graphs) {
    if (g < 0 || g >= size()) fail("GraphSet '{}': subset names graph {} outside [0, {})", name, g, size());
    const NodeRange nodes = nodes_of(g);
    total_nodes += nodes.size();
    total_entries += adjacency.row_ptr[nodes.end] - adjacency.row_ptr[nodes.begin];
  }
  out.node_offsets.reserve(graphs.size() + 1);
  out.graph_labels.reserve(graphs.size());
  out.adjacency.num_rows = out.adjacency.num_cols = total_nodes;
  out.adjacency.row_ptr.reserve(static_cast<size_t>(total_nodes) + 1);
  out.adjacency.col.reserve(static_cast<size_t>(total_entries));
  if (!node_labels.empty()) out.node_labels.reserve(static_cast<size_t>(total_nodes));
  if (!edge_labels.empty()) out.edge_labels.reserve(static_cast<size_t>(total_entries));
  const bool has_attribute_rows = node_attributes.rows() > 0;
  if (has_attribute_rows) out.node_attributes.resize(total_nodes, node_attributes.cols());

  for (const int64_t g : graphs) {
    const NodeRange nodes = nodes_of(g);
    const int64_t new_begin = out.num_nodes();
    // Nodes of a graph stay consecutive, so renumbering is a shift and rows stay sorted.
    const auto shift = static_cast<VertexId>(new_begin - nodes.begin);
    for (int64_t r = nodes.begin; r < nodes.end; ++r) {
      for (int64_t k = adjacency.row_begin(r); k < adjacency.row_end(r); ++k) {
        out.adjacency.col.push_back(adjacency.col[k] + shift);
        out.self_loops += adjacency.col[k] == r;
        if (!edge_labels.empty()) out.edge_labels.push_back(edge_labels[k]);
      }
      out.adjacency.row_ptr.push_back(static_cast<int64_t>(out.adjacency.col.size()));
      if (!node_labels.empty()) out.node_labels.push_back(node_labels[r]);
    }
    if (has_attribute_rows)
      out.node_attributes.middleRows(new_begin, nodes.size()) = node_attributes.middleRows(nodes.begin, nodes.size());
    out.node_offsets.push_back(new_begin + nodes.size());
    out.graph_labels.push_back(graph_labels[g]);
  }
  if (!has_attribute_rows) out.node_attributes.resize(0, node_attributes.cols());
  return out;
}

}  // namespace relfm
