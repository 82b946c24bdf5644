// `relfm merge --out OUT.h5 IN.h5 ...`: the runs of several results files of one job, into one results
// file with the summary over all of them — e.g. the seeds a Slurm array trained side by side
// (slurm/relfm_seeds_array.sbatch writes one output directory per seed).
//
// The inputs must be runs of the same job kind that could have been one job: every key that blocks a
// resume equal (JobConfig::resume_conflicts), the same train.epochs, runs that depend only on their seeds
// (not MolGroup's grouping rounds), and no seed twice. Each run keeps its series, tables and per-rank
// records as written, and says where it trained (cpu, gemm_key, gemm_kernel, from its file when the run
// does not record them itself); runs are ordered by seed. The merged /config is the first input's with
// train.seeds set to the merged seeds, so `relfm train` with that configuration and the merged file as its
// results (no checkpoint) keeps every completed run. Anything else stops with one message naming the file.
#pragma once

#include "dist/comm.hpp"

#include <string>
#include <vector>

namespace relfm::jobs {

struct MergeOptions {
  std::vector<std::string> inputs;
  std::string out;
};

int run_merge(const dist::Comm& comm, const MergeOptions& options);

}  // namespace relfm::jobs
