// What the GIN, MetaGIN and MolGroup tests share: a tiny GIN configuration, a small labelled batch (four
// molecules from SMILES, two tasks with one label missing, "simple" features: atomic number + chirality,
// bond type + stereo) and fixed 0/1 fingerprint blocks for the router.
#pragma once

#include "src/graph/molecules.hpp"
#include "src/models/gin.hpp"
#include "src/mol/molecule_set_builder.hpp"

#include <array>
#include <cmath>
#include <vector>

namespace relfm::test {

// Two layers of width 4 over the "simple" feature tables, two tasks (MetaGin takes its own task counts).
inline GinConfig tiny_gin_config() {
  GinConfig c;
  c.num_layers = 2;
  c.hidden = 4;
  c.dropout = 0.25;
  c.atom_table_sizes = {119, 5};
  c.bond_table_sizes = {5, 6};
  c.num_tasks = 2;
  return c;
}

// A deterministic 0/1 pattern, different per seed, with about 40% of the bits set.
template <typename M = MatD>
M fixed_fingerprints(int64_t rows, int64_t bits, uint64_t seed) {
  M fp(rows, bits);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t b = 0; b < bits; ++b) fp(i, b) = ((i * 7 + b * 3 + static_cast<int64_t>(seed)) % 5 < 2) ? 1 : 0;
  return fp;
}

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
