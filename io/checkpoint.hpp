// Checkpoints: everything needed to continue a run bit-identically, as named sections that any job kind
// fills with what it has (parameter stores, optimiser states, sampler/router/queue state as scalars and
// arrays, and per-rank state where it is not replicated).
//
// Layout (format "relfm.checkpoint", format_version 2):
//   /                                  attributes: format, format_version, world_size, job_kind, created_by
//   /config                            scalar string: the job's full effective config (TOML)
//   /sections/<name>                   group; attribute `type` says which of the kinds below it is
//   type "params" (a ParamStore):
//     /sections/<name>/values/<tensor>        float32 [rows, cols], every tensor by its stable name
//     /sections/<name>/rank_buffers/<tensor>  float32 [P, size]: each rank's copy of every non-trainable
//                                             tensor (BatchNorm statistics follow each rank's batches)
//   type "optimizer":
//     attributes name, steps, lr; /sections/<name>/<param>/<slot> float32 (Adam: exp_avg, exp_avg_sq)
//   type "state" (replicated; rank 0's copy is written):
//     attributes: named integers, reals and strings; /sections/<name>/<key> float64 arrays
//   type "rank_state" (one per rank):
//     /sections/<name>/<key> float64 [sum of counts], rank r's values at [offsets[r], offsets[r+1]),
//     /sections/<name>/<key>.counts int64 [P]; read back only on the same number of ranks
// There is no generator state to save: every random draw is a pure function of (seed, purpose, counters),
// and the counters are in a state section.
//
// Version 1 (one model, one optimiser, /state) is refused with a message naming both versions.
// Writes go to <path>.tmp and are renamed into place only when complete, so a job killed while writing
// leaves the previous checkpoint intact.
#pragma once

#include "io/h5.hpp"
#include "src/nn/optim.hpp"

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace relfm {

inline constexpr const char* kCheckpointFormat = "relfm.checkpoint";
inline constexpr int64_t kCheckpointFormatVersion = 2;

// Named scalars and arrays: a trainer's counters and histories, a sampler's position, a queue.
struct StateSection {
  std::map<std::string, int64_t> ints;
  std::map<std::string, double> reals;
  std::map<std::string, std::string> texts;
  std::map<std::string, std::vector<double>> arrays;

  int64_t get_int(const std::string& key) const;
  double get_real(const std::string& key) const;
  const std::string& get_text(const std::string& key) const;
  const std::vector<double>& get_array(const std::string& key) const;
};

struct CheckpointMeta {
  int64_t world_size = 1;
  std::string config;
  std::string job_kind;
  int64_t format_version = kCheckpointFormatVersion;
};

// Collects sections, then writes them in one collective, atomic write. The stores and optimisers must
// outlive write().
class CheckpointWriter {
 public:
  CheckpointWriter(const dist::Comm& comm, CheckpointMeta meta) : comm_(comm), meta_(std::move(meta)) {}
  void add_params(const std::string& section, const ParamStore<float>& store);
  void add_optimizer(const std::string& section, Optimizer<float>& optimizer);
  void add_state(const std::string& section, StateSection state);
  // This rank's own values (arrays may differ in length between ranks).
  void add_rank_state(const std::string& section, StateSection local);
  // `before_commit` (tests only) runs after the data is written and before the rename.
  void write(const std::string& path, const std::function<void()>& before_commit = {});

 private:
  void claim(const std::string& section);
  const dist::Comm& comm_;
  CheckpointMeta meta_;
  std::vector<std::string> order_;
  std::map<std::string, const ParamStore<float>*> params_;
  std::map<std::string, Optimizer<float>*> optimizers_;
  std::map<std::string, StateSection> states_, rank_states_;
};

// Opens a checkpoint (collective) and restores sections on request; every read is collective and fails
// on all ranks together with a message naming the file and section.
class CheckpointReader {
 public:
  CheckpointReader(const std::string& path, const dist::Comm& comm);
  const CheckpointMeta& meta() const { return meta_; }
  const std::string& path() const { return path_; }
  bool has_section(const std::string& section) const;
  // Every tensor of `store` must be in the section with the same shape. Per-rank buffers are restored
  // when the checkpoint was written by as many ranks as are reading it.
  void read_params(const std::string& section, ParamStore<float>& store);
  void read_optimizer(const std::string& section, Optimizer<float>& optimizer);
  StateSection read_state(const std::string& section);
  StateSection read_rank_state(const std::string& section);  // this rank's; same rank count only
  void close();

 private:
  std::string group_of(const std::string& section, const char* type) const;
  std::string path_;
  const dist::Comm& comm_;
  h5::File file_;
  CheckpointMeta meta_;
  std::map<std::string, std::string> section_types_;
};

// `relfm inspect` summary of a checkpoint (rank-local printing).
void inspect_checkpoint(const h5::File& f);

}  // namespace relfm
