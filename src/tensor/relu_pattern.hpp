// The activation pattern of a pass: for every relu, which of its inputs were positive. Recorded in one
// pass and replayed in later ones.
//
// A pass that replays a pattern evaluates the network with every relu frozen into the linear piece it
// took at the recorded point: the same value, gradient and Hessian there, but smooth around it. A
// difference of gradients taken on that function (MolGroup's meta-gradient by central differences,
// src/models/molgroup_hvp.cpp) converges to the Hessian-vector product autograd gives, at O(eps^2). On
// the real network a step of size eps pushes O(eps) relu inputs across zero, each crossing a jump of the
// gradient of size O(1/eps) in the quotient: the difference keeps an O(1) error however small the step,
// until no input crosses at all (measured on MetaGIN 5 x 300: 94-99% error at every float step).
//
// Sites register in forward order: relu(), the relu of batch_norm_act() and the messages of
// gin_aggregate[_embedded](). A replaying pass must visit the same sites, with the same sizes, in the
// same order; the pattern must outlive the backward passes of the tapes that replay it.
#pragma once

#include "src/core/error.hpp"

#include <cstdint>
#include <string_view>
#include <vector>

namespace relfm {

class ReluPattern {
 public:
  enum class Mode { kRecord, kReplay };

  // Forgets every site and records from the next relu on.
  void record() {
    mode_ = Mode::kRecord;
    sites_.clear();
    cursor_ = 0;
  }
  // Replays from the first recorded site.
  void replay() {
    mode_ = Mode::kReplay;
    cursor_ = 0;
  }
  Mode mode() const { return mode_; }

  // Record mode: n mask bytes for the next site, which the op fills (1 where the relu's input is > 0).
  uint8_t* next_to_record(int64_t n) {
    RELFM_CHECK(mode_ == Mode::kRecord, "relu pattern: recording while replaying");
    sites_.emplace_back(static_cast<size_t>(n));
    return sites_.back().data();
  }
  // Replay mode: the recorded mask of the next site, which must have n elements.
  const uint8_t* next_to_replay(int64_t n, std::string_view op) {
    RELFM_CHECK(mode_ == Mode::kReplay, "relu pattern: replaying while recording");
    RELFM_CHECK(cursor_ < sites_.size(), "relu pattern: {} is site {} but {} were recorded", op, cursor_, sites_.size());
    const std::vector<uint8_t>& mask = sites_[cursor_];
    RELFM_CHECK(static_cast<int64_t>(mask.size()) == n, "relu pattern: {} (site {}) has {} elements, recorded {}", op,
                cursor_, n, mask.size());
    ++cursor_;
    return mask.data();
  }
  // True when a replay has visited every recorded site.
  bool replayed_all() const { return mode_ == Mode::kReplay && cursor_ == sites_.size(); }
  size_t num_sites() const { return sites_.size(); }
  size_t bytes() const {
    size_t total = 0;
    for (const auto& s : sites_) total += s.size();
    return total;
  }

 private:
  Mode mode_ = Mode::kRecord;
  std::vector<std::vector<uint8_t>> sites_;  // heap buffers stay put when the outer vector grows
  size_t cursor_ = 0;
};

}  // namespace relfm
