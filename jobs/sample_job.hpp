// `relfm sample`: BatchSampler (or another batch source) for other frameworks. Reads instance embeddings
// of any modality from HDF5 (N x d, e.g. exported by a PyTorch encoder), builds the proximity graph
// across the ranks, draws the batches of some epochs and writes them (io/batches.hpp) for a training loop
// elsewhere; examples/relfm_batch_sampler.py feeds them to a PyTorch DataLoader.
#pragma once

#include "dist/comm.hpp"

#include <cstdint>
#include <string>

namespace relfm::jobs {

struct SampleOptions {
  std::string embeddings;              // HDF5 file
  std::string dataset = "embeddings";  // its N x d dataset
  std::string labels;                  // optional: an integer [N] dataset in the same file (for hardness)
  std::string out;
  std::string kind = "batchsampler";
  int64_t batch_size = 256;
  int64_t epochs = 1;
  int64_t candidates = 1000;
  int64_t neighbours = 100;
  double restart = 0.2;
  bool fixed_restart = false;
  std::string epoch_mode = "official";
  std::string walk_engine = "auto";
  uint64_t seed = 0;
  bool write_graph = false;
};

int run_sample(const dist::Comm& comm, const SampleOptions& options);

}  // namespace relfm::jobs
