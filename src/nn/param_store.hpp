// The registry of a model's parameters and buffers, in registration order, keyed by stable
// hierarchical names. Optimisers, gradient all-reduce and checkpoints all walk this registry.
#pragma once

#include "src/core/error.hpp"
#include "src/tensor/parameter.hpp"

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace relfm {

template <typename T>
class ParamStore {
 public:
  // Registers a new tensor; names must be unique.
  Parameter<T>& add(std::string name, Mat<T> init, bool trainable = true) {
    if (index_.count(name)) fail("parameter '{}' registered twice", name);
    auto p = std::make_unique<Parameter<T>>();
    p->name = std::move(name);
    p->value = std::move(init);
    p->trainable = trainable;
    index_.emplace(p->name, params_.size());
    params_.push_back(std::move(p));
    return *params_.back();
  }

  Parameter<T>* find(std::string_view name) const {
    auto it = index_.find(std::string(name));
    return it == index_.end() ? nullptr : params_[it->second].get();
  }
  Parameter<T>& get(std::string_view name) const {
    Parameter<T>* p = find(name);
    if (!p) fail("no parameter named '{}'", name);
    return *p;
  }

  // Every tensor (trainable and buffers), in registration order.
  std::vector<Parameter<T>*> all() const {
    std::vector<Parameter<T>*> out;
    for (const auto& p : params_) out.push_back(p.get());
    return out;
  }
  std::vector<Parameter<T>*> trainable() const {
    std::vector<Parameter<T>*> out;
    for (const auto& p : params_)
      if (p->trainable) out.push_back(p.get());
    return out;
  }
  int64_t num_trainable_elements() const {
    int64_t n = 0;
    for (const auto& p : params_)
      if (p->trainable) n += p->value.size();
    return n;
  }
  void zero_grad() {
    for (auto& p : params_) p->zero_grad();
  }
  size_t size() const { return params_.size(); }

 private:
  std::vector<std::unique_ptr<Parameter<T>>> params_;
  std::unordered_map<std::string, size_t> index_;
};

// Joins name parts with '.', skipping empty ones: scoped("gin", "layers.0") == "gin.layers.0".
inline std::string scoped(std::string_view prefix, std::string_view name) {
  if (prefix.empty()) return std::string(name);
  if (name.empty()) return std::string(prefix);
  return std::string(prefix) + "." + std::string(name);
}

}  // namespace relfm
