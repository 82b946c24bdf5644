#include "src/nn/layers.hpp"

#include <cmath>

namespace relfm {

template <typename T>
Linear<T>::Linear(ParamStore<T>& store, const std::string& prefix, int64_t in, int64_t out, uint64_t seed, bool bias) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  const std::string wname = scoped(prefix, "weight");
  weight_ = &store.add(wname, uniform_init<T>(in, out, bound, seed, wname));
  if (bias) {
    const std::string bname = scoped(prefix, "bias");
    bias_ = &store.add(bname, uniform_init<T>(1, out, bound, seed, bname));
  }
}

template <typename T>
Var<T> Linear<T>::operator()(Tape<T>& tape, Var<T> x) const {
  return linear(x, tape.param(*weight_), bias_ ? tape.param(*bias_) : Var<T>());
}

template <typename T>
BatchNorm<T>::BatchNorm(ParamStore<T>& store, const std::string& prefix, int64_t dim, double momentum, double eps)
    : momentum_(momentum), eps_(eps) {
  weight_ = &store.add(scoped(prefix, "weight"), Mat<T>::Ones(1, dim));
  bias_ = &store.add(scoped(prefix, "bias"), Mat<T>::Zero(1, dim));
  running_mean_ = &store.add(scoped(prefix, "running_mean"), Mat<T>::Zero(1, dim), false);
  running_var_ = &store.add(scoped(prefix, "running_var"), Mat<T>::Ones(1, dim), false);
}

template <typename T>
Var<T> BatchNorm<T>::operator()(Tape<T>& tape, Var<T> x, bool training, bool update_running_stats) const {
  BatchNormState<T> state{running_mean_, running_var_, momentum_, eps_, update_running_stats};
  return batch_norm(x, tape.param(*weight_), tape.param(*bias_), state, training);
}

template <typename T>
Var<T> BatchNorm<T>::act(Tape<T>& tape, Var<T> x, bool training, const BatchNormEpilogue& epilogue,
                         bool update_running_stats) const {
  BatchNormState<T> state{running_mean_, running_var_, momentum_, eps_, update_running_stats};
  return batch_norm_act(x, tape.param(*weight_), tape.param(*bias_), state, training, epilogue);
}

template <typename T>
LayerNorm<T>::LayerNorm(ParamStore<T>& store, const std::string& prefix, int64_t dim, double eps) : eps_(eps) {
  weight_ = &store.add(scoped(prefix, "weight"), Mat<T>::Ones(1, dim));
  bias_ = &store.add(scoped(prefix, "bias"), Mat<T>::Zero(1, dim));
}

template <typename T>
Var<T> LayerNorm<T>::operator()(Tape<T>& tape, Var<T> x) const {
  return layer_norm(x, tape.param(*weight_), tape.param(*bias_), eps_);
}

template <typename T>
EmbeddingSum<T>::EmbeddingSum(ParamStore<T>& store, const std::string& prefix, std::vector<int32_t> sizes,
                              int64_t dim, uint64_t seed)
    : sizes_(std::move(sizes)) {
  int32_t total = 0;
  for (int32_t s : sizes_) {
    offsets_.push_back(total);
    total += s;
  }
  const std::string name = scoped(prefix, "weight");
  Mat<T> table(total, dim);
  for (size_t f = 0; f < sizes_.size(); ++f)
    table.middleRows(offsets_[f], sizes_[f]) =
        xavier_uniform<T>(sizes_[f], dim, sizes_[f], dim, seed, fmt::format("{}[{}]", name, f));
  table_ = &store.add(name, std::move(table));
}

template <typename T>
Var<T> EmbeddingSum<T>::operator()(Tape<T>& tape, const IndexMat& categories) const {
  return embedding_sum(tape.param(*table_), rows(categories));
}

template <typename T>
IndexMatPtr EmbeddingSum<T>::rows(const IndexMat& categories) const {
  const int64_t nf = static_cast<int64_t>(sizes_.size());
  if (categories.cols() != nf) fail("embedding: {} feature columns given, {} expected", categories.cols(), nf);
  auto rows = std::make_shared<IndexMat>(categories.rows(), nf);
  for (int64_t i = 0; i < categories.rows(); ++i)
    for (int64_t f = 0; f < nf; ++f) {
      const int32_t v = categories(i, f);
      if (v < 0 || v >= sizes_[f]) fail("embedding: feature {} has category {} outside [0, {})", f, v, sizes_[f]);
      (*rows)(i, f) = offsets_[f] + v;
    }
  return rows;
}

Activation parse_activation(std::string_view name) {
  if (name == "relu") return Activation::kRelu;
  if (name == "gelu") return Activation::kGelu;
  if (name == "tanh") return Activation::kTanh;
  if (name == "none") return Activation::kNone;
  fail_input("unknown activation '{}' (known: relu, gelu, tanh, none)", name);
}

template <typename T>
Var<T> activate(Var<T> x, Activation a) {
  switch (a) {
    case Activation::kRelu: return relu(x);
    case Activation::kGelu: return gelu(x);
    case Activation::kTanh: return tanh(x);
    case Activation::kNone: return x;
  }
  return x;
}

template <typename T>
Mlp<T>::Mlp(ParamStore<T>& store, const std::string& prefix, std::vector<int64_t> dims, uint64_t seed,
            bool batch_norm, Activation activation)
    : activation_(activation) {
  if (dims.size() < 2) fail("mlp '{}': needs at least input and output sizes", prefix);
  for (size_t i = 0; i + 1 < dims.size(); ++i) {
    const std::string layer = scoped(prefix, std::to_string(i));
    linears_.emplace_back(store, scoped(layer, "linear"), dims[i], dims[i + 1], seed);
    if (batch_norm && i + 2 < dims.size()) norms_.emplace_back(store, scoped(layer, "norm"), dims[i + 1]);
  }
}

template <typename T>
Var<T> Mlp<T>::operator()(Tape<T>& tape, Var<T> x, bool training, bool update_running_stats) const {
  for (size_t i = 0; i < linears_.size(); ++i) {
    x = linears_[i](tape, x);
    if (i + 1 == linears_.size()) break;
    if (!norms_.empty()) x = norms_[i](tape, x, training, update_running_stats);
    x = activate(x, activation_);
  }
  return x;
}

template Var<float> activate<float>(Var<float>, Activation);
template Var<double> activate<double>(Var<double>, Activation);
template Var<Dual<double>> activate<Dual<double>>(Var<Dual<double>>, Activation);
template class Mlp<float>;
template class Mlp<double>;
template class Mlp<Dual<double>>;
template class Linear<float>;
template class Linear<double>;
template class Linear<Dual<double>>;
template class BatchNorm<float>;
template class BatchNorm<double>;
template class BatchNorm<Dual<double>>;
template class LayerNorm<float>;
template class LayerNorm<double>;
template class LayerNorm<Dual<double>>;
template class EmbeddingSum<float>;
template class EmbeddingSum<double>;
template class EmbeddingSum<Dual<double>>;

}  // namespace relfm
