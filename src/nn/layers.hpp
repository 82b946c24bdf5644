// Layers: small objects that register their parameters under a name prefix and build ops on a tape.
// They hold pointers into a ParamStore, which must outlive them.
#pragma once

#include "src/nn/init.hpp"
#include "src/nn/param_store.hpp"
#include "src/tensor/ops.hpp"

#include <span>
#include <string>
#include <vector>

namespace relfm {

// y = x W + b with W (in x out). Initialised like torch.nn.Linear: W, b ~ U(-1/sqrt(in), 1/sqrt(in)).
template <typename T>
class Linear {
 public:
  Linear() = default;
  Linear(ParamStore<T>& store, const std::string& prefix, int64_t in, int64_t out, uint64_t seed, bool bias = true);
  Var<T> operator()(Tape<T>& tape, Var<T> x) const;
  int64_t in_features() const { return weight_->value.rows(); }
  int64_t out_features() const { return weight_->value.cols(); }
  Parameter<T>* weight() const { return weight_; }
  Parameter<T>* bias() const { return bias_; }

 private:
  Parameter<T>* weight_ = nullptr;
  Parameter<T>* bias_ = nullptr;
};

// BatchNorm1d over columns: affine weight/bias plus running mean/var buffers (momentum 0.1, eps 1e-5).
template <typename T>
class BatchNorm {
 public:
  BatchNorm() = default;
  BatchNorm(ParamStore<T>& store, const std::string& prefix, int64_t dim, double momentum = 0.1, double eps = 1e-5);
  // update_running_stats = false uses batch statistics without touching the buffers.
  Var<T> operator()(Tape<T>& tape, Var<T> x, bool training, bool update_running_stats = true) const;
  // Fused batch norm -> relu -> dropout (see batch_norm_act).
  Var<T> act(Tape<T>& tape, Var<T> x, bool training, const BatchNormEpilogue& epilogue,
             bool update_running_stats = true) const;

 private:
  Parameter<T>* weight_ = nullptr;
  Parameter<T>* bias_ = nullptr;
  Parameter<T>* running_mean_ = nullptr;
  Parameter<T>* running_var_ = nullptr;
  double momentum_ = 0.1;
  double eps_ = 1e-5;
};

template <typename T>
class LayerNorm {
 public:
  LayerNorm() = default;
  LayerNorm(ParamStore<T>& store, const std::string& prefix, int64_t dim, double eps = 1e-5);
  Var<T> operator()(Tape<T>& tape, Var<T> x) const;

 private:
  Parameter<T>* weight_ = nullptr;
  Parameter<T>* bias_ = nullptr;
  double eps_ = 1e-5;
};

// Sum of per-feature embeddings: feature f (a category in [0, sizes[f])) selects a row of its own
// table; the tables are stacked in one parameter "prefix.weight" (sum(sizes) x dim), each block
// Xavier-initialised as its own table.
template <typename T>
class EmbeddingSum {
 public:
  EmbeddingSum() = default;
  EmbeddingSum(ParamStore<T>& store, const std::string& prefix, std::vector<int32_t> sizes, int64_t dim, uint64_t seed);
  // categories: n x F categorical values (F = sizes.size()); values outside their range are an error.
  Var<T> operator()(Tape<T>& tape, const IndexMat& categories) const;
  // The stacked-table rows the categories select (what embedding_sum consumes).
  IndexMatPtr rows(const IndexMat& categories) const;
  Parameter<T>* table() const { return table_; }
  int64_t dim() const { return table_->value.cols(); }

 private:
  Parameter<T>* table_ = nullptr;
  std::vector<int32_t> sizes_;
  std::vector<int32_t> offsets_;
};

enum class Activation { kRelu, kGelu, kTanh, kNone };
Activation parse_activation(std::string_view name);
template <typename T>
Var<T> activate(Var<T> x, Activation a);

// Multi-layer perceptron: Linear -> [BatchNorm] -> activation for every hidden layer, then a final
// Linear with nothing after it. dims = {in, hidden..., out}. Names: prefix.{i}.linear, prefix.{i}.norm.
template <typename T>
class Mlp {
 public:
  Mlp() = default;
  Mlp(ParamStore<T>& store, const std::string& prefix, std::vector<int64_t> dims, uint64_t seed, bool batch_norm,
      Activation activation = Activation::kRelu);
  Var<T> operator()(Tape<T>& tape, Var<T> x, bool training, bool update_running_stats = true) const;

 private:
  std::vector<Linear<T>> linears_;
  std::vector<BatchNorm<T>> norms_;
  Activation activation_ = Activation::kRelu;
};

}  // namespace relfm
