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

// The graph restricted to the kept nodes (keep[v] != 0), renumbered in order.
GraphView induced(const GraphView& g, const std::vector<uint8_t>& keep);

}  // namespace relfm
