// The trainer every epoch-based job runs on: seeds x epochs x steps, the deterministic epoch plan, the
// checkpoint cadence, resume (bit-identical to an uninterrupted run), SIGUSR1/SIGTERM stops, the
// divergence stop, progress in the job's own unit, per-epoch results rows, the replica check and the op
// profile. A job supplies only what is its own through EpochJob: its data, model and optimisers, the
// batches of an epoch, one step, the evaluation, and its part of the checkpoint.
//
// One agreement per step: before a step every rank contributes the job's own counts (e.g. labelled
// entries of its slice of the batch), its item count, its stop flag and its error flag to a single
// all-reduce. Every rank therefore knows together whether to stop, whether some rank failed to prepare
// its slice (then all raise that rank's message), and the global counts the loss is normalised by. Every
// rank then takes part in every collective of the step, including ranks with no rows in this batch.
#pragma once

#include "dist/comm.hpp"
#include "io/checkpoint.hpp"
#include "io/results.hpp"
#include "jobs/config.hpp"
#include "jobs/progress.hpp"
#include "src/nn/param_store.hpp"
#include "src/tensor/tape.hpp"

#include <map>
#include <string>
#include <vector>

namespace relfm::jobs {

enum class ResumeMode { kAuto, kNever, kRequire };

struct RunOptions {
  ResumeMode resume = ResumeMode::kAuto;
  bool quiet = false;
};

// What the trainer needs to know about a job to present and summarise it.
struct JobDescription {
  std::string item_unit = "items";  // progress and throughput unit ("molecules", "graphs", "sequences")
  std::string run_unit = "seed";    // what a run is ("seed"; MolGroup's grouping: "round")
  int64_t items_per_epoch = 0;      // global, for the progress bar
  int64_t step_counts = 0;          // how many counts every StepPlan carries
  std::string headline;             // one line for the log: data set, sizes
  SummaryRule rule;                 // the reported number
  std::string summary_label;        // e.g. "test rocauc at the best validation epoch"
  double summary_scale = 1.0;       // printed value = scale * report (100 for ROC-AUC, as papers print it)
  std::map<std::string, std::string> attrs;  // stored in results (dataset, metric, task_type ...)
};

// This rank's part of the step agreement.
struct StepPlan {
  std::vector<int64_t> counts;  // the job's own numbers, summed over ranks
  int64_t items = 0;            // items this rank processes in the step
};

struct StepOutcome {
  bool updated = false;  // a loss was computed and the parameters stepped
  double loss = 0.0;     // the global batch's loss (the same on every rank)
};

struct StepContext {
  uint64_t seed = 0;
  int64_t epoch = 0;        // 0-based
  int64_t step = 0;         // 0-based within the epoch
  int64_t global_step = 0;  // 0-based over the whole job (all seeds)
  // 0-based within this run (seed). Per-step random streams (dropout, augmentations) are keyed by it with
  // the seed, so a seed gives the same run whichever seeds the job ran before it.
  int64_t run_step = 0;
  OpProfile* profile = nullptr;  // non-null when debug.profile is on: pass to tapes
};

// One run of a job: by default one per entry of train.seeds, labelled by its seed.
struct RunSpec {
  uint64_t seed = 0;
  std::string label;  // the run's group in results.h5 (/seeds/<label>)
};

// What a job concluded from a finished run.
struct RunConclusion {
  bool more_runs = true;                         // false ends the job after this run
  std::map<std::string, std::string> run_attrs;  // attributes of the run's results group
  std::map<std::string, std::string> job_attrs;  // attributes of the results file (e.g. the selected group)
};

class EpochJob {
 public:
  virtual ~EpochJob() = default;
  // Once: read and validate data (collective; errors through comm.collective).
  virtual void setup(const dist::Comm& comm, const JobConfig& config) = 0;
  virtual JobDescription describe() const = 0;
  // Per seed: a fresh model and optimisers initialised from `seed`.
  virtual void build(uint64_t seed) = 0;
  // After build (and after restoring a checkpoint when `resumed`): make the replicas consistent.
  virtual void start_seed(bool resumed) = 0;
  // The epoch's batches for this rank; returns the number of steps (the same on every rank).
  virtual int64_t plan_epoch(uint64_t seed, int64_t epoch) = 0;
  // Rank-local preparation of a step (may throw: the trainer turns it into a collective error).
  virtual StepPlan prepare_step(const StepContext& ctx) = 0;
  // Forward, backward, reduction and update, with the summed counts of the agreement.
  virtual StepOutcome run_step(const StepContext& ctx, const std::vector<int64_t>& global_counts) = 0;
  // After the last step of an epoch: the epoch's metrics (the same on every rank), e.g. valid/test scores.
  virtual std::map<std::string, double> evaluate() = 0;
  // Per-rank numbers of this epoch (e.g. time in the gradient all-reduce), gathered into [E, P] series.
  virtual std::map<std::string, double> epoch_rank_stats() { return {}; }
  // Per-rank constants stored with each seed (e.g. molecules owned), gathered into [P].
  virtual std::map<std::string, int64_t> rank_counts() const { return {}; }
  // The tensors that must be bit-identical across ranks (debug.check_replicas); null = none.
  virtual const ParamStore<float>* replicated_params() const { return nullptr; }
  // Checkpoint sections of the job (the trainer adds its own "trainer" section).
  virtual void save(CheckpointWriter& writer) = 0;
  virtual void load(CheckpointReader& reader) = 0;

