// Results of a job: per-seed series of any named metric, per-rank timings, and the summary over seeds by
// the rule the job declares (e.g. the test metric at the epoch with the best validation metric).
// Rewritten atomically after every epoch, so the file on disk always describes the epochs completed so
// far. `relfm inspect` and io/analysis/plot_results.py read any job's results without knowing the job.
//
// Layout (format "relfm.results", format_version 3; version 2 had no /summary/run, run attributes or tables):
//   /                      attributes: format, format_version, job, job_kind, world_size, num_seeds,
//                          seeds_completed, select_series, report_series, higher_is_better (0/1),
//                          summary_mean, summary_std (population std over completed seeds of the report
//                          series at each seed's best epoch, as OGB's examples report), select_mean,
//                          select_std; then the job's own descriptive attributes (e.g. dataset, metric)
//                          and the run's environment (e.g. gemm_backend)
//   /config                scalar string: the job's effective config (TOML)
//   /summary/run           string [S]    each run's label and group name under /seeds: its seed for
//                                        independent seeds ("0", "1"), the job's own names otherwise
//                                        (MolGroup's grouping rounds: "round1", ...)
//   /summary/seed          int64 [S]     the runs' seeds, in run order
//   /summary/best_epoch    int64 [S]     1-based epoch with the best select series (0 = none yet)
//   /summary/best_select   float64 [S]   the select series there
//   /summary/report_at_best float64 [S]  the report series there: the reported number
//   /summary/completed     int64 [S]     1 when all epochs of the seed ran
//   /seeds/<run>/epoch     int64 [E]     1-based
//   /seeds/<run>/<name>    float64 [E]   every per-epoch series (train_loss, valid_rocauc, ...)
//                          float64 [E, P] every per-rank series (rank_train_seconds, ...); P is the
//                                         largest rank count of the run (NaN for ranks an epoch lacked:
//                                         a run resumed on another number of ranks)
//                          int64 [P]      every per-rank count (rank_molecules, ...)
//                          float64 [R, C] every table of the job (rows appended epoch by epoch, e.g. one
//                                         per step), attribute `columns` (string [C]) and dataset
//                                         `<name>_epoch` int64 [R] (the epoch of each row)
//   /seeds/<run>           attributes best_epoch, best_select, report_at_best, completed, seed, where the
//                          run trained (cpu, gemm_key, gemm_kernel: each value the run met, in order,
//                          "; "-separated, when it was resumed elsewhere), and what the job concluded
//                          from the run (e.g. a grouping round's survivors)
#pragma once

#include "io/h5.hpp"

#include <map>
#include <string>
#include <vector>

namespace relfm {

inline constexpr const char* kResultsFormat = "relfm.results";
inline constexpr int64_t kResultsFormatVersion = 3;

// Which epoch of a seed counts, and what is reported for it.
struct SummaryRule {
  std::string select;   // series that picks the epoch, e.g. "valid_rocauc"
  std::string report;   // series reported at that epoch, e.g. "test_rocauc"
  bool higher_is_better = true;
};

// Rows of named columns, appended as a run goes (NaN = no value).
struct ResultsTable {
  std::vector<std::string> columns;
  std::vector<double> values;     // row-major [rows, columns.size()]
  std::vector<int64_t> epochs;    // the epoch (1-based) of each row
  int64_t rows() const { return static_cast<int64_t>(epochs.size()); }
};

struct SeedResults {
  int64_t seed = 0;
  std::string label;  // the group name (empty = the seed)
  bool completed = false;
  std::vector<int64_t> epoch;
  std::map<std::string, std::vector<double>> series;        // [E]
  std::map<std::string, std::vector<double>> rank_series;   // row-major [E, P]
  std::map<std::string, std::vector<int64_t>> rank_counts;  // [P]
  int64_t best_epoch = 0;  // 1-based; 0 = none yet
  double best_select = 0.0;
  double report_at_best = 0.0;
  std::map<std::string, ResultsTable> tables;
  std::map<std::string, std::string> attrs;  // what the job concluded from the run

  std::string name() const { return label.empty() ? std::to_string(seed) : label; }
  // Appends epoch `number`'s rows of a table (same columns every time).
  void add_table_rows(const std::string& table, int64_t number, const ResultsTable& rows);
  // Appends epoch `number`'s values and moves the best epoch by `rule` (a NaN select value never wins).
  void add_epoch(int64_t number, const std::map<std::string, double>& values,
                 const std::map<std::string, std::vector<double>>& per_rank, const SummaryRule& rule);
};

struct ResultsDocument {
  std::string job;
  std::string job_kind;
  int64_t world_size = 1;
  std::string config;
  SummaryRule rule;
  std::map<std::string, std::string> attrs;        // the job's and the run's descriptive attributes
  std::map<std::string, double> number_attrs;      // numeric root attributes a job adds (read back as written:
  std::map<std::string, int64_t> integer_attrs;    // integers stay integers, so a merge copies them unchanged)
  std::vector<SeedResults> seeds;
};

struct SummaryStats {
  double mean = 0.0, std = 0.0;
  int64_t count = 0;
};
SummaryStats summarize(const std::vector<double>& values);  // population std
// The report values at the best epoch of every completed seed.
SummaryStats summarize_report(const ResultsDocument& doc);

// Collective; rank 0 writes its document (atomically, through h5::write_on_root).
void write_results(const std::string& path, const dist::Comm& comm, const ResultsDocument& doc);

// The whole document back from a results file (every rank reads it), e.g. to keep a job's completed runs
// when it is resumed without a checkpoint. Series are told apart by their stored shape and type: float64
// [E] per-epoch, float64 [E, P] per-rank, int64 [P] per-rank counts, float64 [R, C] with `columns` tables.
ResultsDocument read_results(const h5::File& f);

// `relfm inspect` summary of a results file (rank-local printing).
void inspect_results(const h5::File& f);

}  // namespace relfm
