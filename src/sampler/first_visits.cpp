#include "src/sampler/first_visits.hpp"

#include <algorithm>

namespace relfm::sampler {
namespace {

uint64_t slot_hash(uint64_t walk, VertexId v) {
  return mix64(walk * 0x9e3779b97f4a7c15ULL ^ static_cast<uint32_t>(v));
}

}  // namespace

bool FirstVisits::arrive(const Walker& w, VertexId v) {
  if (excluded_ != nullptr && (*excluded_)[static_cast<size_t>(v)]) return false;
  if (!insert(w.id, v)) return false;
  records_.push_back({w.id, w.distinct, v});
  return true;
}

bool FirstVisits::insert(uint64_t walk, VertexId v) {
  if (2 * (used_ + 1) > table_.size()) grow();
  const size_t mask = table_.size() - 1;
  for (size_t i = slot_hash(walk, v) & mask;; i = (i + 1) & mask) {
    Slot& s = table_[i];
    if (s.vertex < 0) {
      s = {walk, v};
      ++used_;
      return true;
    }
    if (s.vertex == v && s.walk == walk) return false;
  }
}

void FirstVisits::grow() {
  std::vector<Slot> old = std::move(table_);
  table_.assign(std::max<size_t>(1024, 2 * old.size()), Slot{});
  used_ = 0;
  for (const Slot& s : old)
    if (s.vertex >= 0) insert(s.walk, s.vertex);
}

std::vector<VisitRecord> FirstVisits::take_records() {
  std::vector<VisitRecord> out = std::move(records_);
  records_.clear();
  return out;
}

void FirstVisits::clear() {
  std::fill(table_.begin(), table_.end(), Slot{});
  used_ = 0;
  records_.clear();
}

void sort_records(std::vector<VisitRecord>& records) {
  std::sort(records.begin(), records.end(), [](const VisitRecord& a, const VisitRecord& b) {
    return a.walk != b.walk ? a.walk < b.walk : a.position < b.position;
  });
}

}  // namespace relfm::sampler
