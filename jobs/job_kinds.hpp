// The registry of job kinds. `job.kind` in a job file picks one (default `gin`, so job files written
// before kinds existed stay valid). A kind declares its own keys on top of the shared ones (job.*, and
// the epoch trainer's train loop, output, checkpoint and debug keys) and how to make the job; adding a
// kind is one driver file that calls RELFM_REGISTER_JOB_KIND, listed in jobs/CMakeLists.txt.
#pragma once

#include "dist/comm.hpp"
#include "jobs/config.hpp"
#include "jobs/trainer.hpp"
#include "jobs/work_items.hpp"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace relfm::jobs {

struct EvalOptions {
  std::string checkpoint;
  std::string shard;           // empty = the data named in the checkpoint's config
  std::string split = "test";  // train | valid | test
  std::string predictions;     // optional output file
};

struct JobKind {
  std::string name;
  std::string doc;  // one line for `relfm config --reference`
  std::function<std::vector<KeySpec>()> keys;
  // Epoch jobs run on the Trainer (jobs/trainer.hpp).
  std::function<std::unique_ptr<EpochJob>()> make_epoch_job = {};
  // Work-item jobs run on the work-item runner (jobs/work_items.hpp). A kind has exactly one of the two.
  std::function<std::unique_ptr<WorkItemJob>()> make_work_job = {};
  // Optional: `relfm eval` of this kind's checkpoints.
  std::function<int(const dist::Comm&, const JobConfig&, const EvalOptions&)> eval = {};
  // False for a kind that multiplies no matrices (tp: LLM calls): relfm then neither times the GEMM
  // backends at start-up nor selects one, and its results carry no gemm_* attributes. They would only
  // record which of two close backends won a timing race, and a rerun over a warm cache must reproduce
  // the results file byte for byte.
  bool uses_gemm = true;
};

// Adds a kind (at static initialisation); returns true so that it can initialise a static.
bool register_job_kind(JobKind kind);
#define RELFM_REGISTER_JOB_KIND(...) \
  static const bool relfm_job_kind_registered_ = ::relfm::jobs::register_job_kind(__VA_ARGS__)

std::vector<std::string> job_kind_names();
const JobKind& job_kind(const std::string& name);  // an InputError naming the choices if unknown
// The full schema of a kind: the shared keys, the trainer's, then the kind's own (built once, kept).
const Schema& job_schema(const std::string& kind);

// job.kind of a job file (the last --set job.kind=... wins); InputError naming the line when it is wrong.
std::string peek_job_kind(const std::string& text, const std::string& source, const std::vector<std::string>& overrides);

// Reads a job file: finds job.kind (file or --set), then validates everything against that kind's schema.
JobConfig load_job_config(const std::string& path, const std::vector<std::string>& overrides);
JobConfig parse_job_config(const std::string& text, const std::string& source, const std::vector<std::string>& overrides);

// Runs the job the configuration describes.
int run_job(const dist::Comm& comm, const JobConfig& config, const RunOptions& options);

// Picks the GEMM backend all ranks run (dist/gemm_select.hpp) from compute.gemm (RELFM_GEMM wins when
// set). With `auto` and a checkpoint to resume from, the backend that wrote the checkpoint is asked for
// again, because float rounding depends on the kernel and a resumed run must continue bit-identically;
// without a checkpoint, the one recorded in `results_path` (whose completed runs the trainer keeps) when
// it was this CPU. Empty paths: nothing to resume. Rank 0 logs the choice.
void select_gemm(const dist::Comm& comm, const JobConfig& config, const std::string& checkpoint_path,
                 const std::string& results_path = std::string());

// What this process runs on, recorded in every results file and checkpoint: the CPU, and the GEMM backend
// and kernel unless `with_gemm` is false (a kind that uses none, JobKind::uses_gemm).
std::map<std::string, std::string> run_environment_attrs(bool with_gemm = true);
// "model name (family F model M)" of this machine's CPU, from /proc/cpuinfo ("unknown" without it).
std::string cpu_description();

// For the kinds' eval functions. --split names train, valid or test (else an InputError on every rank):
void check_eval_split(const dist::Comm& comm, const EvalOptions& options);
// The model a checkpoint holds, in `job`: set up on `config`, built for `seed` (whose initialisation the
// checkpoint's parameters replace), loaded.
void load_job_for_eval(const dist::Comm& comm, const JobConfig& config, EpochJob& job, const std::string& checkpoint,
                       uint64_t seed = 0);

}  // namespace relfm::jobs
