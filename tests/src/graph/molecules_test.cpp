// Molecule sets and batches: featurised molecules become CSR graphs whose structure matches the bonds.
#include "src/core/error.hpp"
#include "src/graph/molecules.hpp"
#include "src/mol/molecule_set_builder.hpp"

#include <gtest/gtest.h>

#include <set>

namespace relfm {
namespace {

MoleculeSet small_set() {
  std::vector<MolGraph> graphs;
  for (const char* s : {"CCO", "c1ccccc1", "[Na+].[Cl-]", "CC(=O)N"}) graphs.push_back(*smiles_to_graph(s));
  MatF labels(4, 2);
  labels << 1, 0, 0, std::nanf(""), 1, 1, 0, 0;
  return build_molecule_set(graphs, labels);
}

TEST(MoleculeSet, BuiltFromGraphsHasBothEdgeDirectionsGroupedByDestination) {
  const MoleculeSet set = small_set();
  EXPECT_NO_THROW(set.validate());
  EXPECT_EQ(set.size(), 4);
  EXPECT_EQ(set.atoms_of(0), 3);
  EXPECT_EQ(set.edges_of(0), 4);  // 2 bonds, both directions
  EXPECT_EQ(set.edges_of(1), 12);
  EXPECT_EQ(set.edges_of(2), 0);  // ions: atoms but no bonds
  // Ethanol C0-C1-O2: edges into C1 come from C0 and O2.
  const int64_t c1 = set.atom_offsets[0] + 1;
  std::multiset<int32_t> sources;
  for (int64_t e = set.edge_row_ptr[c1]; e < set.edge_row_ptr[c1 + 1]; ++e) sources.insert(set.edge_src[e]);
  EXPECT_EQ(sources, (std::multiset<int32_t>{0, 2}));
}

TEST(MoleculeSet, ValidateNamesInconsistencies) {
  MoleculeSet set = small_set();
  set.edge_src[0] = 7;
  EXPECT_THROW(set.validate(), Error);
}

TEST(Collate, DisjointUnionWithSelectedColumns) {
  const MoleculeSet set = small_set();
  const std::vector<int64_t> pick{3, 0};
  const std::vector<int> acols{0, 1}, bcols{0};
  const GraphBatch b = collate(set, pick, acols, bcols);
  EXPECT_EQ(b.num_graphs, 2);
  EXPECT_EQ(b.num_nodes, set.atoms_of(3) + set.atoms_of(0));
  EXPECT_EQ(b.num_edges(), set.edges_of(3) + set.edges_of(0));
  EXPECT_NO_THROW(b.adjacency->validate());
  EXPECT_EQ(*b.graph_offsets, (std::vector<int64_t>{0, set.atoms_of(3), b.num_nodes}));
  EXPECT_EQ(b.ids, pick);
  EXPECT_EQ(b.atom_categories.cols(), 2);
  EXPECT_EQ(b.edge_categories.cols(), 1);
  // Every edge stays inside its molecule, and the edge multiset is symmetric.
  std::multiset<std::pair<int, int>> edges;
  for (int64_t i = 0; i < b.num_nodes; ++i)
    for (int64_t k = b.adjacency->row_ptr[i]; k < b.adjacency->row_ptr[i + 1]; ++k) {
      const int j = b.adjacency->col[k];
      EXPECT_EQ(i < set.atoms_of(3), j < set.atoms_of(3));
      edges.insert({static_cast<int>(i), j});
    }
  for (const auto& [i, j] : edges) EXPECT_EQ(edges.count({i, j}), edges.count({j, i}));
  EXPECT_EQ((*b.labels)(1, 0), 1.0f);  // molecule 0's label row
  // Atom categories come from the right atoms: the first atom of molecule 3 (acetamide C) is carbon (5).
  EXPECT_EQ(b.atom_categories(0, 0), 5);
}

TEST(MoleculeSet, SubsetKeepsMoleculesAndIds) {
  const MoleculeSet set = small_set();
  const std::vector<int64_t> pick{1, 3};
  const MoleculeSet sub = set.subset(pick);
  EXPECT_NO_THROW(sub.validate());
  EXPECT_EQ(sub.ids, pick);
  EXPECT_EQ(sub.atoms_of(0), set.atoms_of(1));
  EXPECT_EQ(sub.atom_features.row(0), set.atom_features.row(set.atom_offsets[1]));
}

TEST(Csr, FromPairsIsStableAndValidates) {
  std::vector<int64_t> order;
  const Csr c = Csr::from_pairs(3, 3, {2, 0, 2, 1}, {0, 1, 1, 2}, &order);
  EXPECT_EQ(c.row_ptr, (std::vector<int64_t>{0, 1, 2, 4}));
  EXPECT_EQ(c.col, (std::vector<int32_t>{1, 2, 0, 1}));
  EXPECT_EQ(order, (std::vector<int64_t>{1, 3, 0, 2}));
  Csr bad = c;
  bad.col[0] = 5;
  EXPECT_THROW(bad.validate(), Error);
}

}  // namespace
}  // namespace relfm
