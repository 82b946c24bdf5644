// The results history (every run's series, tables and summary so far) inside a checkpoint's "trainer"
// section, so that a resumed job writes the results file an uninterrupted one would (jobs/trainer.cpp).
#pragma once

#include "io/checkpoint.hpp"
#include "io/results.hpp"
#include "jobs/trainer.hpp"

namespace relfm::jobs {

void save_history(const ResultsDocument& doc, StateSection& st);
// Replaces doc.seeds with the records `st` holds.
void load_history(const StateSection& st, ResultsDocument& doc);

// Records in a run's attributes what it trains on in this process (`environment`: the CPU and the GEMM
// key, run_environment_attrs). A run that goes on elsewhere (resumed on another machine, or kept from a
// results file written on one) lists each distinct value in the order it met them, "; "-separated, so a
// results file whose runs came from several machines says which ran where (its root attributes describe
// only the session that wrote it last).
void note_run_environment(SeedResults& run, const std::map<std::string, std::string>& environment);
// Appends `value` to a "; "-separated list unless the list already holds it.
void append_distinct(std::string& list, const std::string& value);

// A job resumed without its checkpoint (deleted, lost with a scratch directory, or never copied back)
// keeps the completed runs that results.h5 records, when its runs depend only on their seeds: on the same
// machine, GEMM kernel (select_gemm reads it from the results) and rank count they are the runs the job
// would repeat bit for bit. As on a checkpoint resume, only the keys that block a resume must match (an
// evaluation setting that may change applies to the new runs only). Returns how many leading runs were
// kept in `doc` (0 = start afresh). Refuses, rather than overwrite completed runs, when they cannot be kept.
int64_t keep_completed_runs(const dist::Comm& comm, const JobConfig& config, const EpochJob& job,
                            const std::string& results_path, ResultsDocument& doc);
// The steps the runs in `doc` took (the sum of their per-epoch `steps` series), so that runs kept from
// results.h5 leave the job's global step count where an uninterrupted job would have it; -1 when a run
// lacks the series (written before it existed).
int64_t recorded_steps(const ResultsDocument& doc);

}  // namespace relfm::jobs
