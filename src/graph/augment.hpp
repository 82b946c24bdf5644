// GraphCL's four graph augmentations (research/batchsampler.md §4, as `unsupervised_TU/aug.py` does them),
// on one small graph with float node features. Each is a pure function of (graph, ratio, rng): the
// contrastive job draws a view per (seed, epoch, instance) from the counter-based generator.
//   drop_nodes      removes int(n · ratio) nodes chosen uniformly without replacement, with their edges
//   remove_edges    removes int(e · ratio) of the e directed entries, uniformly without replacement
//                   (aug.py's permute_edges: only removal is live, and entries go independently)
//   subgraph        keeps the nodes a random expansion from a random start reaches until it holds
//                   int(n · ratio) + 1 nodes (or nothing new is reachable), and the edges among them
//   mask_nodes      replaces the features of int(n · ratio) nodes by draws from N(0.5, 0.5)
// Kept nodes keep their relative order; a view never has zero nodes (a one-node graph stays as it is).
#pragma once

#include "src/core/rng.hpp"
#include "src/core/types.hpp"
#include "src/graph/csr.hpp"
#include "src/graph/graph_set.hpp"

#include <string>

namespace relfm {

struct GraphView {
  Csr adjacency;   // rows = nodes, columns = their neighbours (local ids)
  MatF features;   // nodes x feature columns
  int64_t num_nodes() const { return adjacency.num_rows; }
};

enum class Augmentation { kNone, kDropNodes, kRemoveEdges, kSubgraph, kMaskNodes };
Augmentation parse_augmentation(const std::string& name);  // none|dropN|pedges|subgraph|maskN; InputError otherwise

GraphView drop_nodes(const GraphView& g, double ratio, const CounterRng& rng);
GraphView remove_edges(const GraphView& g, double ratio, const CounterRng& rng);
GraphView subgraph(const GraphView& g, double ratio, const CounterRng& rng);
GraphView mask_nodes(const GraphView& g, double ratio, const CounterRng& rng);
GraphView augment(const GraphView& g, Augmentation a, double ratio, const CounterRng& rng);

// Node features of a TU graph for the encoder: "labels" (one-hot node labels), "attributes" (the float
// attributes), "labels+attributes", "constant" (one column of ones: what GraphCL gives featureless
// graphs), "degree" (one-hot of min(degree, max_degree)), or "auto" (labels and attributes where the data
// set has them, constant otherwise; a single node-label value, as in COLLAB, counts as none), or
// "labels_or_constant" (GraphCL's aug.py: one-hot node labels where the set has them, attributes never,
// constant otherwise).
enum class NodeFeatures { kAuto, kLabels, kAttributes, kLabelsAndAttributes, kConstant, kDegree, kLabelsOrConstant };
NodeFeatures parse_node_features(const std::string& name);  // InputError naming the choices
// Columns the choice gives for this data set (InputError when the data set lacks what it asks for).
int64_t node_feature_columns(const GraphSet& set, NodeFeatures features, int64_t max_degree = 64);
GraphView graph_view(const GraphSet& set, int64_t graph, NodeFeatures features, int64_t max_degree = 64);

// The graph restricted to the kept nodes (keep[v] != 0), renumbered in order.
GraphView induced(const GraphView& g, const std::vector<uint8_t>& keep);

}  // namespace relfm
