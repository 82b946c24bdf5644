// The GIN that trains a group of data sets (research/molgroup.md §1.6, the official app/train.py): one
// encoder shared by every data set, one linear decoder per data set. Data set 0 is the target: its
// decoder is the encoder's own head ("gin.head"), and only its batches move the batch-norm running
// statistics (the official code's rule), so evaluation on the target uses statistics of target batches.
#pragma once

#include "src/models/gin.hpp"

#include <vector>

namespace relfm {

template <typename T>
class SharedGin {
 public:
  // num_tasks[m]: data set m's decoder width (m = 0 the target; base.num_tasks is ignored).
  SharedGin(ParamStore<T>& store, GinConfig base, const std::vector<int64_t>& num_tasks, uint64_t seed);
  // Logits (or values) of data set `dataset` for `batch`.
  Var<T> forward(Tape<T>& tape, int64_t dataset, const GraphBatch& batch, const ForwardOptions& options) const;
  const Gin<T>& encoder() const { return encoder_; }  // with the target's decoder: the target's model
  int64_t num_datasets() const { return static_cast<int64_t>(heads_.size()) + 1; }

 private:
  Gin<T> encoder_;
  std::vector<Linear<T>> heads_;  // data sets 1..M ("heads.<m>")
};

}  // namespace relfm
