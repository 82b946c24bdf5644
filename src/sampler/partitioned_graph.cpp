#include "src/sampler/partitioned_graph.hpp"

#include "src/core/error.hpp"

#include <algorithm>
#include <numeric>

namespace relfm::sampler {

int VertexRanges::owner(VertexId v) const {
  return static_cast<int>(std::upper_bound(first.begin(), first.end(), v) - first.begin()) - 1;
}

PartitionedGraph::PartitionedGraph(const Communicator& comm, const Csr& rows, VertexId rows_first,
                                   const std::vector<float>& weights, const std::vector<int32_t>& part) {
  const int ranks = comm.size(), me = comm.rank();
  const auto n = static_cast<VertexId>(part.size());
  const bool weighted = comm.max(static_cast<int>(!weights.empty())) != 0;
  RELFM_CHECK(!weighted || static_cast<int64_t>(weights.size()) == rows.nnz(), "partitioned graph: {} weights, {} edges",
              weights.size(), rows.nnz());
  RELFM_CHECK(comm.sum(rows.num_rows) == n, "partitioned graph: {} rows in all for {} vertices", comm.sum(rows.num_rows), n);

  // New ids: by part, then by original id.
  std::vector<int64_t> sizes(static_cast<size_t>(ranks), 0);
  for (int32_t p : part) {
    RELFM_CHECK(p >= 0 && p < ranks, "partitioned graph: part {} for {} ranks", p, ranks);
    ++sizes[p];
  }
  ranges_.first.assign(static_cast<size_t>(ranks) + 1, 0);
  for (int r = 0; r < ranks; ++r) ranges_.first[r + 1] = ranges_.first[r] + static_cast<VertexId>(sizes[r]);
  old_to_new_.resize(part.size());
  new_to_old_.resize(part.size());
  std::vector<VertexId> next(ranges_.first.begin(), ranges_.first.end() - 1);
  for (VertexId v = 0; v < n; ++v) {
    const VertexId id = next[part[v]]++;
    old_to_new_[v] = id;
    new_to_old_[id] = v;
  }

  // Send every row to its owner: (vertex, degree) pairs, then the neighbours (new ids), then the weights.
  std::vector<int64_t> order(static_cast<size_t>(rows.num_rows));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return part[rows_first + a] < part[rows_first + b]; });
  std::vector<int64_t> head_counts(static_cast<size_t>(ranks), 0), col_counts(static_cast<size_t>(ranks), 0);
  std::vector<int64_t> heads;
  std::vector<VertexId> cols;
  std::vector<float> send_weights;
  for (int64_t i : order) {
    const int dest = part[rows_first + i];
    const int64_t degree = rows.row_end(i) - rows.row_begin(i);
    heads.push_back(rows_first + i);
    heads.push_back(degree);
    head_counts[dest] += 2;
    col_counts[dest] += degree;
    for (int64_t e = rows.row_begin(i); e < rows.row_end(i); ++e) {
      RELFM_CHECK(rows.col[e] >= 0 && rows.col[e] < n, "partitioned graph: neighbour {} of {} vertices", rows.col[e], n);
      cols.push_back(old_to_new_[rows.col[e]]);
      if (weighted) send_weights.push_back(weights[e]);
    }
  }
  const std::vector<int64_t> in_heads = comm.alltoallv(heads, head_counts);
  const std::vector<VertexId> in_cols = comm.alltoallv(cols, col_counts);
  const std::vector<float> in_weights = weighted ? comm.alltoallv(send_weights, col_counts) : std::vector<float>{};

  // Assemble the owned rows in new-id order.
  const VertexId first = ranges_.first[me], count = ranges_.first[me + 1] - first;
  std::vector<int64_t> degree(static_cast<size_t>(count), -1), offset(static_cast<size_t>(count), 0);
  int64_t pos = 0;
  for (size_t h = 0; h < in_heads.size(); h += 2) {
    const VertexId local = old_to_new_[in_heads[h]] - first;
    RELFM_CHECK(local >= 0 && local < count && degree[local] < 0, "partitioned graph: vertex {} given twice or to the wrong rank",
                in_heads[h]);
    degree[local] = in_heads[h + 1];
    offset[local] = pos;
    pos += in_heads[h + 1];
  }
  Csr local;
  local.num_rows = count;
  local.num_cols = n;
  local.row_ptr.assign(static_cast<size_t>(count) + 1, 0);
  for (VertexId v = 0; v < count; ++v) {
    RELFM_CHECK(degree[v] >= 0, "partitioned graph: no row for vertex {}", new_to_old_[first + v]);
    local.row_ptr[v + 1] = local.row_ptr[v] + degree[v];
  }
  local.col.resize(static_cast<size_t>(local.row_ptr.back()));
  std::vector<float> local_weights(weighted ? local.col.size() : 0);
  for (VertexId v = 0; v < count; ++v) {
    std::copy_n(in_cols.begin() + offset[v], degree[v], local.col.begin() + local.row_ptr[v]);
    if (weighted) std::copy_n(in_weights.begin() + offset[v], degree[v], local_weights.begin() + local.row_ptr[v]);
  }
  local_ = WalkGraph(std::move(local), first, n, std::move(local_weights));

  // Every edge to another rank's vertex learns that vertex's row there, so a walker that crosses carries
  // it and its arrival costs no lookup: one request per distinct remote target, answered by its owner.
  std::vector<std::vector<VertexId>> wanted(static_cast<size_t>(ranks));
  for (int64_t e = 0; e < local_.nnz(); ++e) {
    const VertexId to = local_.neighbour(e);
    if (!local_.owns(to)) wanted[ranges_.owner(to)].push_back(to);
  }
  std::vector<int64_t> ask_counts(static_cast<size_t>(ranks));
  std::vector<VertexId> asks;
  for (int r = 0; r < ranks; ++r) {
    std::sort(wanted[r].begin(), wanted[r].end());
    wanted[r].erase(std::unique(wanted[r].begin(), wanted[r].end()), wanted[r].end());
    ask_counts[r] = static_cast<int64_t>(wanted[r].size());
    asks.insert(asks.end(), wanted[r].begin(), wanted[r].end());
  }
  std::vector<int64_t> asked_counts = comm.alltoall_counts(ask_counts);
  const std::vector<VertexId> asked = comm.alltoallv(asks, ask_counts);
  std::vector<int64_t> answers;  // (begin, degree) per asked vertex
  answers.reserve(2 * asked.size());
  for (VertexId v : asked) {
    answers.push_back(local_.row_begin(v));
    answers.push_back(local_.degree(v));
  }
  for (int64_t& c : asked_counts) c *= 2;
  const std::vector<int64_t> replies = comm.alltoallv(answers, asked_counts);
  const std::vector<VertexId>& sorted_asks = asks;  // sorted: each owner block is, and owners hold increasing ranges
  for (int64_t e = 0; e < local_.nnz(); ++e) {
    const VertexId to = local_.neighbour(e);
    if (local_.owns(to)) continue;
    const auto at = static_cast<size_t>(std::lower_bound(sorted_asks.begin(), sorted_asks.end(), to) - sorted_asks.begin());
    local_.set_remote_row(e, replies[2 * at], static_cast<uint32_t>(replies[2 * at + 1]));
  }
}

}  // namespace relfm::sampler
