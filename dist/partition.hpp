// METIS partitioning of a collection of molecule graphs across ranks.
//
// Each molecule is a vertex carrying two balance constraints, its atom count (the work of message
// passing and of the per-atom matrix products) and 1 (so every rank also gets the same number of
// molecules, hence the same number of steps). Molecules share no edges, so METIS's job is pure
// multi-constraint balancing; with ufactor 1 it lands within 0.1% of perfect on both. The result is a
// pure function of (weights, parts, seed): rank 0 computes it once and broadcasts it.
#pragma once

#include "dist/comm.hpp"

#include <cstdint>
#include <vector>

namespace relfm::dist {

// part[i] in [0, parts) for each molecule i. parts == 1 gives all zeros.
std::vector<int32_t> partition_molecules(const std::vector<int64_t>& atom_counts, int parts, uint64_t seed);

// The same, computed on rank 0 and broadcast.
std::vector<int32_t> partition_molecules(const Comm& comm, const std::vector<int64_t>& atom_counts, uint64_t seed);

// Largest over smallest part weight, for reporting balance (1.0 is perfect).
double imbalance(const std::vector<int32_t>& part, const std::vector<int64_t>& weights, int parts);

}  // namespace relfm::dist
