// Dropout, batch normalisation and layer normalisation.
#include "src/tensor/ops.hpp"
#include "src/tensor/op_util.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <span>

namespace relfm {
namespace {

using detail::finish;
using std::sqrt;

// Column statistics accumulate in double for float data; other scalars (double, Dual) use themselves.
template <typename T>
using Accumulator = std::conditional_t<std::is_same_v<T, float>, double, T>;

template <typename T>
struct DropoutNode final : Node<T> {
  Node<T>* x;
  std::vector<uint8_t> keep;
  T scale;
  DropoutNode(Node<T>* x_, T s) : Node<T>(OpKind::kDropout), x(x_), scale(s) {}
  void backward() override {
    if (!x->requires_grad()) return;
    const Mat<T>& g = this->grad();
    bool accumulate = false;
    Mat<T>& gx = x->grad_for_write(&accumulate);
    const T* __restrict gp = g.data();
    const uint8_t* __restrict kp = keep.data();
    T* __restrict out = gx.data();
    const int64_t n = g.size();
    const T s = scale;
    if (accumulate) {
      for (int64_t k = 0; k < n; ++k) out[k] += kp[k] ? gp[k] * s : T(0);
    } else {
      for (int64_t k = 0; k < n; ++k) out[k] = kp[k] ? gp[k] * s : T(0);
    }
  }
};

// Batch norm with an optional relu + dropout epilogue. Forward: one pass for the column statistics
// (double accumulators), one pass that normalises, activates and drops. Backward: one pass for the
// column sums, one that writes the input gradient; x-hat is recomputed from the kept input rather than
// stored, which halves the memory traffic of this (memory-bound) op.
template <typename T>
struct BatchNormNode final : Node<T> {
  Node<T>* x;
  Node<T>* gamma;
  Node<T>* beta;
  Eigen::Matrix<T, 1, Eigen::Dynamic> mu;
  Eigen::Matrix<T, 1, Eigen::Dynamic> inv_std;
  bool training;
  bool relu;
  std::vector<uint8_t> keep;  // dropout mask; empty without dropout
  const uint8_t* frozen = nullptr;  // a replayed relu pattern (n x m): decides instead of the output's sign
  T scale = T(1);
  BatchNormNode(OpKind op, Node<T>* x_, Node<T>* g_, Node<T>* b_, bool t, bool r)
      : Node<T>(op), x(x_), gamma(g_), beta(b_), training(t), relu(r) {}

  void backward() override {
    if (relu && !keep.empty()) return backward_impl<true, true>();
    if (relu) return backward_impl<true, false>();
    if (!keep.empty()) return backward_impl<false, true>();
    return backward_impl<false, false>();
  }

