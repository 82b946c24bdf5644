#include "src/mol/molecule_set_builder.hpp"

#include "src/core/error.hpp"

namespace relfm {

MoleculeSet build_molecule_set(const std::vector<MolGraph>& graphs, const MatF& labels) {
  RELFM_CHECK(labels.rows() == static_cast<int64_t>(graphs.size()), "{} label rows for {} graphs", labels.rows(), graphs.size());
  MoleculeSet set;
  int64_t atoms = 0, edges = 0;
  for (const auto& g : graphs) {
    atoms += g.num_atoms;
    edges += 2 * static_cast<int64_t>(g.bonds.size());
  }
  set.atom_features.resize(atoms, kOgbAtomFeatureDims.size());
  set.edge_features.resize(edges, kOgbBondFeatureDims.size());
  set.edge_src.reserve(static_cast<size_t>(edges));
  set.edge_row_ptr.reserve(static_cast<size_t>(atoms) + 1);
  set.labels = labels;
  int64_t a_base = 0, e_base = 0;
  for (size_t m = 0; m < graphs.size(); ++m) {
    const MolGraph& g = graphs[m];
    for (int32_t a = 0; a < g.num_atoms; ++a)
      for (size_t f = 0; f < kOgbAtomFeatureDims.size(); ++f) set.atom_features(a_base + a, f) = g.atom_features[a][f];
    // Incoming edges per atom, in bond order (i -> j and j -> i for bond (i, j)).
    std::vector<std::vector<std::pair<int32_t, size_t>>> incoming(static_cast<size_t>(g.num_atoms));
    for (size_t b = 0; b < g.bonds.size(); ++b) {
      const auto [i, j] = g.bonds[b];
      incoming[static_cast<size_t>(j)].push_back({i, b});
      incoming[static_cast<size_t>(i)].push_back({j, b});
    }
    int64_t e = e_base;
    for (int32_t a = 0; a < g.num_atoms; ++a) {
      for (const auto& [src, b] : incoming[static_cast<size_t>(a)]) {
        set.edge_src.push_back(src);
        for (size_t f = 0; f < kOgbBondFeatureDims.size(); ++f) set.edge_features(e, f) = g.bond_features[b][f];
        ++e;
      }
      set.edge_row_ptr.push_back(e);
    }
    a_base += g.num_atoms;
    e_base = e;
    set.atom_offsets.push_back(a_base);
    set.edge_offsets.push_back(e_base);
    set.ids.push_back(static_cast<int64_t>(m));
  }
  return set;
}

}  // namespace relfm
