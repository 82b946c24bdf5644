// Gradients summed over ranks for replicas of one model whose ranks compute different data sets' losses
// (MolGroup's meta step, the group training job). Two ways:
//   GradientSum         one (optionally non-blocking) all-reduce; exact when each parameter has a single
//                       contributing rank (a data set's own branch), otherwise rounded in an order that
//                       depends on the rank count;
//   OrderedGradientSum  one block per data set from its own backward pass, added in data set order: bit
//                       for bit the same whichever ranks hold which data sets (a reduce-scatter of the
//                       blocks, each rank adding one slice of them, then an all-gather of the slices).
// Both keep a parameter's gradient absent when no contributor had one, so every replica skips the same
// parameters in its optimiser step.
#pragma once

#include "src/core/collective.hpp"
#include "src/nn/param_store.hpp"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

namespace relfm {

// The gradients of a flagged buffer: per parameter of `params` in order, its values then a presence flag
// (> 0 when some contributor had the gradient). Absent gradients stay out of the result.
template <typename T>
std::map<std::string, Mat<T>> unpack_flagged(const std::vector<Parameter<T>*>& params, const std::vector<T>& buffer) {
  std::map<std::string, Mat<T>> out;
  size_t at = 0;
  for (Parameter<T>* p : params) {
    const auto size = static_cast<size_t>(p->value.size());
    if (buffer[at + size] > T(0)) {
      Mat<T> g(p->value.rows(), p->value.cols());
      std::copy(buffer.begin() + static_cast<std::ptrdiff_t>(at), buffer.begin() + static_cast<std::ptrdiff_t>(at + size), g.data());
      out.emplace(p->name, std::move(g));
    }
    at += size + 1;
  }
  return out;
}

// Sums the gradients of a fixed parameter list over ranks in one message. A parameter has a gradient
// afterwards when it had one on some rank (a presence flag travels with the values), so that every
// replica skips the same parameters in its optimiser step, whatever the rank count. On one rank the
// gradients are taken as they are. start() may be followed by other work; the buffer stays in use
// until finish(), and the stores' own gradients are never written by it.
template <typename T>
class GradientSum {
 public:
  GradientSum(const Communicator& comm, std::vector<Parameter<T>*> params) : comm_(comm), params_(std::move(params)) {}
  // Starts the sum of the parameters' current gradients.
  void start() {
    std::map<std::string, const Mat<T>*> grads;
    for (Parameter<T>* p : params_)
      if (p->has_grad) grads[p->name] = &p->grad;
    start_from(grads);
  }
  // Starts the sum of the given gradients (by parameter name; absent = none from this rank).
  void start(const std::map<std::string, Mat<T>>& values) {
    std::map<std::string, const Mat<T>*> grads;
    for (const auto& [name, g] : values) grads[name] = &g;
    start_from(grads);
  }
  std::map<std::string, Mat<T>> finish() {
    if (comm_.size() == 1) return std::move(local_);
    request_.wait();
    return unpack_flagged(params_, buffer_);
  }
  std::map<std::string, Mat<T>> run() {
    start();
    return finish();
  }

 private:
  void start_from(const std::map<std::string, const Mat<T>*>& grads) {
    if (comm_.size() == 1) {
      for (Parameter<T>* p : params_)
        if (auto it = grads.find(p->name); it != grads.end()) local_[p->name] = *it->second;
      return;
    }
    size_t n = params_.size();
    for (Parameter<T>* p : params_) n += static_cast<size_t>(p->value.size());
    buffer_.assign(n, T(0));
    size_t at = 0;
    for (Parameter<T>* p : params_) {
      const size_t size = static_cast<size_t>(p->value.size());
      if (auto it = grads.find(p->name); it != grads.end()) {
        std::copy(it->second->data(), it->second->data() + size, buffer_.begin() + static_cast<std::ptrdiff_t>(at));
        buffer_[at + size] = T(1);
      }
      at += size + 1;
    }
    request_ = comm_.iallreduce_sum(buffer_.data(), buffer_.size());
  }

