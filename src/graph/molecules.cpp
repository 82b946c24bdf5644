#include "src/graph/molecules.hpp"

#include "src/core/error.hpp"

namespace relfm {

void MoleculeSet::validate() const {
  const int64_t m = size();
  if (m < 0) fail("molecule set: atom_offsets is empty");
  if (static_cast<int64_t>(edge_offsets.size()) != m + 1)
    fail("molecule set: {} edge offsets for {} molecules", edge_offsets.size(), m);
  if (atom_offsets[0] != 0 || edge_offsets[0] != 0) fail("molecule set: offsets must start at 0");
  if (atom_features.rows() != num_atoms()) fail("molecule set: {} atom feature rows for {} atoms", atom_features.rows(), num_atoms());
  if (edge_features.rows() != num_edges()) fail("molecule set: {} edge feature rows for {} edges", edge_features.rows(), num_edges());
  if (static_cast<int64_t>(edge_row_ptr.size()) != num_atoms() + 1)
    fail("molecule set: edge_row_ptr has {} entries for {} atoms", edge_row_ptr.size(), num_atoms());
  if (static_cast<int64_t>(edge_src.size()) != num_edges()) fail("molecule set: {} edge sources for {} edges", edge_src.size(), num_edges());
  if (labels.rows() != m) fail("molecule set: {} label rows for {} molecules", labels.rows(), m);
  if (static_cast<int64_t>(ids.size()) != m) fail("molecule set: {} ids for {} molecules", ids.size(), m);
  for (int64_t i = 0; i < m; ++i) {
    const int64_t a0 = atom_offsets[i], a1 = atom_offsets[i + 1];
    if (a1 < a0 || edge_offsets[i + 1] < edge_offsets[i]) fail("molecule set: offsets decrease at molecule {}", i);
    if (edge_row_ptr[a0] != edge_offsets[i] || edge_row_ptr[a1] != edge_offsets[i + 1])
      fail("molecule set: molecule {} edges [{}, {}) disagree with its atoms' CSR [{}, {})", i, edge_offsets[i],
           edge_offsets[i + 1], edge_row_ptr[a0], edge_row_ptr[a1]);
    for (int64_t a = a0; a < a1; ++a)
      if (edge_row_ptr[a + 1] < edge_row_ptr[a]) fail("molecule set: edge_row_ptr decreases at atom {}", a);
    for (int64_t e = edge_offsets[i]; e < edge_offsets[i + 1]; ++e)
      if (edge_src[e] < 0 || edge_src[e] >= a1 - a0)
        fail("molecule set: edge {} of molecule {} has source {} outside its {} atoms", e, i, edge_src[e], a1 - a0);
  }
}

MoleculeSet MoleculeSet::subset(std::span<const int64_t> positions) const {
  MoleculeSet out;
  int64_t na = 0, ne = 0;
  for (int64_t p : positions) {
    na += atoms_of(p);
    ne += edges_of(p);
  }
  out.atom_offsets.reserve(positions.size() + 1);
  out.edge_offsets.reserve(positions.size() + 1);
  out.edge_row_ptr.reserve(static_cast<size_t>(na) + 1);
  out.edge_src.reserve(static_cast<size_t>(ne));
  out.atom_features.resize(na, atom_features.cols());
  out.edge_features.resize(ne, edge_features.cols());
  out.labels.resize(static_cast<int64_t>(positions.size()), labels.cols());
  int64_t a_base = 0, e_base = 0, row = 0;
  for (int64_t p : positions) {
    const int64_t a0 = atom_offsets[p], a1 = atom_offsets[p + 1];
    const int64_t e0 = edge_offsets[p], e1 = edge_offsets[p + 1];
    out.atom_features.middleRows(a_base, a1 - a0) = atom_features.middleRows(a0, a1 - a0);
    out.edge_features.middleRows(e_base, e1 - e0) = edge_features.middleRows(e0, e1 - e0);
    for (int64_t a = a0; a < a1; ++a) out.edge_row_ptr.push_back(edge_row_ptr[a + 1] - e0 + e_base);
    out.edge_src.insert(out.edge_src.end(), edge_src.begin() + e0, edge_src.begin() + e1);
    a_base += a1 - a0;
    e_base += e1 - e0;
    out.atom_offsets.push_back(a_base);
    out.edge_offsets.push_back(e_base);
    out.labels.row(row++) = labels.row(p);
    out.ids.push_back(ids[p]);
  }
  return out;
}

GraphBatch collate(const MoleculeSet& set, std::span<const int64_t> positions, std::span<const int> atom_columns,
                   std::span<const int> bond_columns) {
  GraphBatch b;
  b.num_graphs = static_cast<int64_t>(positions.size());
  int64_t na = 0, ne = 0;
  for (int64_t p : positions) {
    na += set.atoms_of(p);
    ne += set.edges_of(p);
  }
  b.num_nodes = na;
  b.atom_categories.resize(na, static_cast<int64_t>(atom_columns.size()));
  b.edge_categories.resize(ne, static_cast<int64_t>(bond_columns.size()));
  auto adjacency = std::make_shared<Csr>();
  adjacency->num_rows = adjacency->num_cols = na;
  adjacency->row_ptr.resize(static_cast<size_t>(na) + 1);
  adjacency->col.resize(static_cast<size_t>(ne));
  auto offsets = std::make_shared<std::vector<int64_t>>();
  offsets->reserve(positions.size() + 1);
  offsets->push_back(0);
  auto labels = std::make_shared<MatF>(b.num_graphs, set.labels.cols());
  b.ids.reserve(positions.size());

  int64_t a_base = 0, e_base = 0;
  adjacency->row_ptr[0] = 0;
  for (size_t g = 0; g < positions.size(); ++g) {
    const int64_t p = positions[g];
    const int64_t a0 = set.atom_offsets[p], a1 = set.atom_offsets[p + 1];
    const int64_t e0 = set.edge_offsets[p], e1 = set.edge_offsets[p + 1];
    for (int64_t a = a0; a < a1; ++a) {
      const int64_t local = a_base + (a - a0);
      for (size_t c = 0; c < atom_columns.size(); ++c) b.atom_categories(local, c) = set.atom_features(a, atom_columns[c]);
      adjacency->row_ptr[local + 1] = set.edge_row_ptr[a + 1] - e0 + e_base;
    }
    for (int64_t e = e0; e < e1; ++e) {
      const int64_t local = e_base + (e - e0);
      adjacency->col[local] = static_cast<VertexId>(a_base + set.edge_src[e]);
      for (size_t c = 0; c < bond_columns.size(); ++c) b.edge_categories(local, c) = set.edge_features(e, bond_columns[c]);
    }
    a_base += a1 - a0;
    e_base += e1 - e0;
    offsets->push_back(a_base);
    labels->row(static_cast<int64_t>(g)) = set.labels.row(p);
    b.ids.push_back(set.ids[p]);
  }
  b.adjacency = std::move(adjacency);
  b.graph_offsets = std::move(offsets);
  b.labels = std::move(labels);
  return b;
}

}  // namespace relfm
