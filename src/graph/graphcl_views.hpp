// The two views GraphCL's unsupervised_TU code trains on (gsimclr.py, aug.py), built from the
// augmentations of src/graph/augment.hpp. A policy names the augmentations one view draws from (GraphCL's
// --aug: dnodes, pedges, subgraph, mask_nodes, or random2/3/4 = uniform over {dnodes, subgraph},
// + pedges, + mask_nodes); each view draws its augmentation and its randomness from (seed, epoch,
// instance) through the counter-based generator.
//
// The released code differs from the paper's description in three places that change the views. With
// `graphcl_quirks` (the default of the graphcl job, to reproduce its numbers) relfm does what it does:
//  * aug.py's get() adds self-loops to nodes 0 .. m-1, m the largest node id in the edge list
//    (range(edge_index.max())): the node with the largest id, and isolated nodes above it, get none. Both
//    views and the evaluation embeddings see them, so GIN's sum gives most nodes twice their own state.
//  * its subgraph() never grows past the start's neighbourhood (the union with the new node's neighbours
//    is discarded): the start plus up to int(n * 0.2) of its neighbours.
//  * with the node-dropping policies (dnodes, subgraph, random2/3/4) gsimclr.py removes from the augmented
//    view every node left without an incident entry, then every self-loop (whatever augmentation was drawn).
// Without the quirks: no self-loops, the subgraph is a true expansion, no pruning.
#pragma once

#include "src/graph/augment.hpp"

#include <string>
#include <vector>

namespace relfm {

struct AugmentationPolicy {
  std::string name = "random2";
  std::vector<Augmentation> choices;  // one drawn uniformly per view
  bool prunes_view = false;           // the node-dropping policies (quirk 3)
  bool graphcl_quirks = true;
  double drop_ratio = 0.1, edge_ratio = 0.1, subgraph_ratio = 0.2, mask_ratio = 0.1;
};

// dnodes | pedges | subgraph | mask_nodes | random2 | random3 | random4 | none; InputError naming the choices.
AugmentationPolicy parse_augmentation_policy(const std::string& name, bool graphcl_quirks = true);

// Quirk 1: self-loops on nodes 0 .. m-1 (m = the largest node id that has an entry); entries stay sorted.
GraphView with_graphcl_self_loops(const GraphView& g);
// Quirk 2: the start (uniform) plus up to int(n * ratio) distinct neighbours of it, as aug.py draws them.
GraphView subgraph_one_hop(const GraphView& g, double ratio, const CounterRng& rng);
// Quirk 3: drops the nodes without any entry, then all self-loops. A view that would lose every node keeps
// its first node (the released code would then misalign its batch; relfm keeps one row per graph).
GraphView prune_edgeless(const GraphView& g);

// The original view of a graph as the encoder sees it (with quirk 1 when the policy has the quirks).
GraphView original_view(const GraphView& g, const AugmentationPolicy& policy);
// An augmented view of `original` (the result of original_view), drawn from `rng`.
GraphView augmented_view(const GraphView& original, const AugmentationPolicy& policy, const CounterRng& rng);

}  // namespace relfm
