// Batches from communities of the proximity graph (the idea of B3, research/batchsampler.md §5): the
// graph is cut into about N/B parts of mutually similar instances (METIS, dist::partition_graph, which
// symmetrises the directed kNN-style graph), and each part is one batch. An epoch visits every part once,
// in an order drawn from (seed, epoch); each instance is in exactly one batch per epoch. Part sizes are B
// within METIS's balance tolerance, not exactly B.
#pragma once

#include "src/core/rng.hpp"
#include "src/core/types.hpp"
#include "src/graph/csr.hpp"

#include <cstdint>
#include <vector>

namespace relfm::sampler {

// The number of communities for batches of about `batch_size` out of n instances (at least 1).
int community_count(int64_t n, int64_t batch_size);

class CommunityBatches {
 public:
  // part[v] in [0, parts): the community of instance v.
  CommunityBatches(const std::vector<int32_t>& part, int parts, uint64_t seed);
  void begin_epoch(int64_t epoch);
  bool epoch_done() const { return next_ >= order_.size(); }
  const std::vector<VertexId>& next_batch();  // members in increasing id
  int64_t served() const { return static_cast<int64_t>(next_); }  // batches given this epoch
  int parts() const { return static_cast<int>(members_.size()); }

 private:
  std::vector<std::vector<VertexId>> members_;
  std::vector<int64_t> order_;
  size_t next_ = 0;
  uint64_t seed_;
};

// A neighbour table (rows: instances first.., K columns) as the CSR of the directed graph it describes.
Csr neighbour_table_csr(const IndexMat& table, int64_t num_vertices);

}  // namespace relfm::sampler
