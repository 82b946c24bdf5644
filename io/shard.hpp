// Molecule shards: one HDF5 file per data set, written collectively by `relfm shard`.
//
// Layout (format "relfm.molecule_shard", format_version 1). M molecules, A atoms, E directed edges
// (two per bond), T tasks. Molecules are in source-file order, minus rows whose SMILES failed to parse.
//
//   /                          attributes: format, format_version, dataset, task_type ("classification"
//                              | "regression"), metric ("rocauc" | "ap" | "rmse" | "mae"), source_file,
//                              source_sha256, featurization ("ogb"), split_method ("ogb-official" |
//                              "scaffold"), num_molecules, num_atoms, num_edges, num_tasks, num_skipped,
//                              created_by
//   /config                    scalar string: the command that produced the file, as TOML
//   /labels                    float32 [M, T], NaN = missing; attribute task_names (string array)
//   /smiles/chars              uint8 [total characters]; /smiles/offsets int64 [M + 1]
//   /source_line               int64 [M]   1-based line of each molecule in the source CSV
//   /graph/atom_offsets        int64 [M + 1]  atoms of molecule m: [atom_offsets[m], atom_offsets[m+1])
//   /graph/atom_features       uint8 [A, 9]   OGB atom features (atomic number - 1, chirality, degree,
//                                            formal charge, Hs, radicals, hybridisation, aromatic, ring)
//   /graph/edge_offsets        int64 [M + 1]  directed edges of molecule m
//   /graph/edge_row_ptr        int64 [A + 1]  CSR by destination: edges into atom a are
//                                            [edge_row_ptr[a], edge_row_ptr[a+1]) (global edge ids)
//   /graph/edge_src            int32 [E]      source atom of each edge, local to its molecule
//   /graph/edge_features       uint8 [E, 3]   OGB bond features (type, stereo, conjugated)
//   /split/train, /split/valid, /split/test   int64, sorted molecule indices
//   /skipped/source_line       int64 [num_skipped]  CSV lines whose SMILES RDKit rejected
#pragma once

#include "io/h5.hpp"
#include "src/graph/molecules.hpp"

#include <string>
#include <vector>

namespace relfm {

inline constexpr const char* kShardFormat = "relfm.molecule_shard";
inline constexpr int64_t kShardFormatVersion = 1;

struct ShardInfo {
  std::string dataset;
  std::string task_type;
  std::string metric;
  std::string source_file;
  std::string source_sha256;
  std::string featurization = "ogb";
  std::string split_method;
  std::string config;
  std::vector<std::string> task_names;
  std::vector<int64_t> skipped_lines;
  int64_t num_molecules = 0;
  int64_t num_atoms = 0;
  int64_t num_edges = 0;
};

struct ShardSplit {
  std::vector<int64_t> train, valid, test;
};

// Collective. Each rank passes a contiguous block of molecules; blocks are stacked in rank order.
// `local.ids` are ignored (rows are numbered by position in the file).
void write_molecule_shard(const std::string& path, const dist::Comm& comm, const MoleculeSet& local,
                          const std::vector<std::string>& local_smiles, const std::vector<int64_t>& local_lines,
                          const ShardInfo& info, const ShardSplit& split);

struct MoleculeShard {
  ShardInfo info;
  ShardSplit split;
  MoleculeSet molecules;            // all molecules; ids = row indices
  std::vector<std::string> smiles;  // empty unless requested
};

// Collective; every rank gets the whole shard. Structural problems are InputErrors naming the file.
MoleculeShard read_molecule_shard(const std::string& path, const dist::Comm& comm, bool with_smiles = false);

// `relfm inspect` summary of a shard (rank-local printing).
void inspect_shard(const h5::File& f);

}  // namespace relfm
