// The second runner on the job-kind registry, for work that is not epochs: a list of work items
// (problems, queries) processed in parallel over ranks, each finished item recorded durably, so that a
// stopped or killed run resumes without redoing any finished item — on any number of ranks.
//
// Durability: each rank appends one JSON line per finished item to its own journal in
// output.dir/items/ and fsyncs it before the item counts as done. A kill can tear only the last line of a
// journal; a torn line does not parse and its item is simply done again. On start every rank reads every
// journal in the directory (whatever rank count wrote it), and the items not yet recorded are dealt
// round-robin over this run's ranks. An item recorded twice (two runs racing on one directory) keeps
// its first record.
//
// Scheduling: each rank works on its share with items_at_once() worker threads, each starting its next
// item as soon as it finishes one (no item waits for a slower one). Every 100 ms (or sooner, when an item
// finishes) the ranks agree: one all-reduce carries each rank's stop flag, error flag and work left, so a
// signal or a failure on any rank stops all of them together with that rank's message (the items in flight
// finish and are journalled first), and nothing hangs; then, when the ranks' unstarted shares differ by
// two or more, the unstarted items are gathered and dealt again, so a rank whose items were cheap takes
// over part of a slower rank's instead of idling. Which rank runs an item changes nothing in its record
// (process() is rank-independent). After the last item (or a stop) rank 0 gathers every record into
// results.h5 (layout below), rewritten atomically, so the file always matches the journals.
//
// Results (format "relfm.work_results", format_version 1):
//   /              attributes: format, format_version, job, job_kind, world_size, num_items, items_done,
//                  complete (0/1), then the job's summary numbers and descriptive attributes, cpu, and
//                  gemm_backend, gemm_kernel, gemm_key, gemm_how for a kind that uses the GEMM (not tp)
//   /config        scalar string: the effective configuration
//   /items/item    int64 [n]    item index, ascending (only finished items)
//   /items/<field> float64 [n]  every numeric field of the records (NaN where an item lacks it)
//   /items/<field>.chars uint8, /items/<field>.offsets int64 [n+1]   every text field: item k's text is
//                  chars[offsets[k]:offsets[k+1]] (UTF-8); fields named "_..." are left to the job's
//                  write_tables, which may add its own groups (the tp job's /calls)
#pragma once

#include "dist/comm.hpp"
#include "jobs/config.hpp"
#include "io/h5.hpp"
#include "jobs/trainer.hpp"

#include <map>
#include <string>
#include <vector>

namespace relfm::jobs {

// What a finished item leaves behind: named numbers and texts.
struct ItemRecord {
  std::map<std::string, double> numbers;
  std::map<std::string, std::string> texts;
};

class WorkItemJob {
 public:
  virtual ~WorkItemJob() = default;
  // Once: read and validate inputs (collective; errors through comm.collective).
  virtual void setup(const dist::Comm& comm, const JobConfig& config) = 0;
  virtual int64_t num_items() const = 0;
  virtual std::string item_unit() const { return "items"; }
  // Rank-local and independent of which rank runs it. Throwing stops the whole run (all ranks, one
  // message); a failure that belongs to the item (an unparsable reply) is a field of its record instead.
  virtual ItemRecord process(int64_t item) = 0;
  // How many items a rank works on at once (the same on every rank): process() is called from that many
  // worker threads at once for different items, so above 1 it must be thread-safe; for jobs that wait on
  // something else (an LLM server), not for compute, which has its one thread per rank.
  virtual int64_t items_at_once() const { return 1; }
  // Summary numbers over every finished record (rank 0; stored as results attributes and printed).
  virtual std::map<std::string, double> summarize(const std::map<int64_t, ItemRecord>& records) const = 0;
  virtual std::map<std::string, std::string> attrs() const { return {}; }
  // Optional: more datasets beside /items, written by rank 0 into the same results file (e.g. one row per
  // LLM call). Text fields whose names start with "_" stay in the journals for this hook and are not
  // written to /items.
  virtual void write_tables(h5::File& f, const std::map<int64_t, ItemRecord>& records) const {}
  // Optional: what this run did, as opposed to what it found (e.g. HTTP requests, cache hits). Summed over
  // the ranks and logged at the end, never written to the results: a rerun that finds the same things by
  // another route (a warm cache) writes the same results file.
  virtual std::map<std::string, double> run_counters() const { return {}; }
};

// The shared keys of every work-item job.
std::vector<KeySpec> work_item_keys();

int run_work_items(const dist::Comm& comm, const JobConfig& config, const RunOptions& options, WorkItemJob& job);

inline constexpr const char* kWorkResultsFormat = "relfm.work_results";
inline constexpr int64_t kWorkResultsFormatVersion = 1;
// `relfm inspect` summary of a work-results file (rank-local printing).
void inspect_work_results(const h5::File& f);

// Reads every journal under `dir` (rank-local): item -> first record; torn lines are skipped.
std::map<int64_t, ItemRecord> read_journals(const std::string& dir);

}  // namespace relfm::jobs
