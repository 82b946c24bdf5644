#include "src/graph/graphcl_views.hpp"

#include "src/core/error.hpp"

#include <algorithm>

namespace relfm {

AugmentationPolicy parse_augmentation_policy(const std::string& name, bool graphcl_quirks) {
  AugmentationPolicy p;
  p.name = name;
  p.graphcl_quirks = graphcl_quirks;
  using A = Augmentation;
  if (name == "none") p.choices = {A::kNone};
  else if (name == "dnodes") p.choices = {A::kDropNodes};
  else if (name == "pedges") p.choices = {A::kRemoveEdges};
  else if (name == "subgraph") p.choices = {A::kSubgraph};
  else if (name == "mask_nodes") p.choices = {A::kMaskNodes};
  else if (name == "random2") p.choices = {A::kDropNodes, A::kSubgraph};
  else if (name == "random3") p.choices = {A::kDropNodes, A::kSubgraph, A::kRemoveEdges};
  else if (name == "random4") p.choices = {A::kDropNodes, A::kSubgraph, A::kRemoveEdges, A::kMaskNodes};
  else
    fail_input("augmentation policy '{}': expected dnodes, pedges, subgraph, mask_nodes, random2, random3, random4 or none",
               name);
  p.prunes_view = graphcl_quirks && (name == "dnodes" || name == "subgraph" || name.rfind("random", 0) == 0);
  return p;
}

GraphView with_graphcl_self_loops(const GraphView& g) {
  VertexId max_id = -1;
  for (VertexId c : g.adjacency.col) max_id = std::max(max_id, c);
  for (int64_t v = 0; v < g.num_nodes(); ++v)
    if (g.adjacency.row_end(v) > g.adjacency.row_begin(v)) max_id = std::max(max_id, static_cast<VertexId>(v));
  GraphView out;
  out.features = g.features;
  out.adjacency.num_rows = out.adjacency.num_cols = g.num_nodes();
  out.adjacency.row_ptr.assign(1, 0);
  for (int64_t v = 0; v < g.num_nodes(); ++v) {
    const auto begin = g.adjacency.col.begin() + g.adjacency.row_begin(v), end = g.adjacency.col.begin() + g.adjacency.row_end(v);
    std::vector<VertexId> row(begin, end);
    // A graph already carrying a self-loop keeps one entry (the adjacency is a 0/1 matrix in aug.py).
    if (v < max_id && !std::binary_search(row.begin(), row.end(), static_cast<VertexId>(v)))
      row.insert(std::lower_bound(row.begin(), row.end(), static_cast<VertexId>(v)), static_cast<VertexId>(v));
    out.adjacency.col.insert(out.adjacency.col.end(), row.begin(), row.end());
    out.adjacency.row_ptr.push_back(static_cast<int64_t>(out.adjacency.col.size()));
  }
  return out;
}

GraphView subgraph_one_hop(const GraphView& g, double ratio, const CounterRng& rng) {
  if (!(ratio >= 0 && ratio <= 1)) fail_input("subgraph: ratio {} must be in [0, 1]", ratio);
  const int64_t n = g.num_nodes();
  if (n <= 1) return g;
  const int64_t extra = static_cast<int64_t>(static_cast<double>(n) * ratio);
  uint64_t draw = 0;
  const auto start = static_cast<VertexId>(rng.below(draw++, static_cast<uint64_t>(n)));
  std::vector<uint8_t> keep(static_cast<size_t>(n), 0);
  keep[start] = 1;
  // aug.py draws neighbours of the start with replacement, skipping ones already taken, and gives up
  // after n draws; the neighbour set includes the start itself when it has a self-loop.
  const int64_t begin = g.adjacency.row_begin(start), degree = g.adjacency.row_end(start) - begin;
  int64_t kept = 0;
  for (int64_t count = 0; kept < extra && degree > 0 && count < n; ++count) {
    const VertexId u = g.adjacency.col[begin + static_cast<int64_t>(rng.below(draw++, static_cast<uint64_t>(degree)))];
    if (keep[u]) continue;
    keep[u] = 1;
    ++kept;
  }
  return induced(g, keep);
}

GraphView prune_edgeless(const GraphView& g) {
  const int64_t n = g.num_nodes();
  std::vector<uint8_t> keep(static_cast<size_t>(n), 0);
  int64_t kept = 0;
  for (int64_t v = 0; v < n; ++v)
    for (int64_t e = g.adjacency.row_begin(v); e < g.adjacency.row_end(v); ++e) {
      keep[v] = keep[g.adjacency.col[e]] = 1;
    }
  for (uint8_t k : keep) kept += k;
  if (kept == 0 && n > 0) keep[0] = 1;
  GraphView out = induced(g, keep);
  Csr& a = out.adjacency;
  std::vector<VertexId> col;
  std::vector<int64_t> row_ptr(1, 0);
  for (int64_t v = 0; v < a.num_rows; ++v) {
    for (int64_t e = a.row_begin(v); e < a.row_end(v); ++e)
      if (a.col[e] != v) col.push_back(a.col[e]);
    row_ptr.push_back(static_cast<int64_t>(col.size()));
  }
  a.col = std::move(col);
  a.row_ptr = std::move(row_ptr);
  return out;
}

GraphView original_view(const GraphView& g, const AugmentationPolicy& policy) {
  return policy.graphcl_quirks ? with_graphcl_self_loops(g) : g;
}

GraphView augmented_view(const GraphView& original, const AugmentationPolicy& policy, const CounterRng& rng) {
  if (policy.choices.empty()) fail("augmented_view: the policy '{}' has no augmentation", policy.name);
  const Augmentation a =
      policy.choices[policy.choices.size() == 1 ? 0 : rng.below(0, static_cast<uint64_t>(policy.choices.size()))];
  const CounterRng draws = rng.derive(1);
  GraphView view;
  switch (a) {
    case Augmentation::kNone: view = original; break;
    case Augmentation::kDropNodes: view = drop_nodes(original, policy.drop_ratio, draws); break;
    case Augmentation::kRemoveEdges: view = remove_edges(original, policy.edge_ratio, draws); break;
    case Augmentation::kSubgraph:
      view = policy.graphcl_quirks ? subgraph_one_hop(original, policy.subgraph_ratio, draws)
                                   : subgraph(original, policy.subgraph_ratio, draws);
      break;
    case Augmentation::kMaskNodes: view = mask_nodes(original, policy.mask_ratio, draws); break;
  }
  return policy.prunes_view ? prune_edgeless(view) : view;
}

}  // namespace relfm