  // ---- runs that depend on each other (default: independent seeds) ----
  // How many runs at most, and run `index` (0-based). MolGroup's grouping rounds re-initialise the model
  // with the same seed on the data sets the previous round kept.
  virtual int64_t num_runs(const std::vector<int64_t>& seeds) const { return static_cast<int64_t>(seeds.size()); }
  virtual RunSpec run_spec(int64_t index, const std::vector<int64_t>& seeds) const {
    const int64_t seed = seeds.at(static_cast<size_t>(index));
    return {static_cast<uint64_t>(seed), std::to_string(seed)};
  }
  // Whether a run depends only on its seed (not on what earlier runs decided). Then a job whose checkpoint
  // is gone keeps the completed runs recorded in results.h5 and goes on from the first missing one.
  virtual bool runs_independent() const { return true; }
  // After the last epoch of run `index`, before the checkpoint that closes it.
  virtual RunConclusion finish_run(int64_t /*index*/) { return {}; }
  // State that outlives a run (what the runs so far decided): saved in every checkpoint, restored on
  // resume before the first build().
  virtual void save_job_state(StateSection& /*state*/) const {}
  virtual void load_job_state(const StateSection& /*state*/) {}
  // Rows this epoch adds to the run's tables in results.h5 (e.g. one row of gates per step).
  virtual std::map<std::string, ResultsTable> epoch_tables() { return {}; }
};

// The shared keys of every epoch-based job (train loop, output, checkpoint, debug).
std::vector<KeySpec> epoch_trainer_keys();
// The keys of one optimiser group under `prefix` ("train" for the model's): optimizer, lr, weight_decay,
// momentum.
std::vector<KeySpec> optimizer_keys(const std::string& prefix, const std::string& what);

// output.dir and output.progress, shared by both runners; `contents` says what output.dir receives.
std::vector<KeySpec> output_keys(const std::string& contents);
// The optimiser settings of the group under `prefix` (see optimizer_keys).
OptimizerConfig optimizer_config(const JobConfig& config, const std::string& prefix = "train");
// The common checkpoint of a job with one model and one optimiser: sections "model" and "optimizer".
void save_model_sections(CheckpointWriter& writer, const ParamStore<float>& store, Optimizer<float>& optimizer);
void load_model_sections(CheckpointReader& reader, ParamStore<float>& store, Optimizer<float>& optimizer);

// Runs `job` as `config` says; returns the process exit code (0, or dist::kExitCheckpointed after a stop).
int run_epochs(const dist::Comm& comm, const JobConfig& config, const RunOptions& options, EpochJob& job);

}  // namespace relfm::jobs
