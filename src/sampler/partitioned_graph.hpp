// A graph spread over ranks for the walker engine: a partition (METIS, dist/partition.hpp) assigns every
// vertex to a rank; vertices are renumbered so that each rank owns one contiguous range of new ids
// (ordered by part, then by original id), which makes "who owns v" a range test in the engine's inner
// loop. Rows keep their entry order, so a walk takes the same slots, hence visits the same instances,
// whatever the partition: walks are a function of the original graph, not of the rank count.
//
// Rows arrive from wherever they were computed (a rank builds the proximity rows of a contiguous range
// of original ids) and move to their owners with one alltoallv.
#pragma once

#include "src/core/collective.hpp"
#include "src/sampler/walk_graph.hpp"

#include <cstdint>
#include <vector>

namespace relfm::sampler {

struct VertexRanges {
  std::vector<VertexId> first;  // size ranks + 1: rank r owns new ids [first[r], first[r+1])
  int owner(VertexId v) const;  // binary search
};

class PartitionedGraph {
 public:
  // Collective. `rows` holds the out-edges (original ids) of the original vertices
  // [rows_first, rows_first + rows.num_rows) — any split of the vertices over ranks, each vertex once;
  // `weights` is entry-aligned or empty on every rank. `part` (size N, the same on every rank) gives
  // each original vertex its rank.
  PartitionedGraph(const Communicator& comm, const Csr& rows, VertexId rows_first, const std::vector<float>& weights,
                   const std::vector<int32_t>& part);

  const WalkGraph& local() const { return local_; }
  const VertexRanges& ranges() const { return ranges_; }
  VertexId to_new(VertexId original) const { return old_to_new_[static_cast<size_t>(original)]; }
  VertexId to_original(VertexId renumbered) const { return new_to_old_[static_cast<size_t>(renumbered)]; }
  VertexId num_vertices() const { return static_cast<VertexId>(old_to_new_.size()); }

 private:
  VertexRanges ranges_;
  std::vector<VertexId> old_to_new_, new_to_old_;
  WalkGraph local_;
};

}  // namespace relfm::sampler
