#include "src/nn/optim.hpp"

#include <cmath>

namespace relfm {
namespace {

template <typename T>
class Adam final : public Optimizer<T> {
 public:
  Adam(std::vector<Parameter<T>*> params, OptimizerConfig config, bool decoupled)
      : Optimizer<T>(std::move(params), std::move(config)), decoupled_(decoupled) {
    for (auto* p : this->params_) {
      m_.push_back(Mat<T>::Zero(p->value.rows(), p->value.cols()));
      v_.push_back(Mat<T>::Zero(p->value.rows(), p->value.cols()));
    }
  }

  void step() override {
    const auto& c = this->config_;
    ++this->steps_;
    const double bc1 = 1.0 - std::pow(c.beta1, static_cast<double>(this->steps_));
    const double bc2 = 1.0 - std::pow(c.beta2, static_cast<double>(this->steps_));
    const T step_size = static_cast<T>(c.lr / bc1);
    const T inv_sqrt_bc2 = static_cast<T>(1.0 / std::sqrt(bc2));
    const T b1 = static_cast<T>(c.beta1), b2 = static_cast<T>(c.beta2), eps = static_cast<T>(c.eps);
    const T wd = static_cast<T>(c.weight_decay);
    const T decay = static_cast<T>(1.0 - c.lr * c.weight_decay);
    for (size_t i = 0; i < this->params_.size(); ++i) {
      Parameter<T>* p = this->params_[i];
      if (!p->has_grad) continue;  // as PyTorch: a parameter without a gradient is left alone
      T* w = p->value.data();
      const T* g = p->grad.data();
      T* m = m_[i].data();
      T* v = v_[i].data();
      const int64_t n = p->value.size();
      for (int64_t k = 0; k < n; ++k) {
        T gk = g[k];
        if (decoupled_) {
          w[k] *= decay;
        } else if (wd != T(0)) {
          gk += wd * w[k];
        }
        m[k] = b1 * m[k] + (T(1) - b1) * gk;
        v[k] = b2 * v[k] + (T(1) - b2) * gk * gk;
        w[k] -= step_size * m[k] / (std::sqrt(v[k]) * inv_sqrt_bc2 + eps);
      }
    }
  }

  std::vector<std::pair<std::string, Mat<T>*>> state() override {
    std::vector<std::pair<std::string, Mat<T>*>> s;
    for (size_t i = 0; i < this->params_.size(); ++i) {
      s.emplace_back(this->params_[i]->name + "/exp_avg", &m_[i]);
      s.emplace_back(this->params_[i]->name + "/exp_avg_sq", &v_[i]);
    }
    return s;
  }

 private:
  bool decoupled_;
  std::vector<Mat<T>> m_, v_;
};

template <typename T>
class Sgd final : public Optimizer<T> {
 public:
  Sgd(std::vector<Parameter<T>*> params, OptimizerConfig config) : Optimizer<T>(std::move(params), std::move(config)) {
    if (this->config_.momentum != 0.0)
      for (auto* p : this->params_) buf_.push_back(Mat<T>::Zero(p->value.rows(), p->value.cols()));
  }

  void step() override {
    const auto& c = this->config_;
    const bool first = this->steps_ == 0;
    ++this->steps_;
    const T lr = static_cast<T>(c.lr), mu = static_cast<T>(c.momentum), wd = static_cast<T>(c.weight_decay);
    for (size_t i = 0; i < this->params_.size(); ++i) {
      Parameter<T>* p = this->params_[i];
      if (!p->has_grad) continue;
      T* w = p->value.data();
      const T* g = p->grad.data();
      const int64_t n = p->value.size();
      for (int64_t k = 0; k < n; ++k) {
        T d = g[k] + wd * w[k];
        if (mu != T(0)) {
          T& b = buf_[i].data()[k];
          b = first ? d : mu * b + d;  // PyTorch: the first step initialises the buffer with the gradient
          d = c.nesterov ? d + mu * b : b;
        }
        w[k] -= lr * d;
      }
    }
  }

  std::vector<std::pair<std::string, Mat<T>*>> state() override {
    std::vector<std::pair<std::string, Mat<T>*>> s;
    for (size_t i = 0; i < buf_.size(); ++i) s.emplace_back(this->params_[i]->name + "/momentum_buffer", &buf_[i]);
    return s;
  }

 private:
  std::vector<Mat<T>> buf_;
};

}  // namespace

template <typename T>
std::unique_ptr<Optimizer<T>> make_optimizer(std::vector<Parameter<T>*> params, const OptimizerConfig& config) {
  if (!(config.lr > 0.0)) fail_input("optimizer: learning rate must be positive, got {}", config.lr);
  if (config.name == "adam") return std::make_unique<Adam<T>>(std::move(params), config, false);
  if (config.name == "adamw") return std::make_unique<Adam<T>>(std::move(params), config, true);
  if (config.name == "sgd") return std::make_unique<Sgd<T>>(std::move(params), config);
  fail_input("unknown optimizer '{}' (known: adam, adamw, sgd)", config.name);
}

template <typename T>
std::unique_ptr<Optimizer<T>> make_optimizer(const ParamStore<T>& store, const OptimizerConfig& config) {
  return make_optimizer(store.trainable(), config);
}

template std::unique_ptr<Optimizer<float>> make_optimizer<float>(std::vector<Parameter<float>*>, const OptimizerConfig&);
template std::unique_ptr<Optimizer<double>> make_optimizer<double>(std::vector<Parameter<double>*>, const OptimizerConfig&);
template std::unique_ptr<Optimizer<float>> make_optimizer<float>(const ParamStore<float>&, const OptimizerConfig&);
template std::unique_ptr<Optimizer<double>> make_optimizer<double>(const ParamStore<double>&, const OptimizerConfig&);

}  // namespace relfm
