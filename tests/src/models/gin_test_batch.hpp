// The small labelled batch the GIN gradient tests share: four molecules from SMILES, two tasks with one
// label missing, "simple" features (atomic number + chirality, bond type + stereo).
#pragma once

#include "src/graph/molecules.hpp"
#include "src/mol/molecule_set_builder.hpp"

#include <array>
#include <cmath>
#include <vector>

namespace relfm::test {

inline GraphBatch four_molecule_batch(const std::array<const char*, 4>& smiles) {
  std::vector<MolGraph> graphs;
  for (const char* s : smiles) graphs.push_back(*smiles_to_graph(s));
  MatF labels(4, 2);
  labels << 1, 0, 0, std::nanf(""), 1, 1, 0, 1;
  const MoleculeSet set = build_molecule_set(graphs, labels);
  const std::vector<int64_t> all{0, 1, 2, 3};
  const std::vector<int> acols{0, 1}, bcols{0, 1};
  return collate(set, all, acols, bcols);
}

}  // namespace relfm::test
