// Rank 0's view of training progress: a redrawn bar with throughput and ETA on a terminal, one line per
// epoch in batch logs, or nothing (quiet). Redraws are throttled to a few per second.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace relfm::jobs {

enum class ProgressMode { kBar, kLines, kNone };
ProgressMode parse_progress_mode(const std::string& name, bool is_root, bool stderr_is_terminal);

class Progress {
 public:
  // total_epochs per seed; total_runs = seeds (the job's ETA counts every epoch still to run).
  Progress(ProgressMode mode, int64_t total_epochs, int64_t total_runs = 1)
      : mode_(mode), total_epochs_(total_epochs), epochs_left_(total_epochs * total_runs) {}
  // Epochs already done before this process started (resume), so the job ETA stays right.
  void set_epochs_left(int64_t left) { epochs_left_ = left; }
  void begin_epoch(const std::string& run, int64_t epoch, int64_t steps, int64_t molecules_per_epoch);
  void update(int64_t step_done, int64_t molecules_done, double loss);
  // Prints the epoch's summary line (bar and lines modes).
  void end_epoch(const std::string& summary);
  void message(const std::string& text);  // a line of its own, any mode except none

 private:
  void draw(bool final_draw);
  ProgressMode mode_;
  int64_t total_epochs_;
  std::string run_;
  int64_t epoch_ = 0, steps_ = 0, step_ = 0, molecules_ = 0, molecules_total_ = 0;
  double loss_ = 0.0;
  int64_t epochs_left_ = 0, epochs_timed_ = 0;
  double epoch_seconds_total_ = 0.0;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace relfm::jobs
