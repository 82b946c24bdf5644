#include "src/sampler/community_batches.hpp"

#include "src/core/error.hpp"

#include <algorithm>

namespace relfm::sampler {

int community_count(int64_t n, int64_t batch_size) {
  if (batch_size < 1) fail_input("community batches: batch size {} must be at least 1", batch_size);
  return static_cast<int>(std::max<int64_t>(1, (n + batch_size / 2) / batch_size));
}

CommunityBatches::CommunityBatches(const std::vector<int32_t>& part, int parts, uint64_t seed)
    : members_(static_cast<size_t>(parts)), seed_(seed) {
  for (size_t v = 0; v < part.size(); ++v) {
    RELFM_CHECK(part[v] >= 0 && part[v] < parts, "community batches: part {} of {} for instance {}", part[v], parts, v);
    members_[static_cast<size_t>(part[v])].push_back(static_cast<VertexId>(v));
  }
  // METIS may leave a part empty on a tiny graph: an empty batch is no batch.
  members_.erase(std::remove_if(members_.begin(), members_.end(), [](const auto& m) { return m.empty(); }), members_.end());
}

void CommunityBatches::begin_epoch(int64_t epoch) {
  const CounterRng rng = CounterRng(seed_, RngPurpose::kSampler, 0x434f4d4d).derive(static_cast<uint64_t>(epoch));
  order_ = random_permutation(rng, static_cast<int64_t>(members_.size()));
  next_ = 0;
}

const std::vector<VertexId>& CommunityBatches::next_batch() {
  RELFM_CHECK(!epoch_done(), "community batches: the epoch has no batch left");
  return members_[static_cast<size_t>(order_[next_++])];
}

Csr neighbour_table_csr(const IndexMat& table, int64_t num_vertices) {
  Csr g;
  g.num_rows = table.rows();
  g.num_cols = num_vertices;
  g.row_ptr.resize(static_cast<size_t>(table.rows()) + 1);
  for (int64_t r = 0; r <= table.rows(); ++r) g.row_ptr[r] = r * table.cols();
  g.col.assign(table.data(), table.data() + table.size());
  return g;
}

}  // namespace relfm::sampler
