// METIS partitioning across ranks: of a collection of molecule graphs (below), and of one general graph
// (partition_graph: the proximity graph of BatchSampler, the attention graph of a long sequence).
//
// Molecule sets:
// Each molecule is a vertex carrying two balance constraints, its atom count (the work of message
// passing and of the per-atom matrix products) and 1 (so every rank also gets the same number of
// molecules, hence the same number of steps). Molecules share no edges, so METIS's job is pure
// multi-constraint balancing; with ufactor 1 it lands within 0.1% of perfect on both. The result is a
// pure function of (weights, parts, seed): rank 0 computes it once and broadcasts it.
#pragma once

#include "dist/comm.hpp"
#include "src/graph/csr.hpp"

#include <cstdint>
#include <vector>

namespace relfm::dist {

// part[i] in [0, parts) for each molecule i. parts == 1 gives all zeros.
std::vector<int32_t> partition_molecules(const std::vector<int64_t>& atom_counts, int parts, uint64_t seed);

// The same, computed on rank 0 and broadcast.
std::vector<int32_t> partition_molecules(const Comm& comm, const std::vector<int64_t>& atom_counts, uint64_t seed);

// part[v] in [0, parts) for each vertex of a general graph, minimising the edges cut under a balance
// constraint on vertex_weights (empty: every vertex weighs 1; max part weight <= imbalance_tolerance x
// the mean). `graph` is a square CSR that may be directed and may have self loops and repeated entries:
// METIS needs an undirected graph without self loops, so the edges are symmetrised, with the weight of
// {u, v} the number of entries u->v and v->u, and the cut METIS minimises is the number of entries that
// cross parts (see edge_cut). A pure function of its arguments.
std::vector<int32_t> partition_graph(const Csr& graph, const std::vector<int64_t>& vertex_weights, int parts,
                                     uint64_t seed = 0, double imbalance_tolerance = 1.03);

// The same, computed on rank 0 and broadcast (every rank passes the same graph).
std::vector<int32_t> partition_graph(const Comm& comm, const Csr& graph, const std::vector<int64_t>& vertex_weights,
                                     uint64_t seed = 0, double imbalance_tolerance = 1.03);

// Number of CSR entries (directed edges) whose two ends are in different parts.
int64_t edge_cut(const Csr& graph, const std::vector<int32_t>& part);

// Largest over smallest part weight, for reporting balance (1.0 is perfect).
double imbalance(const std::vector<int32_t>& part, const std::vector<int64_t>& weights, int parts);

}  // namespace relfm::dist
