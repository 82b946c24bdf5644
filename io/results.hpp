// Results of a training job: per-epoch metrics, per-rank timings, the test score at the best validation
// epoch of every seed, and the summary over seeds. Rewritten atomically after every epoch, so the file
// on disk always describes the epochs completed so far.
//
// Layout (format "relfm.results", format_version 1):
//   /                          attributes: format, format_version, job, dataset, task_type, metric,
//                              higher_is_better (0/1), world_size, num_seeds, seeds_completed,
//                              test_mean, test_std (population std over completed seeds, as OGB's
//                              examples report), valid_mean, valid_std
//   /config                    scalar string: the job's effective config (TOML)
//   /summary/seed              int64 [S]     seeds, in run order
//   /summary/best_epoch        int64 [S]     1-based epoch with the best validation score
//   /summary/best_valid        float64 [S]
//   /summary/test_at_best      float64 [S]   the reported number
//   /summary/completed         int64 [S]     1 when all epochs of the seed ran
//   /seeds/<seed>/epoch        int64 [E]     1-based
//   /seeds/<seed>/train_loss   float64 [E]   mean training loss over the epoch
//   /seeds/<seed>/valid_<metric>, /seeds/<seed>/test_<metric>   float64 [E]
//   /seeds/<seed>/train_seconds, eval_seconds, molecules_per_second   float64 [E]   (rank 0's clock)
//   /seeds/<seed>/rank_train_seconds       float64 [E, P]  time each rank spent in training steps
//   /seeds/<seed>/rank_allreduce_seconds   float64 [E, P]  of which in the gradient all-reduce
//   /seeds/<seed>/rank_molecules, rank_atoms   int64 [P]   training molecules / atoms owned by each rank
#pragma once

#include "io/h5.hpp"

#include <string>
#include <vector>

namespace relfm {

inline constexpr const char* kResultsFormat = "relfm.results";
inline constexpr int64_t kResultsFormatVersion = 1;

struct SeedResults {
  int64_t seed = 0;
  bool completed = false;
  std::vector<int64_t> epoch;
  std::vector<double> train_loss, valid_metric, test_metric;
  std::vector<double> train_seconds, eval_seconds, molecules_per_second;
  std::vector<double> rank_train_seconds;      // row-major [E, P]
  std::vector<double> rank_allreduce_seconds;  // row-major [E, P]
  std::vector<int64_t> rank_molecules, rank_atoms;
  int64_t best_epoch = 0;  // 1-based; 0 = none yet
  double best_valid = 0.0;
  double test_at_best = 0.0;
};

struct ResultsDocument {
  std::string job;
  std::string dataset;
  std::string task_type;
  std::string metric;
  bool higher_is_better = true;
  int64_t world_size = 1;
  std::string config;
  std::vector<SeedResults> seeds;
};

struct SummaryStats {
  double mean = 0.0, std = 0.0;
  int64_t count = 0;
};
SummaryStats summarize(const std::vector<double>& values);  // population std

// Collective; rank 0's document is written (atomically).
void write_results(const std::string& path, const dist::Comm& comm, const ResultsDocument& doc);

}  // namespace relfm
