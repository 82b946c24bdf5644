// Token sequences with one class label each, stacked: the in-memory form of a sequence shard's split
// (io/sequences.hpp) and of what the text readers return (io/sequence_files.hpp).
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

namespace relfm {

struct SequenceSet {
  std::vector<int32_t> tokens;
  std::vector<int64_t> offsets{0};
  std::vector<int32_t> labels;
  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  std::span<const int32_t> sequence(int64_t i) const {
    return {tokens.data() + offsets[static_cast<size_t>(i)],
            static_cast<size_t>(offsets[static_cast<size_t>(i) + 1] - offsets[static_cast<size_t>(i)])};
  }
  void add(std::span<const int32_t> sequence, int32_t label) {
    tokens.insert(tokens.end(), sequence.begin(), sequence.end());
    offsets.push_back(static_cast<int64_t>(tokens.size()));
    labels.push_back(label);
  }
  int64_t max_length() const {
    int64_t m = 0;
    for (size_t i = 0; i + 1 < offsets.size(); ++i) m = std::max(m, offsets[i + 1] - offsets[i]);
    return m;
  }
};

}  // namespace relfm
