#include "src/models/router.hpp"

#include "src/tensor/dual.hpp"

#include <cmath>
#include <memory>

namespace relfm {
namespace {

template <typename T>
Var<T> dot_rows(Var<T> a, Var<T> b) {  // <a, b> for two 1 x n rows
  return sum(mul(a, b));
}

}  // namespace

template <typename T>
Router<T>::Router(ParamStore<T>& store, const RouterConfig& config, uint64_t seed, const std::string& prefix)
    : config_(config) {
  if (config.num_datasets < 2) fail_input("molgroup: the router needs a target and at least one auxiliary data set");
  if (config.dim < 1) fail_input("molgroup: router.dim must be positive, got {}", config.dim);
  if (config.fingerprint_bits < 1) fail_input("molgroup: fingerprints need at least one bit");
  if (!(config.temperature > 0)) fail_input("molgroup: router.temperature must be positive, got {}", config.temperature);
  if (!(config.mix_lambda >= 0 && config.mix_lambda <= 1))
    fail_input("molgroup: router.mix_lambda must be in [0, 1], got {}", config.mix_lambda);
  if (config.set2set_steps < 1) fail_input("molgroup: router.set2set_steps must be at least 1, got {}", config.set2set_steps);
  const int64_t d = config.dim, n = config.num_datasets;

  const std::string e_name = scoped(prefix, "task_embeddings");
  Mat<T> e = orthogonal_init<T>(n, d, seed, e_name);
  for (int64_t k = 2; k < n; ++k) e.row(k) = e.row(1);  // every auxiliary starts as auxiliary 1
  task_embeddings_ = &store.add(e_name, std::move(e));

  // torch.nn.Linear(bits, d, bias=False): U(-1/sqrt(bits), 1/sqrt(bits)); stored transposed (bits x d).
  const std::string w_name = scoped(prefix, "structure_projection.weight");
  structure_projection_ = &store.add(
      w_name, uniform_init<T>(config.fingerprint_bits, d, 1.0 / std::sqrt(static_cast<double>(config.fingerprint_bits)),
                              seed, w_name));

  // torch.nn.LSTM: every weight and bias U(-1/sqrt(hidden), 1/sqrt(hidden)).
  const double bound = 1.0 / std::sqrt(static_cast<double>(d));
  static const char* kGateNames[4] = {"input", "forget", "cell", "output"};
  for (int64_t m = 0; m < n; ++m) {
    Set2Set s2s;
    for (int q = 0; q < 4; ++q) {
      const std::string gp = scoped(prefix, fmt::format("set2set.{}.lstm.{}", m, kGateNames[q]));
      auto add = [&](const char* what, int64_t rows, int64_t cols) {
        const std::string name = scoped(gp, what);
        return &store.add(name, uniform_init<T>(rows, cols, bound, seed, name));
      };
      s2s.gates[q].weight_ih = add("weight_ih", 2 * d, d);
      s2s.gates[q].weight_hh = add("weight_hh", d, d);
      s2s.gates[q].bias_ih = add("bias_ih", 1, d);
      s2s.gates[q].bias_hh = add("bias_hh", 1, d);
    }
    set2set_.push_back(s2s);
  }
}

template <typename T>
Var<T> Router<T>::set2set(Tape<T>& tape, const Set2Set& s2s, Var<T> set) const {
  // PyTorch Geometric's Set2Set over one set: q* = 0, (h, c) = 0; each step runs the LSTM on q*, attends
  // over the set's rows with the new h, and sets q* = [h, r] with r the attention-weighted sum of rows.
  const int64_t d = config_.dim;
  Var<T> q_star = tape.input(Mat<T>::Zero(1, 2 * d));
  Var<T> h = tape.input(Mat<T>::Zero(1, d));
  Var<T> c = tape.input(Mat<T>::Zero(1, d));
  for (int64_t step = 0; step < config_.set2set_steps; ++step) {
    Var<T> pre[4];
    for (int q = 0; q < 4; ++q) {
      const auto& g = s2s.gates[q];
      pre[q] = add(linear(q_star, tape.param(*g.weight_ih), tape.param(*g.bias_ih)),
                   linear(h, tape.param(*g.weight_hh), tape.param(*g.bias_hh)));
    }
    c = add(mul(sigmoid(pre[1]), c), mul(sigmoid(pre[0]), tanh(pre[2])));
    h = mul(sigmoid(pre[3]), tanh(c));
    Var<T> attention = softmax(matmul(h, transpose(set)));  // 1 x n over the set's rows
    Var<T> r = matmul(attention, set);                       // 1 x d
    q_star = concat_cols(h, r);
  }
  return q_star;
}

template <typename T>
Var<T> Router<T>::structure_embedding(Tape<T>& tape, int64_t dataset, const Mat<T>& fingerprints) const {
  RELFM_CHECK(dataset >= 0 && dataset < config_.num_datasets, "router: data set {} of {}", dataset, config_.num_datasets);
  if (fingerprints.rows() == 0) fail("router: data set {} has an empty sub-batch", dataset);
  if (fingerprints.cols() != config_.fingerprint_bits)
    fail("router: fingerprints of {} bits, the router expects {}", fingerprints.cols(), config_.fingerprint_bits);
  Var<T> u = l2_normalize_rows(matmul(tape.input(fingerprints), tape.param(*structure_projection_)));
  return l2_normalize_rows(set2set(tape, set2set_[static_cast<size_t>(dataset)], u));
}

template <typename T>
Var<T> Router<T>::task_affinity(Tape<T>& tape, int64_t dataset) const {
  RELFM_CHECK(dataset > 0 && dataset < config_.num_datasets, "router: auxiliary {} of {}", dataset, config_.num_datasets);
  Var<T> e = tape.param(*task_embeddings_);
  auto row = [&](int64_t m) {
    return l2_normalize_rows(gather_rows(e, std::make_shared<const std::vector<int32_t>>(1, static_cast<int32_t>(m))));
  };
  return dot_rows(row(0), row(dataset));
}

template <typename T>
Var<T> Router<T>::gate_from_affinities(Var<T> task, Var<T> structure) const {
  const double lambda = config_.mix_lambda, inv_tau = 1.0 / config_.temperature;
  return sigmoid(add(scale(task, T((1 - lambda) * inv_tau)), scale(structure, T(lambda * inv_tau))));
}

template <typename T>
Var<T> Router<T>::gate(Tape<T>& tape, int64_t dataset, Var<T> target_structure, const Mat<T>& fingerprints) const {
  Var<T> s_k = structure_embedding(tape, dataset, fingerprints);
  return gate_from_affinities(task_affinity(tape, dataset), dot_rows(target_structure, s_k));
}

template class Router<float>;
template class Router<double>;
template class Router<Dual<double>>;

}  // namespace relfm
