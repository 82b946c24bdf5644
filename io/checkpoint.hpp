// Checkpoints: everything needed to continue a run bit-identically.
//
// Layout (format "relfm.checkpoint", format_version 1):
//   /                        attributes: format, format_version, world_size, created_by
//   /config                  scalar string: the job's full effective config (TOML)
//   /params/<name>           float32 [rows, cols], every tensor of the model's ParamStore (weights and
//                            buffers such as BatchNorm running statistics), keyed by its stable name
//   /rank_buffers/<name>     float32 [P, size]: each rank's copy of every non-trainable tensor (BatchNorm
//                            running statistics follow each rank's local batches between epoch ends)
//   /optimizer               attributes: name, steps, lr
//   /optimizer/<name>/<slot> float32, optimiser state per parameter (Adam: exp_avg, exp_avg_sq)
//   /state                   attributes: the trainer's integer and real counters (seed, epoch, step...)
//   /state/<key>             float64 arrays: the trainer's histories (per-epoch metrics so far)
// There is no generator state to save: every random draw is a pure function of (seed, purpose, counters),
// and the counters are in /state.
//
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
inline constexpr int64_t kCheckpointFormatVersion = 1;

// The trainer's own state, as named scalars and arrays.
struct TrainerState {
  std::map<std::string, int64_t> ints;
  std::map<std::string, double> reals;
  std::map<std::string, std::vector<double>> arrays;

  int64_t get_int(const std::string& key) const;
  double get_real(const std::string& key) const;
  const std::vector<double>& get_array(const std::string& key) const;
};

struct CheckpointMeta {
  int64_t world_size = 1;
  std::string config;
};

// Collective. `before_commit` (tests only) runs after the data is written and before the rename.
void write_checkpoint(const std::string& path, const dist::Comm& comm, const ParamStore<float>& params,
                      Optimizer<float>& optimizer, const TrainerState& state, const CheckpointMeta& meta,
                      const std::function<void()>& before_commit = {});

// Collective. Restores parameters and optimiser state in place; every tensor of `params` must be in the
// file with the same shape (else an InputError naming it).
void read_checkpoint(const std::string& path, const dist::Comm& comm, ParamStore<float>& params,
                     Optimizer<float>& optimizer, TrainerState& state, CheckpointMeta& meta);

// Reads only the meta data and trainer state (to decide whether and how to resume).
void read_checkpoint_header(const std::string& path, const dist::Comm& comm, TrainerState& state,
                            CheckpointMeta& meta);

}  // namespace relfm
