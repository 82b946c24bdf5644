// The main job: a GIN on a molecule shard, data-parallel over MPI ranks, several seeds, reporting the
// test score at the best validation epoch (MolGroup's "only-target" protocol, research/molgroup.md §1.6).
//
// Data parallelism: METIS splits each split's molecules over the ranks with balanced atoms and molecule
// counts. Every epoch visits the training molecules in a global order keyed by (seed, epoch); each rank
// walks its own molecules in that order, cut into ceil(train / batch_size) local batches of equal atom
// counts, so every step costs every rank the same. A step's loss is the mean over the labelled entries
// of the global batch (the per-rank sums are all-reduced with the global count as normaliser), so the
// gradient equals the single-process gradient of the same global batch, up to BatchNorm, whose
// statistics are per rank (as PyTorch DDP without SyncBN).
#pragma once

#include "dist/comm.hpp"
#include "jobs/config.hpp"

#include <string>

namespace relfm::jobs {

const Schema& train_schema();

enum class ResumeMode { kAuto, kNever, kRequire };

struct TrainOptions {
  ResumeMode resume = ResumeMode::kAuto;
  bool quiet = false;
};

// Returns the process exit code (0, or dist::kExitCheckpointed after a stop signal).
int run_train(const dist::Comm& comm, const JobConfig& config, const TrainOptions& options);

struct EvalOptions {
  std::string checkpoint;
  std::string shard;        // empty = the shard named in the checkpoint's config
  std::string split = "test";  // train | valid | test
  std::string predictions;  // optional output file, layout below
};
// Predictions file (format "relfm.predictions", format_version 1), rows stacked rank by rank:
//   /            attributes: format, format_version, dataset, split, metric, value (the split's score),
//                checkpoint (path it came from)
//   /ids         int64 [n]        shard row of each molecule
//   /predictions float32 [n, T]   logits (classification) or values (regression)
//   /labels      float32 [n, T]   NaN = missing

// `relfm eval`: restores a checkpoint's model and scores one split of a shard.
int run_eval(const dist::Comm& comm, const EvalOptions& options);

}  // namespace relfm::jobs
