#include "src/graph/augment.hpp"

#include "src/core/error.hpp"

#include <algorithm>

namespace relfm {
namespace {

// k distinct positions out of n, uniformly (a partial Fisher-Yates driven by the rng).
std::vector<int64_t> choose(int64_t n, int64_t k, const CounterRng& rng) {
  std::vector<int64_t> pool(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) pool[i] = i;
  for (int64_t i = 0; i < k; ++i) {
    const int64_t j = i + static_cast<int64_t>(rng.below(static_cast<uint64_t>(i), static_cast<uint64_t>(n - i)));
    std::swap(pool[i], pool[j]);
  }
  pool.resize(static_cast<size_t>(k));
  return pool;
}

void check_ratio(double ratio, const char* what) {
  if (!(ratio >= 0 && ratio <= 1)) fail_input("{}: ratio {} must be in [0, 1]", what, ratio);
}

}  // namespace

Augmentation parse_augmentation(const std::string& name) {
  if (name == "none") return Augmentation::kNone;
  if (name == "dropN") return Augmentation::kDropNodes;
  if (name == "pedges") return Augmentation::kRemoveEdges;
  if (name == "subgraph") return Augmentation::kSubgraph;
  if (name == "maskN") return Augmentation::kMaskNodes;
  fail_input("augmentation '{}': expected none, dropN, pedges, subgraph or maskN", name);
}

NodeFeatures parse_node_features(const std::string& name) {
  if (name == "auto") return NodeFeatures::kAuto;
  if (name == "labels") return NodeFeatures::kLabels;
  if (name == "attributes") return NodeFeatures::kAttributes;
  if (name == "labels+attributes") return NodeFeatures::kLabelsAndAttributes;
  if (name == "constant") return NodeFeatures::kConstant;
  if (name == "degree") return NodeFeatures::kDegree;
  if (name == "labels_or_constant") return NodeFeatures::kLabelsOrConstant;
  fail_input("node features '{}': expected auto, labels, attributes, labels+attributes, constant, degree or "
             "labels_or_constant", name);
}

namespace {

bool has_labels(const GraphSet& s) { return !s.node_labels.empty() && s.num_node_labels > 1; }
bool has_attributes(const GraphSet& s) { return s.node_attributes.cols() > 0; }

NodeFeatures resolve(const GraphSet& set, NodeFeatures f) {
  if (f == NodeFeatures::kLabelsOrConstant) return has_labels(set) ? NodeFeatures::kLabels : NodeFeatures::kConstant;
  if (f == NodeFeatures::kAuto) {
    if (has_labels(set) && has_attributes(set)) return NodeFeatures::kLabelsAndAttributes;
    if (has_labels(set)) return NodeFeatures::kLabels;
    if (has_attributes(set)) return NodeFeatures::kAttributes;
    return NodeFeatures::kConstant;
  }
  const bool labels = f == NodeFeatures::kLabels || f == NodeFeatures::kLabelsAndAttributes;
  const bool attributes = f == NodeFeatures::kAttributes || f == NodeFeatures::kLabelsAndAttributes;
  if (labels && !has_labels(set)) fail_input("node features: data set '{}' has no node labels", set.name);
  if (attributes && !has_attributes(set)) fail_input("node features: data set '{}' has no node attributes", set.name);
  return f;
}

}  // namespace

int64_t node_feature_columns(const GraphSet& set, NodeFeatures features, int64_t max_degree) {
  switch (resolve(set, features)) {
    case NodeFeatures::kLabels: return set.num_node_labels;
    case NodeFeatures::kAttributes: return set.node_attributes.cols();
    case NodeFeatures::kLabelsAndAttributes: return set.num_node_labels + set.node_attributes.cols();
    case NodeFeatures::kDegree: return max_degree + 1;
    default: return 1;
  }
}

GraphView graph_view(const GraphSet& set, int64_t graph, NodeFeatures features, int64_t max_degree) {
  const NodeFeatures f = resolve(set, features);
  const NodeRange nodes = set.nodes_of(graph);
  GraphView g;
  g.adjacency.num_rows = g.adjacency.num_cols = nodes.size();
  g.adjacency.row_ptr.assign(1, 0);
  for (int64_t v = nodes.begin; v < nodes.end; ++v) {
    for (int64_t e = set.adjacency.row_begin(v); e < set.adjacency.row_end(v); ++e)
      g.adjacency.col.push_back(static_cast<VertexId>(set.adjacency.col[e] - nodes.begin));
    g.adjacency.row_ptr.push_back(static_cast<int64_t>(g.adjacency.col.size()));
  }
  g.features = MatF::Zero(nodes.size(), node_feature_columns(set, f, max_degree));
  for (int64_t v = nodes.begin; v < nodes.end; ++v) {
    const int64_t r = v - nodes.begin;
    switch (f) {
      case NodeFeatures::kLabels: g.features(r, set.node_labels[v]) = 1.0f; break;
      case NodeFeatures::kAttributes: g.features.row(r) = set.node_attributes.row(v); break;
      case NodeFeatures::kLabelsAndAttributes:
        g.features(r, set.node_labels[v]) = 1.0f;
        g.features.row(r).tail(set.node_attributes.cols()) = set.node_attributes.row(v);
        break;
      case NodeFeatures::kDegree:
        g.features(r, std::min(set.adjacency.row_end(v) - set.adjacency.row_begin(v), max_degree)) = 1.0f;
        break;
      default: g.features(r, 0) = 1.0f;
    }
  }
  return g;
}

GraphView induced(const GraphView& g, const std::vector<uint8_t>& keep) {
  const int64_t n = g.num_nodes();
  std::vector<VertexId> new_id(static_cast<size_t>(n), -1);
  VertexId kept = 0;
  for (int64_t v = 0; v < n; ++v)
    if (keep[v]) new_id[v] = kept++;
  GraphView out;
  out.adjacency.num_rows = out.adjacency.num_cols = kept;
  out.adjacency.row_ptr.assign(1, 0);
  out.features.resize(kept, g.features.cols());
  for (int64_t v = 0; v < n; ++v) {
    if (!keep[v]) continue;
    out.features.row(new_id[v]) = g.features.row(v);
    for (int64_t e = g.adjacency.row_begin(v); e < g.adjacency.row_end(v); ++e)
      if (keep[g.adjacency.col[e]]) out.adjacency.col.push_back(new_id[g.adjacency.col[e]]);
    out.adjacency.row_ptr.push_back(static_cast<int64_t>(out.adjacency.col.size()));
  }
  return out;
}

GraphView drop_nodes(const GraphView& g, double ratio, const CounterRng& rng) {
  check_ratio(ratio, "drop_nodes");
  const int64_t n = g.num_nodes();
  const int64_t drop = std::min(static_cast<int64_t>(static_cast<double>(n) * ratio), n - 1);
  if (drop <= 0) return g;
  std::vector<uint8_t> keep(static_cast<size_t>(n), 1);
  for (int64_t v : choose(n, drop, rng)) keep[v] = 0;
  return induced(g, keep);
}

GraphView remove_edges(const GraphView& g, double ratio, const CounterRng& rng) {
  check_ratio(ratio, "remove_edges");
  const int64_t e = g.adjacency.nnz(), removed = static_cast<int64_t>(static_cast<double>(e) * ratio);
  if (removed <= 0) return g;
  std::vector<uint8_t> gone(static_cast<size_t>(e), 0);
  for (int64_t k : choose(e, removed, rng)) gone[k] = 1;
  GraphView out;
  out.features = g.features;
  out.adjacency.num_rows = out.adjacency.num_cols = g.num_nodes();
  out.adjacency.row_ptr.assign(1, 0);
  for (int64_t v = 0; v < g.num_nodes(); ++v) {
    for (int64_t k = g.adjacency.row_begin(v); k < g.adjacency.row_end(v); ++k)
      if (!gone[k]) out.adjacency.col.push_back(g.adjacency.col[k]);
    out.adjacency.row_ptr.push_back(static_cast<int64_t>(out.adjacency.col.size()));
  }
  return out;
}

GraphView subgraph(const GraphView& g, double ratio, const CounterRng& rng) {
  check_ratio(ratio, "subgraph");
  const int64_t n = g.num_nodes();
  if (n <= 1) return g;
  const int64_t target = static_cast<int64_t>(static_cast<double>(n) * ratio) + 1;
  std::vector<uint8_t> keep(static_cast<size_t>(n), 0), frontier_mark(static_cast<size_t>(n), 0);
  std::vector<VertexId> frontier;  // neighbours of the kept nodes not kept yet
  uint64_t draw = 0;
  auto take = [&](VertexId v) {
    keep[v] = 1;
    for (int64_t e = g.adjacency.row_begin(v); e < g.adjacency.row_end(v); ++e) {
      const VertexId u = g.adjacency.col[e];
      if (!keep[u] && !frontier_mark[u]) {
        frontier_mark[u] = 1;
        frontier.push_back(u);
      }
    }
  };
  take(static_cast<VertexId>(rng.below(draw++, static_cast<uint64_t>(n))));
  int64_t kept = 1;
  while (kept < target && !frontier.empty()) {
    const size_t i = static_cast<size_t>(rng.below(draw++, frontier.size()));
    const VertexId v = frontier[i];
    frontier[i] = frontier.back();
    frontier.pop_back();
    if (keep[v]) continue;
    take(v);
    ++kept;
  }
  return induced(g, keep);
}

GraphView mask_nodes(const GraphView& g, double ratio, const CounterRng& rng) {
  check_ratio(ratio, "mask_nodes");
  const int64_t n = g.num_nodes(), masked = static_cast<int64_t>(static_cast<double>(n) * ratio);
  GraphView out = g;
  if (masked <= 0) return out;
  const std::vector<int64_t> nodes = choose(n, masked, rng.derive(1));
  const CounterRng noise = rng.derive(2);
  uint64_t k = 0;
  for (int64_t v : nodes)
    for (int64_t j = 0; j < g.features.cols(); ++j) out.features(v, j) = static_cast<float>(0.5 + 0.5 * noise.normal(k++));
  return out;
}

GraphView augment(const GraphView& g, Augmentation a, double ratio, const CounterRng& rng) {
  switch (a) {
    case Augmentation::kNone: return g;
    case Augmentation::kDropNodes: return drop_nodes(g, ratio, rng);
    case Augmentation::kRemoveEdges: return remove_edges(g, ratio, rng);
    case Augmentation::kSubgraph: return subgraph(g, ratio, rng);
    case Augmentation::kMaskNodes: return mask_nodes(g, ratio, rng);
  }
  return g;
}

}  // namespace relfm
