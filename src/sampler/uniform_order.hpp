// Uniform batches, as GraphCL's shuffling loader: one random order per epoch (or one for the whole run
// when the config does not reshuffle), cut into ceil(N / B) slices; its position saves and restores for
// checkpoints. The uniform sampler and the graph samplers' warm-up epochs both draw from it.
#pragma once

#include "src/core/rng.hpp"
#include "src/sampler/batch_source.hpp"

#include <algorithm>
#include <vector>

namespace relfm::sampler {

// Shuffled batches: one order per epoch (or one for all epochs), cut into ceil(N/B) slices.
class UniformOrder {
 public:
  explicit UniformOrder(const BatchSourceConfig& c) : c_(c) {}
  void begin(int64_t epoch) {
    if (epoch == epoch_ && !order_.empty()) return;
    epoch_ = epoch;
    next_ = 0;
    make_order();
  }
  std::vector<VertexId> next() {
    if (next_ >= c_.num_instances) {  // more steps than one pass (never with the trainer's budget): go round
      next_ = 0;
    }
    const int64_t end = std::min(c_.num_instances, next_ + c_.batch_size);
    std::vector<VertexId> batch(order_.begin() + next_, order_.begin() + end);
    next_ = end;
    return batch;
  }
  std::vector<double> save() const { return {static_cast<double>(epoch_), static_cast<double>(next_)}; }
  void restore(const std::vector<double>& s) {
    epoch_ = static_cast<int64_t>(s.at(0));
    next_ = static_cast<int64_t>(s.at(1));
    order_.clear();
    if (epoch_ >= 0) make_order();
  }

 private:
  static constexpr uint64_t kUniformStream = 0x756e69;  // "uni", a stream id under RngPurpose::kSampler
  void make_order() {
    const CounterRng rng(c_.seed, RngPurpose::kSampler, kUniformStream);
    const std::vector<int64_t> p = random_permutation(rng.derive(c_.reshuffle ? static_cast<uint64_t>(epoch_) : 0),
                                                      c_.num_instances);
    order_.assign(p.begin(), p.end());
  }
  BatchSourceConfig c_;
  int64_t epoch_ = -1, next_ = 0;
  std::vector<VertexId> order_;
};

}  // namespace relfm::sampler
