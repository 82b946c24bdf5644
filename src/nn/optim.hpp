// Optimisers with explicit state. Semantics follow PyTorch's (Adam, AdamW, SGD with momentum), so
// hyper-parameters from published recipes carry over. The state is exposed by name for checkpoints:
// "<param name>/<slot>" plus the step count.
#pragma once

#include "src/nn/param_store.hpp"

#include <memory>
#include <string>
#include <vector>

namespace relfm {

struct OptimizerConfig {
  std::string name = "adam";  // adam | adamw | sgd
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // L2 added to the gradient (adam, sgd) or decoupled (adamw)
  double momentum = 0.0;      // sgd
  bool nesterov = false;      // sgd
};

template <typename T>
class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // Applies one update to every trainable parameter that has a gradient (others are skipped, as in PyTorch).
  virtual void step() = 0;
  // Named state tensors, e.g. "gin.atom_encoder.weight/exp_avg"; a checkpoint saves and restores them in place.
  virtual std::vector<std::pair<std::string, Mat<T>*>> state() = 0;
  int64_t steps() const { return steps_; }
  void set_steps(int64_t s) { steps_ = s; }
  double learning_rate() const { return config_.lr; }
  void set_learning_rate(double lr) { config_.lr = lr; }
  const OptimizerConfig& config() const { return config_; }

 protected:
  Optimizer(std::vector<Parameter<T>*> params, OptimizerConfig config)
      : params_(std::move(params)), config_(std::move(config)) {}
  std::vector<Parameter<T>*> params_;
  OptimizerConfig config_;
  int64_t steps_ = 0;
};

// Builds the optimiser named by config.name over the store's trainable parameters.
template <typename T>
std::unique_ptr<Optimizer<T>> make_optimizer(const ParamStore<T>& store, const OptimizerConfig& config);
// The same over a group of them (e.g. MolGroup's three groups: GNN, decoders, gate).
template <typename T>
std::unique_ptr<Optimizer<T>> make_optimizer(std::vector<Parameter<T>*> params, const OptimizerConfig& config);

}  // namespace relfm
