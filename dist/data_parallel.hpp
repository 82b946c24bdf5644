// Data parallelism over replicated parameters: broadcast at start, gradient all-reduce every step.
//
// Gradients are summed through preallocated buckets of at most `bucket_bytes` (4 MB by default: large
// enough to amortise MPI latency, small enough to stay in the shared-memory transport's sweet spot and
// never to trigger per-call allocation inside MPI). Buffers are touched once at construction, so no
// step pays first-touch page faults.
#pragma once

#include "dist/comm.hpp"
#include "src/nn/param_store.hpp"

#include <vector>

namespace relfm::dist {

// Copies the trainable tensors (and, with include_buffers, the buffers too) from `root` to all ranks.
// Buffers are left out when resuming: each rank then holds its own BatchNorm statistics.
void broadcast_parameters(const Comm& comm, ParamStore<float>& store, int root = 0, bool include_buffers = true);

// Replaces every non-trainable tensor (BatchNorm running statistics) by its mean over the ranks. Each
// rank's running statistics follow its own local batches; averaging them before evaluation and
// checkpoints makes all replicas identical again (and uses every rank's data, unlike DDP's broadcast).
void average_buffers(const Comm& comm, ParamStore<float>& store);

// FNV-1a hash of every tensor's bytes; equal on all ranks when replicas agree bit for bit.
uint64_t parameter_fingerprint(const ParamStore<float>& store);

class GradientAllReducer {
 public:
  GradientAllReducer(const Comm& comm, std::vector<Parameter<float>*> params, size_t bucket_bytes = 4u << 20);

  // grad <- scale * sum over ranks of grad, for every parameter; a missing gradient counts as zero
  // and is present afterwards, so all replicas apply the same optimiser update.
  void allreduce(float scale = 1.0f);

  size_t bucket_floats() const { return bucket_.size(); }
  int64_t num_buckets() const { return num_buckets_; }
  double total_seconds() const { return seconds_; }  // time spent in allreduce() so far

 private:
  const Comm& comm_;
  std::vector<Parameter<float>*> params_;
  std::vector<float> bucket_;
  int64_t num_buckets_ = 0;
  double seconds_ = 0.0;
};

}  // namespace relfm::dist