  const Communicator& comm_;
  std::vector<Parameter<T>*> params_;
  std::vector<T> buffer_;
  Request request_;
  std::map<std::string, Mat<T>> local_;
};

// Gradient blocks of a fixed parameter list, one per data set, summed over every rank's data sets in
// increasing data set order. Each data set's block comes from its own backward pass, so the sum, and
// everything after it, is bit for bit the same whichever ranks hold which data sets (an all-reduce
// would add the ranks' partial sums in an order that depends on the rank count, and the x1000-scaled
// meta-gradient makes such differences grow from step to step).
//
// The sum is an ordered all-reduce built from a reduce-scatter and an all-gather: rank k receives slice k
// of every block (an all-to-all), adds them in data set order, and the summed slices are all-gathered. A
// rank receives (B/P + 1) blocks' worth of values for B blocks on P ranks, where all-gathering every
// block would be B (11 auxiliaries on 2 ranks: 6.5 instead of 11), and the additions are split over the
// ranks. An absent gradient travels as zeros: adding +0 to a sum that starts at +0 changes no bit, so
// the result equals adding only the blocks that have the gradient.
template <typename T>
class OrderedGradientSum {
 public:
  explicit OrderedGradientSum(std::vector<Parameter<T>*> params) : params_(std::move(params)) {
    for (Parameter<T>* p : params_) block_ += static_cast<size_t>(p->value.size()) + 1;
  }
  // Takes the parameters' current gradients (a missing one as absent) as data set `dataset`'s block.
  void add_block(int64_t dataset) {
    ids_.push_back(dataset);
    for (Parameter<T>* p : params_) {
      if (p->has_grad) values_.insert(values_.end(), p->grad.data(), p->grad.data() + p->grad.size());
      else values_.insert(values_.end(), static_cast<size_t>(p->value.size()), T(0));
      values_.push_back(p->has_grad ? T(1) : T(0));
    }
  }
  // Collective. A parameter is in the result when some block had its gradient.
  std::map<std::string, Mat<T>> finish(const Communicator& comm) const {
    return unpack_flagged(params_, comm.size() > 1 ? summed_across(comm) : sum_here());
  }

 private:
  // The blocks' sum in increasing data set order (one rank: all of them are here).
  std::vector<T> sum_here() const {
    std::vector<const T*> blocks;
    for (size_t b = 0; b < ids_.size(); ++b) blocks.push_back(values_.data() + b * block_);
    return sum_in_order(ids_, blocks, block_);
  }
  // The first `len` values of the blocks at `blocks` (block i belongs to data set ids[i]) added in
  // increasing data set order, starting from +0.
  static std::vector<T> sum_in_order(const std::vector<int64_t>& ids, const std::vector<const T*>& blocks, size_t len) {
    std::vector<size_t> order(ids.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ids[a] < ids[b]; });
    std::vector<T> sum(len, T(0));
    for (size_t i : order) {
      const T* block = blocks[i];
      for (size_t e = 0; e < len; ++e) sum[e] += block[e];
    }
    return sum;
  }

  std::vector<T> summed_across(const Communicator& comm) const {
    const auto ranks = static_cast<size_t>(comm.size()), me = static_cast<size_t>(comm.rank());
    const std::vector<int64_t> ids = comm.allgatherv(ids_);  // every rank's data sets, in rank order
    const std::vector<int64_t> held = comm.allgather(static_cast<int64_t>(ids_.size()));
    std::vector<int64_t> slice_sizes(ranks);
    for (size_t k = 0; k < ranks; ++k) slice_sizes[k] = static_cast<int64_t>(block_ * (k + 1) / ranks - block_ * k / ranks);
    const auto slice = static_cast<size_t>(slice_sizes[me]);
    // Round b: every rank's b-th block, whose slice k (consecutive in the block) goes to rank k, so nothing
    // is copied into a send buffer. The round's slices arrive in rank order, after the earlier rounds'.
    int64_t rounds = 0;
    std::vector<size_t> first(ranks + 1, 0);  // rank r's blocks are ids[first[r]], ...
    for (size_t r = 0; r < ranks; ++r) {
      rounds = std::max(rounds, held[r]);
      first[r + 1] = first[r] + static_cast<size_t>(held[r]);
    }
    std::vector<T> received(ids.size() * slice);
    std::vector<const T*> blocks(ids.size());  // where each block of `ids` landed
    size_t at = 0;
    for (int64_t b = 0; b < rounds; ++b) {
      const bool sends = b < static_cast<int64_t>(ids_.size());
      std::vector<int64_t> send_counts(ranks, 0), recv_counts(ranks, 0);
      if (sends) send_counts = slice_sizes;
      T* round_begin = received.data() + at;
      for (size_t r = 0; r < ranks; ++r)
        if (b < held[r]) {
          recv_counts[r] = static_cast<int64_t>(slice);
          blocks[first[r] + static_cast<size_t>(b)] = received.data() + at;
          at += slice;
        }
      comm.alltoallv(sends ? values_.data() + static_cast<size_t>(b) * block_ : values_.data(), send_counts, round_begin,
                     recv_counts);
    }
    const std::vector<T> mine = sum_in_order(ids, blocks, slice);
    std::vector<T> sum(block_);
    comm.allgatherv(mine.data(), sum.data(), slice_sizes);
    return sum;
  }

  std::vector<Parameter<T>*> params_;
  size_t block_ = 0;
  std::vector<int64_t> ids_;
  std::vector<T> values_;
};

// Every trainable parameter of `store` takes its gradient from `grads` (absent = none).
template <typename T>
void set_gradients(const ParamStore<T>& store, const std::map<std::string, Mat<T>>& grads) {
  for (Parameter<T>* p : store.trainable()) {
    const auto it = grads.find(p->name);
    if (it == grads.end()) {
      p->zero_grad();
      continue;
    }
    p->grad = it->second;
    p->has_grad = true;
  }
}

}  // namespace relfm
