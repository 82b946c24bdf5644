// Dropout, batch normalisation and layer normalisation.
#include "src/tensor/ops.hpp"

#include <cmath>
#include <span>

namespace relfm {
namespace {

template <typename T>
Var<T> finish(Tape<T>* tape, Node<T>* node, std::initializer_list<Var<T>> inputs) {
  tape->set_requires_grad(node, inputs);
  return Var<T>(node, tape);
}

template <typename T>
struct DropoutNode final : Node<T> {
  Node<T>* x;
  std::vector<uint8_t> keep;
  T scale;
  DropoutNode(Node<T>* x_, T s) : Node<T>(OpKind::kDropout), x(x_), scale(s) {}
  void backward() override {
    if (!x->requires_grad()) return;
    const Mat<T>& g = this->grad();
    Mat<T> gx(g.rows(), g.cols());
    const T* gp = g.data();
    T* out = gx.data();
    const int64_t n = g.size();
    for (int64_t k = 0; k < n; ++k) out[k] = keep[k] ? gp[k] * scale : T(0);
    x->accumulate_grad(gx);
  }
};

template <typename T>
struct BatchNormNode final : Node<T> {
  Node<T>* x;
  Node<T>* gamma;
  Node<T>* beta;
  Mat<T> xhat;                               // normalised input
  Eigen::Matrix<T, 1, Eigen::Dynamic> inv_std;
  bool training;
  BatchNormNode(Node<T>* x_, Node<T>* g_, Node<T>* b_, bool t)
      : Node<T>(OpKind::kBatchNorm), x(x_), gamma(g_), beta(b_), training(t) {}
  void backward() override {
    const Mat<T>& g = this->grad();
    const int64_t n = g.rows(), m = g.cols();
    Eigen::Matrix<T, 1, Eigen::Dynamic> sum_g = g.colwise().sum();
    Eigen::Matrix<T, 1, Eigen::Dynamic> sum_g_xhat = g.cwiseProduct(xhat).colwise().sum();
    if (beta->requires_grad()) beta->accumulate_grad(sum_g);
    if (gamma->requires_grad()) gamma->accumulate_grad(sum_g_xhat);
    if (!x->requires_grad()) return;
    const T* gam = gamma->value().data();
    Mat<T> gx(n, m);
    if (training) {
      // dx = gamma * inv_std / n * (n g - sum(g) - xhat * sum(g xhat))
      Eigen::Matrix<T, 1, Eigen::Dynamic> a(m), b(m), c(m);
      for (int64_t j = 0; j < m; ++j) {
        a[j] = gam[j] * inv_std[j];
        b[j] = a[j] * sum_g[j] / static_cast<T>(n);
        c[j] = a[j] * sum_g_xhat[j] / static_cast<T>(n);
      }
      for (int64_t i = 0; i < n; ++i) {
        const T* gi = g.row(i).data();
        const T* xi = xhat.row(i).data();
        T* oi = gx.row(i).data();
        for (int64_t j = 0; j < m; ++j) oi[j] = a[j] * gi[j] - b[j] - c[j] * xi[j];
      }
    } else {
      Eigen::Matrix<T, 1, Eigen::Dynamic> a = gamma->value().cwiseProduct(inv_std);
      gx = g.array().rowwise() * a.array();
    }
    x->accumulate_grad(gx);
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
Var<T> dropout(Var<T> x, double p, const CounterRng& rng, bool training) {
  if (p < 0.0 || p >= 1.0) fail("dropout: probability {} outside [0, 1)", p);
  if (!training || p == 0.0) return x;
  auto* tape = x.tape();
  auto* node = tape->template push<DropoutNode<T>>(x.node(), static_cast<T>(1.0 / (1.0 - p)));
  const int64_t n = x.value().size();
  std::vector<float> u(static_cast<size_t>(n));
  rng.fill_uniform(u);
  node->keep.resize(static_cast<size_t>(n));
  const float threshold = static_cast<float>(p);
  auto& y = node->mutable_value();
  y.resize(x.rows(), x.cols());
  const T* xp = x.value().data();
  T* yp = y.data();
  for (int64_t k = 0; k < n; ++k) {
    const bool keep = u[k] >= threshold;
    node->keep[k] = keep;
    yp[k] = keep ? xp[k] * node->scale : T(0);
  }
  return finish(tape, node, {x});
}

template <typename T>
Var<T> batch_norm(Var<T> x, Var<T> gamma, Var<T> beta, const BatchNormState<T>& state, bool training) {
  const int64_t n = x.rows(), m = x.cols();
  if (gamma.rows() != 1 || gamma.cols() != m || beta.rows() != 1 || beta.cols() != m)
    fail("batch_norm: gamma/beta must be 1x{}", m);
  if (!state.running_mean || !state.running_var) fail("batch_norm: running statistics are not bound");
  if (n == 0) fail("batch_norm: empty batch");
  auto* tape = x.tape();
  auto* node = tape->template push<BatchNormNode<T>>(x.node(), gamma.node(), beta.node(), training);
  const Mat<T>& xv = x.value();
  auto& y = node->mutable_value();
  node->inv_std.resize(m);
  Eigen::Matrix<T, 1, Eigen::Dynamic> mu(m);
  if (training) {
    mu = xv.colwise().mean();
    Eigen::Matrix<T, 1, Eigen::Dynamic> var = Eigen::Matrix<T, 1, Eigen::Dynamic>::Zero(m);
    for (int64_t i = 0; i < n; ++i) {
      const T* xi = xv.row(i).data();
      for (int64_t j = 0; j < m; ++j) {
        const T dlt = xi[j] - mu[j];
        var[j] += dlt * dlt;
      }
    }
    var /= static_cast<T>(n);
    for (int64_t j = 0; j < m; ++j) node->inv_std[j] = T(1) / std::sqrt(var[j] + static_cast<T>(state.eps));
    if (state.update_running_stats) {
      const T mom = static_cast<T>(state.momentum);
      const T unbias = n > 1 ? static_cast<T>(n) / static_cast<T>(n - 1) : T(1);
      auto& rm = state.running_mean->value;
      auto& rv = state.running_var->value;
      rm = (T(1) - mom) * rm + mom * mu;
      rv = (T(1) - mom) * rv + (mom * unbias) * var;
    }
  } else {
    mu = state.running_mean->value;
    for (int64_t j = 0; j < m; ++j)
      node->inv_std[j] = T(1) / std::sqrt(state.running_var->value(0, j) + static_cast<T>(state.eps));
  }
  node->xhat.resize(n, m);
  y.resize(n, m);
  const T* gam = gamma.value().data();
  const T* bet = beta.value().data();
  for (int64_t i = 0; i < n; ++i) {
    const T* xi = xv.row(i).data();
    T* hi = node->xhat.row(i).data();
    T* yi = y.row(i).data();
    for (int64_t j = 0; j < m; ++j) {
      hi[j] = (xi[j] - mu[j]) * node->inv_std[j];
      yi[j] = gam[j] * hi[j] + bet[j];
    }
  }
  return finish(tape, node, {x, gamma, beta});
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
    node->inv_std[i] = T(1) / std::sqrt(var + static_cast<T>(eps));
    node->xhat.row(i) = (xv.row(i).array() - mu) * node->inv_std[i];
  }
  node->mutable_value() = (node->xhat.array().rowwise() * gamma.value().row(0).array()).rowwise() + beta.value().row(0).array();
  return finish(tape, node, {x, gamma, beta});
}

#define RELFM_INSTANTIATE_NORM(T)                                                              \
  template Var<T> dropout<T>(Var<T>, double, const CounterRng&, bool);                         \
  template Var<T> batch_norm<T>(Var<T>, Var<T>, Var<T>, const BatchNormState<T>&, bool);       \
  template Var<T> layer_norm<T>(Var<T>, Var<T>, Var<T>, double);

RELFM_INSTANTIATE_NORM(float)
RELFM_INSTANTIATE_NORM(double)

}  // namespace relfm
