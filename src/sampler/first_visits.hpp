// The visitor that turns walks into batches: it remembers which vertices each walk has visited and
// records every first visit with its position in the walk's order of first visits. Optionally a set of
// excluded vertices (those already in a batch this epoch, for strict coverage) never counts as new.
//
// In a distributed run every rank keeps the first visits to the vertices it owns; the records of all
// ranks together, sorted by (walk, position), are the batches.
#pragma once

#include "src/core/types.hpp"
#include "src/sampler/walk_engine.hpp"

#include <cstdint>
#include <vector>

namespace relfm::sampler {

struct VisitRecord {
  uint64_t walk = 0;
  uint32_t position = 0;  // 0 for the start vertex, then in order of first visit
  VertexId vertex = 0;
  friend bool operator==(const VisitRecord&, const VisitRecord&) = default;
};

class FirstVisits {
 public:
  // `excluded` (indexed by global vertex id, non-zero = excluded) must outlive the visitor; may be null.
  explicit FirstVisits(const std::vector<uint8_t>* excluded = nullptr) : excluded_(excluded) {}

  bool arrive(const Walker& w, VertexId v);

  const std::vector<VisitRecord>& records() const { return records_; }
  std::vector<VisitRecord> take_records();
  void clear();

 private:
  bool insert(uint64_t walk, VertexId v);  // false when (walk, v) is there already
  void grow();

  struct Slot {
    uint64_t walk = 0;
    VertexId vertex = -1;  // -1: empty
  };
  const std::vector<uint8_t>* excluded_;
  std::vector<Slot> table_;
  size_t used_ = 0;
  std::vector<VisitRecord> records_;
};

// Sorts records by (walk, position).
void sort_records(std::vector<VisitRecord>& records);

}  // namespace relfm::sampler
