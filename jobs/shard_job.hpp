// `relfm shard`: CSV of SMILES + labels -> one molecule shard (io/shard.hpp), featurised in parallel
// (each rank parses a contiguous block of rows with RDKit) and written collectively.
#pragma once

#include "dist/comm.hpp"

#include <string>

namespace relfm::jobs {

struct ShardOptions {
  std::string dataset;      // MoleculeNet name (registry), or empty with `csv` set
  std::string csv;          // any CSV: SMILES column + label columns
  std::string data_dir;     // where MoleculeNet files live (default: the repository's data/moleculenet)
  std::string task_type;    // for --csv: classification | regression
  std::string metric;       // for --csv: rocauc | ap | rmse | mae (default from the task type)
  int smiles_column = 0;
  std::string split = "auto";  // auto (official files when they exist, else scaffold) | official | scaffold
  std::string out;
  bool strict = false;      // an unparsable SMILES is an error instead of a skipped row
  bool quiet = false;
};

int run_shard(const dist::Comm& comm, const ShardOptions& options);

}  // namespace relfm::jobs
