// GraphCL's views as its released code makes them: the off-by-one self-loops, the one-hop subgraph, the
// pruning of edgeless nodes from node-dropping views, the policies' uniform choice, and without the quirks
// the plain augmentations.
#include "src/graph/graphcl_views.hpp"

#include "src/core/error.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace relfm {
namespace {

// A path 0-1-2-3 plus an isolated node 4 and a star centre 5 with leaves 6..9; feature row v = (v).
GraphView sample_graph() {
  std::vector<VertexId> src, dst;
  auto edge = [&](int a, int b) { src.push_back(a), dst.push_back(b), src.push_back(b), dst.push_back(a); };
  edge(0, 1), edge(1, 2), edge(2, 3);
  for (int leaf = 6; leaf < 10; ++leaf) edge(5, leaf);
  GraphView g;
  g.adjacency = Csr::from_pairs(10, 10, src, dst);
  g.features.resize(10, 1);
  for (int v = 0; v < 10; ++v) g.features(v, 0) = static_cast<float>(v);
  return g;
}

bool has_entry(const GraphView& g, int64_t v, VertexId u) {
  for (int64_t e = g.adjacency.row_begin(v); e < g.adjacency.row_end(v); ++e)
    if (g.adjacency.col[e] == u) return true;
  return false;
}

TEST(GraphClViews, SelfLoopsOnEveryNodeBelowTheLargestIdInAnEdge) {
  const GraphView g = with_graphcl_self_loops(sample_graph());
  g.adjacency.validate();
  for (int v = 0; v < 9; ++v) EXPECT_TRUE(has_entry(g, v, v)) << v;  // the isolated node 4 too
  EXPECT_FALSE(has_entry(g, 9, 9));                                  // range(edge_index.max()) stops short
  EXPECT_EQ(g.adjacency.nnz(), sample_graph().adjacency.nnz() + 9);
  // A graph with no edge gets none.
  GraphView lone;
  lone.adjacency = Csr::from_pairs(3, 3, {}, {});
  lone.features = MatF::Ones(3, 1);
  EXPECT_EQ(with_graphcl_self_loops(lone).adjacency.nnz(), 0);
}

TEST(GraphClViews, OneHopSubgraphKeepsTheStartAndSomeOfItsNeighboursOnly) {
  const GraphView g = with_graphcl_self_loops(sample_graph());
  std::map<int, int> sizes;
  for (uint64_t s = 0; s < 300; ++s) {
    const GraphView v = subgraph_one_hop(g, 0.2, CounterRng(s, RngPurpose::kTest));
    ASSERT_GE(v.num_nodes(), 1);
    ASSERT_LE(v.num_nodes(), 3);  // the start plus at most int(10 * 0.2) = 2
    ++sizes[static_cast<int>(v.num_nodes())];
    // Every kept node is the start or adjacent to it: some kept node is adjacent to all the others.
    std::set<int> kept;
    for (int64_t i = 0; i < v.num_nodes(); ++i) kept.insert(static_cast<int>(v.features(i, 0)));
    bool centred = false;
    for (int c : kept) {
      bool all = true;
      for (int u : kept)
        if (u != c && !has_entry(g, c, u)) all = false;
      centred = centred || all;
    }
    EXPECT_TRUE(centred) << "view " << s;
  }
  EXPECT_GT(sizes[3], 0);  // star centres and path interiors reach the full size
}

TEST(GraphClViews, PruningDropsEdgelessNodesThenSelfLoops) {
  GraphView g = with_graphcl_self_loops(sample_graph());
  // Drop node 5 (the star centre): its leaves keep their self-loops except 9, which has none.
  std::vector<uint8_t> keep(10, 1);
  keep[5] = 0;
  const GraphView dropped = prune_edgeless(induced(g, keep));
  std::set<int> kept;
  for (int64_t i = 0; i < dropped.num_nodes(); ++i) kept.insert(static_cast<int>(dropped.features(i, 0)));
  EXPECT_EQ(kept, (std::set<int>{0, 1, 2, 3, 4, 6, 7, 8}));
  for (int64_t i = 0; i < dropped.num_nodes(); ++i) EXPECT_FALSE(has_entry(dropped, i, static_cast<VertexId>(i)));
  EXPECT_EQ(dropped.adjacency.nnz(), 6);  // the path's three edges, both directions
  // A view left with nothing keeps one node.
  GraphView lone;
  lone.adjacency = Csr::from_pairs(2, 2, {}, {});
  lone.features = MatF::Ones(2, 1);
  EXPECT_EQ(prune_edgeless(lone).num_nodes(), 1);
}

TEST(GraphClViews, PoliciesDrawTheirAugmentationsUniformly) {
  const AugmentationPolicy p = parse_augmentation_policy("random4");
  ASSERT_EQ(p.choices.size(), 4u);
  EXPECT_TRUE(p.prunes_view);
  EXPECT_FALSE(parse_augmentation_policy("pedges").prunes_view);
  EXPECT_FALSE(parse_augmentation_policy("random2", /*graphcl_quirks=*/false).prunes_view);
  // Which augmentation a view got shows in its size: drop and subgraph shrink it; pedges keeps every node
  // but prunes (random4 prunes whatever it drew), mask keeps the structure.
  const AugmentationPolicy r2 = parse_augmentation_policy("random2");
  const GraphView g = original_view(sample_graph(), r2);
  int small = 0;
  const int views = 2000;
  for (int s = 0; s < views; ++s)
    small += augmented_view(g, r2, CounterRng(9, RngPurpose::kTest).derive(static_cast<uint64_t>(s))).num_nodes() <= 3;
  // Subgraph views have <= 3 nodes; node dropping keeps 9 minus pruned ones (>= 7): half and half.
  EXPECT_NEAR(static_cast<double>(small) / views, 0.5, 0.05);
  EXPECT_THROW(parse_augmentation_policy("random5"), InputError);
}

TEST(GraphClViews, WithoutTheQuirksTheViewsArePlainAugmentations) {
  const AugmentationPolicy p = parse_augmentation_policy("subgraph", false);
  const GraphView g = original_view(sample_graph(), p);
  EXPECT_EQ(g.adjacency.nnz(), sample_graph().adjacency.nnz());
  const CounterRng rng(3, RngPurpose::kTest);
  const GraphView a = augmented_view(g, p, rng), b = subgraph(g, 0.2, rng.derive(1));
  EXPECT_EQ(a.adjacency.col, b.adjacency.col);
  EXPECT_EQ(a.features, b.features);
}

}  // namespace
}  // namespace relfm
