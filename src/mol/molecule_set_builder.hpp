// Turns featurised molecules (MolGraph, bonds stored once) into the flat MoleculeSet layout of shards
// and batches (both directions of every bond, grouped by destination atom).
#pragma once

#include "src/graph/molecules.hpp"
#include "src/mol/featurize.hpp"

#include <vector>

namespace relfm {

// labels: one row per graph (graphs.size() x tasks). ids are 0..n-1.
MoleculeSet build_molecule_set(const std::vector<MolGraph>& graphs, const MatF& labels);

}  // namespace relfm
