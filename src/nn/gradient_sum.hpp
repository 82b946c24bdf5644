// Gradients summed over ranks for replicas of one model whose ranks compute different data sets' losses
// (MolGroup's meta step, the group training job). Two ways:
//   GradientSum         one (optionally non-blocking) all-reduce; exact when each parameter has a single
//                       contributing rank (a data set's own branch), otherwise rounded in an order that
//                       depends on the rank count;
//   OrderedGradientSum  one block per data set from its own backward pass, all-gathered and added in data
//                       set order: bit for bit the same whichever ranks hold which data sets.
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
    std::map<std::string, Mat<T>> out;
    size_t at = 0;
    for (Parameter<T>* p : params_) {
      const size_t size = static_cast<size_t>(p->value.size());
      if (buffer_[at + size] > T(0)) {
        Mat<T> g(p->value.rows(), p->value.cols());
        std::copy(buffer_.begin() + static_cast<std::ptrdiff_t>(at),
                  buffer_.begin() + static_cast<std::ptrdiff_t>(at + size), g.data());
        out.emplace(p->name, std::move(g));
      }
      at += size + 1;
    }
    return out;
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
// meta-gradient makes such differences grow from step to step). Costs an all-gather of the blocks.
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
    const std::vector<int64_t> ids = comm.size() > 1 ? comm.allgatherv(ids_) : ids_;
    const std::vector<T> values = comm.size() > 1 ? comm.allgatherv(values_) : values_;
    std::vector<size_t> order(ids.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ids[a] < ids[b]; });
    std::map<std::string, Mat<T>> out;
    for (size_t i : order) {
      size_t at = i * block_;
      for (Parameter<T>* p : params_) {
        const auto size = static_cast<size_t>(p->value.size());
        if (values[at + size] > T(0)) {
          auto [it, fresh] = out.try_emplace(p->name, Mat<T>::Zero(p->value.rows(), p->value.cols()));
          (void)fresh;
          T* acc = it->second.data();
          for (size_t e = 0; e < size; ++e) acc[e] += values[at + e];
        }
        at += size + 1;
      }
    }
    return out;
  }

 private:
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
