// GraphCL's augmentations: exact counts, structure kept consistent (induced edges, features of the kept
// nodes), uniform choice (chi-square over many views), the subgraph's connectivity, the mask's law.
#include "src/graph/augment.hpp"

#include "src/core/error.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

namespace relfm {
namespace {

// A ring of n nodes plus chords v -> v+3 (both directions stored); feature row v = (v, -v).
GraphView ring_with_chords(int n) {
  std::vector<VertexId> src, dst;
  for (int v = 0; v < n; ++v)
    for (int hop : {1, 3}) {
      const int u = (v + hop) % n;
      src.push_back(v), dst.push_back(u);
      src.push_back(u), dst.push_back(v);
    }
  GraphView g;
  g.adjacency = Csr::from_pairs(n, n, src, dst);
  g.features.resize(n, 2);
  for (int v = 0; v < n; ++v) g.features.row(v) << static_cast<float>(v), static_cast<float>(-v);
  return g;
}

std::set<std::pair<int, int>> edges_by_feature(const GraphView& g) {  // edges named by original ids
  std::set<std::pair<int, int>> out;
  for (int64_t v = 0; v < g.num_nodes(); ++v)
    for (int64_t e = g.adjacency.row_begin(v); e < g.adjacency.row_end(v); ++e)
      out.insert({static_cast<int>(g.features(v, 0)), static_cast<int>(g.features(g.adjacency.col[e], 0))});
  return out;
}

TEST(Augment, DropNodesKeepsTheInducedGraphAndChoosesUniformly) {
  const GraphView g = ring_with_chords(40);
  const auto all_edges = edges_by_feature(g);
  std::vector<int64_t> dropped(40, 0);
  constexpr int kViews = 4000;
  for (int s = 0; s < kViews; ++s) {
    const GraphView v = drop_nodes(g, 0.1, CounterRng(s, RngPurpose::kTest));
    ASSERT_EQ(v.num_nodes(), 36);
    v.adjacency.validate();
    std::set<int> kept;
    for (int64_t i = 0; i < v.num_nodes(); ++i) kept.insert(static_cast<int>(v.features(i, 0)));
    for (int i = 0; i < 40; ++i) dropped[i] += !kept.count(i);
    // Exactly the original edges between kept nodes.
    std::set<std::pair<int, int>> want;
    for (auto [a, b] : all_edges)
      if (kept.count(a) && kept.count(b)) want.insert({a, b});
    ASSERT_EQ(edges_by_feature(v), want);
  }
  double chi = 0;
  const double expected = kViews * 4.0 / 40.0;
  for (int64_t d : dropped) chi += (d - expected) * (d - expected) / expected;
  EXPECT_LT(chi, 80.0);  // 39 degrees of freedom; the 1e-6 upper quantile is about 83
}

TEST(Augment, RemoveEdgesTakesTenPercentOfTheEntries) {
  const GraphView g = ring_with_chords(50);  // 200 directed entries
  const GraphView v = remove_edges(g, 0.1, CounterRng(3, RngPurpose::kTest));
  EXPECT_EQ(v.adjacency.nnz(), 180);
  EXPECT_EQ(v.num_nodes(), 50);
  const auto before = edges_by_feature(g), after = edges_by_feature(v);
  for (const auto& e : after) EXPECT_TRUE(before.count(e));
  EXPECT_EQ(v.features, g.features);
}

TEST(Augment, SubgraphIsConnectedWithTheTargetSize) {
  const GraphView g = ring_with_chords(60);
  for (int s = 0; s < 50; ++s) {
    const GraphView v = subgraph(g, 0.2, CounterRng(s, RngPurpose::kTest));
    ASSERT_EQ(v.num_nodes(), 13);
    // Connected (undirected here): a search from node 0 reaches every node.
    std::vector<uint8_t> seen(13, 0);
    std::vector<VertexId> stack = {0};
    seen[0] = 1;
    while (!stack.empty()) {
      const VertexId u = stack.back();
      stack.pop_back();
      for (int64_t e = v.adjacency.row_begin(u); e < v.adjacency.row_end(u); ++e)
        if (!seen[v.adjacency.col[e]]) seen[v.adjacency.col[e]] = 1, stack.push_back(v.adjacency.col[e]);
    }
    for (int i = 0; i < 13; ++i) ASSERT_TRUE(seen[i]) << "seed " << s;
  }
  // Two components of 5: the view stays within the start's component.
  std::vector<VertexId> src, dst;
  for (int c = 0; c < 2; ++c)
    for (int i = 0; i < 5; ++i) src.push_back(c * 5 + i), dst.push_back(c * 5 + (i + 1) % 5);
  GraphView two;
  two.adjacency = Csr::from_pairs(10, 10, src, dst);
  two.features = MatF::Zero(10, 1);
  EXPECT_LE(subgraph(two, 0.9, CounterRng(1, RngPurpose::kTest)).num_nodes(), 5);
}

TEST(Augment, MaskNodesDrawsFromNormalHalfHalf) {
  const GraphView g = ring_with_chords(100);
  double sum = 0, sum2 = 0;
  int64_t count = 0;
  for (int s = 0; s < 200; ++s) {
    const GraphView v = mask_nodes(g, 0.1, CounterRng(s, RngPurpose::kTest));
    int changed = 0;
    for (int i = 0; i < 100; ++i)
      if (v.features(i, 0) != g.features(i, 0) || v.features(i, 1) != g.features(i, 1)) {
        ++changed;
        for (int j = 0; j < 2; ++j) sum += v.features(i, j), sum2 += v.features(i, j) * v.features(i, j), ++count;
      }
    ASSERT_EQ(changed, 10);
    EXPECT_EQ(v.adjacency.col, g.adjacency.col);
  }
  const double mean = sum / count, sd = std::sqrt(sum2 / count - mean * mean);
  EXPECT_NEAR(mean, 0.5, 0.03);
  EXPECT_NEAR(sd, 0.5, 0.03);
}

TEST(Augment, DeterministicAndBadInputs) {
  const GraphView g = ring_with_chords(30);
  const CounterRng rng(9, RngPurpose::kTest);
  EXPECT_EQ(drop_nodes(g, 0.1, rng).features, drop_nodes(g, 0.1, rng).features);
  EXPECT_EQ(augment(g, parse_augmentation("subgraph"), 0.2, rng).adjacency.col, subgraph(g, 0.2, rng).adjacency.col);
  EXPECT_THROW(parse_augmentation("rotate"), InputError);
  EXPECT_THROW(drop_nodes(g, 1.5, rng), InputError);
  GraphView one;
  one.adjacency = Csr::from_pairs(1, 1, {}, {});
  one.features = MatF::Ones(1, 3);
  EXPECT_EQ(drop_nodes(one, 0.9, rng).num_nodes(), 1);
  EXPECT_EQ(subgraph(one, 0.2, rng).num_nodes(), 1);
}

TEST(Augment, TuGraphsAsViewsWithEachFeatureChoice) {
  // Two graphs: a triangle (labels 0, 1, 2) and an edge (labels 1, 1), one attribute column.
  GraphSet set;
  set.name = "toy";
  set.node_offsets = {0, 3, 5};
  const std::vector<VertexId> src = {0, 0, 1, 1, 2, 2, 3, 4}, dst = {1, 2, 0, 2, 0, 1, 4, 3};
  set.adjacency = Csr::from_pairs(5, 5, src, dst);
  set.node_labels = {0, 1, 2, 1, 1};
  set.num_node_labels = 3;
  set.node_attributes = MatF(5, 1);
  set.node_attributes << 0.5f, 1.5f, 2.5f, 3.5f, 4.5f;
  set.graph_labels = {0, 1};
  set.num_classes = 2;
  const GraphView second = graph_view(set, 1, NodeFeatures::kAuto);
  EXPECT_EQ(second.num_nodes(), 2);
  EXPECT_EQ(second.adjacency.col, (std::vector<VertexId>{1, 0}));
  ASSERT_EQ(second.features.cols(), 4);  // 3 one-hot labels + 1 attribute
  EXPECT_EQ(second.features(0, 1), 1.0f);
  EXPECT_EQ(second.features(1, 3), 4.5f);
  EXPECT_EQ(graph_view(set, 0, NodeFeatures::kLabels).features.row(2).sum(), 1.0f);
  EXPECT_EQ(graph_view(set, 0, NodeFeatures::kConstant).features, MatF::Ones(3, 1));
  const GraphView deg = graph_view(set, 0, NodeFeatures::kDegree, 4);
  EXPECT_EQ(deg.features.cols(), 5);
  EXPECT_EQ(deg.features(0, 2), 1.0f);
  set.node_attributes.resize(5, 0);
  EXPECT_THROW(graph_view(set, 0, NodeFeatures::kAttributes), InputError);
  EXPECT_EQ(node_feature_columns(set, NodeFeatures::kAuto), 3);
  set.node_labels.clear();
  set.num_node_labels = 0;
  EXPECT_EQ(node_feature_columns(set, NodeFeatures::kAuto), 1);  // featureless: constant
  EXPECT_THROW(parse_node_features("pagerank"), InputError);
}

}  // namespace
}  // namespace relfm