  // Specialised on the epilogue so the per-element loops carry no branches and vectorise.
  template <bool kRelu, bool kDrop>
  void backward_impl() {
    const Mat<T>& g = this->grad();
    const Mat<T>& xv = x->value();
    const int64_t n = g.rows(), m = g.cols();
    const T* gam = gamma->value().data();
    const T* bet = beta->value().data();
    const T* mup = mu.data();
    const T* isd = inv_std.data();
    const T s = scale;
    // Gradient reaching the batch-norm output through the relu and dropout masks (both recomputed or
    // read back), and the normalised input, for row i.
    auto upstream = [&](int64_t i, T* __restrict gy, T* __restrict xh) {
      const T* __restrict gi = g.row(i).data();
      const T* __restrict xi = xv.row(i).data();
      const uint8_t* __restrict ki = kDrop ? keep.data() + i * m : nullptr;
      for (int64_t j = 0; j < m; ++j) {
        const T h = (xi[j] - mup[j]) * isd[j];
        xh[j] = h;
        T v = gi[j];
        if constexpr (kRelu) v = (frozen ? frozen[i * m + j] != 0 : gam[j] * h + bet[j] > T(0)) ? v : T(0);
        if constexpr (kDrop) v = ki[j] ? v * s : T(0);
        gy[j] = v;
      }
    };
    std::vector<T> gy(static_cast<size_t>(m)), xh(static_cast<size_t>(m));
    Eigen::Matrix<T, 1, Eigen::Dynamic> sum_g = Eigen::Matrix<T, 1, Eigen::Dynamic>::Zero(m);
    Eigen::Matrix<T, 1, Eigen::Dynamic> sum_gx = Eigen::Matrix<T, 1, Eigen::Dynamic>::Zero(m);
    T* __restrict sg = sum_g.data();
    T* __restrict sgx = sum_gx.data();
    for (int64_t i = 0; i < n; ++i) {
      upstream(i, gy.data(), xh.data());
      const T* __restrict a = gy.data();
      const T* __restrict b = xh.data();
      for (int64_t j = 0; j < m; ++j) {
        sg[j] += a[j];
        sgx[j] += a[j] * b[j];
      }
    }
    if (beta->requires_grad()) beta->accumulate_grad(sum_g);
    if (gamma->requires_grad()) gamma->accumulate_grad(sum_gx);
    if (!x->requires_grad()) return;
    std::vector<T> ca(static_cast<size_t>(m)), cb(static_cast<size_t>(m)), cc(static_cast<size_t>(m));
    for (int64_t j = 0; j < m; ++j) {
      ca[j] = gam[j] * isd[j];
      cb[j] = training ? ca[j] * sg[j] / static_cast<T>(n) : T(0);
      cc[j] = training ? ca[j] * sgx[j] / static_cast<T>(n) : T(0);
    }
    bool accumulate = false;
    Mat<T>& gx = x->grad_for_write(&accumulate);
    const T* __restrict pa = ca.data();
    const T* __restrict pb = cb.data();
    const T* __restrict pc = cc.data();
    for (int64_t i = 0; i < n; ++i) {
      upstream(i, gy.data(), xh.data());
      const T* __restrict u = gy.data();
      const T* __restrict h = xh.data();
      T* __restrict out = gx.row(i).data();
      if (accumulate) {
        for (int64_t j = 0; j < m; ++j) out[j] += pa[j] * u[j] - pb[j] - pc[j] * h[j];
      } else {
        for (int64_t j = 0; j < m; ++j) out[j] = pa[j] * u[j] - pb[j] - pc[j] * h[j];
      }
    }
  }
};

template <typename T>
struct LayerNormNode final : Node<T> {
  Node<T>* x;
  Node<T>* gamma;
  Node<T>* beta;
  Mat<T> xhat;
  Eigen::Matrix<T, Eigen::Dynamic, 1> inv_std;
  LayerNormNode(Node<T>* x_, Node<T>* g_, Node<T>* b_) : Node<T>(OpKind::kLayerNorm), x(x_), gamma(g_), beta(b_) {}
  void backward() override {
    const Mat<T>& g = this->grad();
    const int64_t n = g.rows(), m = g.cols();
    if (beta->requires_grad()) beta->accumulate_grad(g.colwise().sum());
    if (gamma->requires_grad()) gamma->accumulate_grad(g.cwiseProduct(xhat).colwise().sum());
    if (!x->requires_grad()) return;
    // Per row: dxhat = g * gamma; dx = inv_std / m * (m dxhat - sum(dxhat) - xhat * sum(dxhat xhat))
    Mat<T> dxhat = g.array().rowwise() * gamma->value().row(0).array();
    Mat<T> gx(n, m);
    for (int64_t i = 0; i < n; ++i) {
      const T s1 = dxhat.row(i).sum();
      const T s2 = dxhat.row(i).dot(xhat.row(i));
      const T f = inv_std[i] / static_cast<T>(m);
      for (int64_t j = 0; j < m; ++j) gx(i, j) = f * (static_cast<T>(m) * dxhat(i, j) - s1 - xhat(i, j) * s2);
    }
    x->accumulate_grad(gx);
  }
};

}  // namespace

template <typename T>
Var<T> dropout(Var<T> x, double p, const CounterRng& rng, bool training, RowIds row_ids) {
  if (p < 0.0 || p >= 1.0) fail("dropout: probability {} outside [0, 1)", p);
  if (!training || p == 0.0) return x;
  if (row_ids && static_cast<int64_t>(row_ids->size()) != x.rows())
    fail("dropout: {} row ids for {} rows", row_ids->size(), x.rows());
  auto* tape = x.tape();
  auto* node = tape->template push<DropoutNode<T>>(x.node(), static_cast<T>(1.0 / (1.0 - p)));
  const int64_t n = x.value().size();
  node->keep.resize(static_cast<size_t>(n));
  const float threshold = static_cast<float>(p);
  auto& y = node->mutable_value();
  y.resize(x.rows(), x.cols());
  const T* xp = x.value().data();
  T* yp = y.data();
  uint8_t* __restrict keep = node->keep.data();
  const T scale = node->scale;
  detail::dropout_uniforms(rng, x.rows(), x.cols(), row_ids.get(), [&](const float* u, int64_t base, int64_t len) {
    for (int64_t k = 0; k < len; ++k) {
      keep[base + k] = u[k] >= threshold;
      yp[base + k] = keep[base + k] ? xp[base + k] * scale : T(0);
    }
  });
  return finish(tape, node, {x});
}

namespace {

template <typename T>
Var<T> batch_norm_impl(OpKind op, Var<T> x, Var<T> gamma, Var<T> beta, const BatchNormState<T>& state, bool training,
                       const BatchNormEpilogue& epilogue) {
  const int64_t n = x.rows(), m = x.cols();
  if (gamma.rows() != 1 || gamma.cols() != m || beta.rows() != 1 || beta.cols() != m)
    fail("batch_norm: gamma/beta must be 1x{}", m);
  if (!state.running_mean || !state.running_var) fail("batch_norm: running statistics are not bound");
  if (n == 0) fail("batch_norm: empty batch");
  if (epilogue.dropout < 0.0 || epilogue.dropout >= 1.0) fail("batch_norm: dropout {} outside [0, 1)", epilogue.dropout);
  auto* tape = x.tape();
  auto* node = tape->template push<BatchNormNode<T>>(op, x.node(), gamma.node(), beta.node(), training, epilogue.relu);
  const Mat<T>& xv = x.value();
  node->mu.resize(m);
  node->inv_std.resize(m);
  if (training) {
    // Sums in double for float data: E[x^2] - E[x]^2 then loses nothing that matters for activations.
    using A = Accumulator<T>;
    std::vector<A> s1(static_cast<size_t>(m), A(0)), s2(static_cast<size_t>(m), A(0));
    for (int64_t i = 0; i < n; ++i) {
      const T* __restrict xi = xv.row(i).data();
      for (int64_t j = 0; j < m; ++j) {
        const A v = static_cast<A>(xi[j]);
        s1[j] += v;
        s2[j] += v * v;
      }
    }
    const A inv_n = A(1.0 / static_cast<double>(n));
    const A unbias = A(n > 1 ? static_cast<double>(n) / static_cast<double>(n - 1) : 1.0);
    const A momentum = A(state.momentum), keep_old = A(1.0 - state.momentum), eps = A(state.eps);
    auto& rm = state.running_mean->value;
    auto& rv = state.running_var->value;
    for (int64_t j = 0; j < m; ++j) {
      const A mean = s1[j] * inv_n;
      A var = s2[j] * inv_n - mean * mean;
      if (var < A(0)) var = A(0);
      node->mu[j] = static_cast<T>(mean);
      node->inv_std[j] = static_cast<T>(A(1) / sqrt(var + eps));
      if (state.update_running_stats) {
        rm(0, j) = static_cast<T>(keep_old * static_cast<A>(rm(0, j)) + momentum * mean);
        rv(0, j) = static_cast<T>(keep_old * static_cast<A>(rv(0, j)) + momentum * var * unbias);
      }
    }
  } else {
    for (int64_t j = 0; j < m; ++j) {
      node->mu[j] = state.running_mean->value(0, j);
      node->inv_std[j] = T(1) / sqrt(state.running_var->value(0, j) + T(state.eps));
    }
  }
  const bool drop = training && epilogue.dropout > 0.0;
  if (drop) {
    node->keep.resize(static_cast<size_t>(n * m));
    node->scale = static_cast<T>(1.0 / (1.0 - epilogue.dropout));
  }
  auto& y = node->mutable_value();
  y.resize(n, m);
  const T* gam = gamma.value().data();
  const T* bet = beta.value().data();
  const T* mup = node->mu.data();
  const T* isd = node->inv_std.data();
  const bool relu = epilogue.relu;
  const T scale = node->scale;
  const float threshold = static_cast<float>(epilogue.dropout);
  // Uniforms are drawn for a few rows at a time, chosen so every draw starts on a Philox group of 64
  // (a draw starting mid-group computes the whole group and throws part of it away).
  const int64_t rows_per_draw = drop ? 64 / std::gcd<int64_t>(m, 64) : n;
  std::vector<float> u(drop ? static_cast<size_t>(rows_per_draw * m) : 0);
  uint8_t* keep = node->keep.data();
  const detail::ReluSite site = relu ? detail::relu_site(*tape, n * m, "batch_norm_act") : detail::ReluSite{};
  node->frozen = site.replay;
  detail::with_relu_mode(site, [&](auto mode) {
  for (int64_t i0 = 0; i0 < n; i0 += rows_per_draw) {
    const int64_t i1 = std::min(n, i0 + rows_per_draw);
    // Element (i, j) uses stream index i * m + j, exactly as the standalone dropout op.
    if (drop) epilogue.dropout_rng.fill_uniform(std::span<float>(u.data(), static_cast<size_t>((i1 - i0) * m)),
                                                static_cast<uint64_t>(i0 * m));
    for (int64_t i = i0; i < i1; ++i) {
      const T* __restrict xi = xv.row(i).data();
      T* __restrict yi = y.row(i).data();
      for (int64_t j = 0; j < m; ++j) {
        const T v = gam[j] * ((xi[j] - mup[j]) * isd[j]) + bet[j];
        if constexpr (mode() == detail::ReluMode::kReplay) {
          yi[j] = site.replay[i * m + j] ? v : T(0);
        } else {
          yi[j] = relu && v < T(0) ? T(0) : v;
          if constexpr (mode() == detail::ReluMode::kRecord) site.record[i * m + j] = v > T(0);
        }
      }
      if (drop) {
        const float* __restrict ui = u.data() + (i - i0) * m;
        uint8_t* __restrict ki = keep + i * m;
        for (int64_t j = 0; j < m; ++j) {
          ki[j] = ui[j] >= threshold;
          yi[j] = ki[j] ? yi[j] * scale : T(0);
        }
      }
    }
  }
  });
  tape->set_requires_grad(node, {x, gamma, beta});
  return Var<T>(node, tape);
}

}  // namespace

template <typename T>
Var<T> batch_norm(Var<T> x, Var<T> gamma, Var<T> beta, const BatchNormState<T>& state, bool training) {
  BatchNormEpilogue none;
  none.relu = false;
  return batch_norm_impl(OpKind::kBatchNorm, x, gamma, beta, state, training, none);
}

template <typename T>
Var<T> batch_norm_act(Var<T> x, Var<T> gamma, Var<T> beta, const BatchNormState<T>& state, bool training,
                      const BatchNormEpilogue& epilogue) {
  return batch_norm_impl(OpKind::kBatchNormAct, x, gamma, beta, state, training, epilogue);
}

template <typename T>
Var<T> layer_norm(Var<T> x, Var<T> gamma, Var<T> beta, double eps) {
  const int64_t n = x.rows(), m = x.cols();
  if (gamma.rows() != 1 || gamma.cols() != m || beta.rows() != 1 || beta.cols() != m)
    fail("layer_norm: gamma/beta must be 1x{}", m);
  auto* tape = x.tape();
  auto* node = tape->template push<LayerNormNode<T>>(x.node(), gamma.node(), beta.node());
  const Mat<T>& xv = x.value();
  node->xhat.resize(n, m);
  node->inv_std.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    const T mu = xv.row(i).mean();
    const T var = (xv.row(i).array() - mu).square().mean();
    node->inv_std[i] = T(1) / sqrt(var + static_cast<T>(eps));
    node->xhat.row(i) = (xv.row(i).array() - mu) * node->inv_std[i];
  }
  node->mutable_value() = (node->xhat.array().rowwise() * gamma.value().row(0).array()).rowwise() + beta.value().row(0).array();
  return finish(tape, node, {x, gamma, beta});
}

#define RELFM_INSTANTIATE_NORM(T)                                                              \
  template Var<T> dropout<T>(Var<T>, double, const CounterRng&, bool, RowIds);                         \
  template Var<T> batch_norm<T>(Var<T>, Var<T>, Var<T>, const BatchNormState<T>&, bool);       \
  template Var<T> batch_norm_act<T>(Var<T>, Var<T>, Var<T>, const BatchNormState<T>&, bool,     \
                                    const BatchNormEpilogue&);                                  \
  template Var<T> layer_norm<T>(Var<T>, Var<T>, Var<T>, double);

RELFM_INSTANTIATE_NORM(float)
RELFM_INSTANTIATE_NORM(double)
RELFM_INSTANTIATE_NORM(Dual<double>)

}  // namespace relfm
