// Reverse-mode automatic differentiation on a tape.
//
// Operations (ops.hpp) append Nodes to a Tape in execution order; Tape::backward walks the tape once
// in reverse, so a value used by several consumers simply accumulates their contributions. A Node
// owns its value unless it is a parameter leaf, whose value and gradient alias the Parameter (no copy
// per step; gradients accumulate across backward passes until Parameter::zero_grad()).
//
// The scalar type T is float for training and double for gradient checks; every op is instantiated
// for both.
#pragma once

#include "src/core/error.hpp"
#include "src/core/types.hpp"
#include "src/tensor/op_kind.hpp"
#include "src/tensor/parameter.hpp"
#include "src/tensor/relu_pattern.hpp"

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <unordered_set>
#include <vector>

namespace relfm {

template <typename T>
class Tape;

// Time spent per op kind, for finding where a step goes. Forward time of a node is measured from its
// creation to the next node's creation, so host work between ops is charged to the op before it.
struct OpProfile {
  std::array<double, static_cast<size_t>(OpKind::kCount)> forward_seconds{};
  std::array<double, static_cast<size_t>(OpKind::kCount)> backward_seconds{};
  std::array<int64_t, static_cast<size_t>(OpKind::kCount)> calls{};
  std::string table() const;  // one line per op kind, sorted by total time
};

template <typename T>
class Node {
 public:
  explicit Node(OpKind op) : op_(op) {}
  virtual ~Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  OpKind op() const { return op_; }
  const Mat<T>& value() const { return *value_; }
  Mat<T>& mutable_value() { return *value_; }
  bool requires_grad() const { return requires_grad_; }

  // d(root)/d(value); meaningful only when has_grad().
  bool has_grad() const { return *grad_ready_; }
  const Mat<T>& grad() const { return *grad_; }

  // --- for op implementations -----------------------------------------------------------------
  // grad += g (or grad = g on first contribution). No-op unless this node requires a gradient.
  template <typename Expr>
  void accumulate_grad(const Expr& g) {
    if (!requires_grad_) return;
    if (!*grad_ready_) {
      grad_->noalias() = g;
      *grad_ready_ = true;
    } else {
      grad_->noalias() += g;
    }
  }
  // The gradient buffer, zero-filled on first use in this pass, for kernels that scatter into it.
  Mat<T>& grad_accumulator() {
    if (!*grad_ready_) {
      grad_->setZero(value_->rows(), value_->cols());
      *grad_ready_ = true;
    }
    return *grad_;
  }
  // For kernels that write a whole gradient in one pass: returns the buffer (resized, not cleared) and
  // sets *accumulate to whether the kernel must add to it (an earlier contribution exists) or assign.
  Mat<T>& grad_for_write(bool* accumulate) {
    *accumulate = *grad_ready_;
    if (!*grad_ready_) {
      grad_->resize(value_->rows(), value_->cols());
      *grad_ready_ = true;
    }
    return *grad_;
  }
  // Propagates grad() into the inputs' gradients.
  virtual void backward() {}
  // For a parameter leaf whose product gradients the tape defers (Tape::defer_products): where they go.
  std::vector<std::function<void()>>* deferred_products() const { return deferred_products_; }
  // True for nodes whose backward is itself a collective call (all_gather_rows): every rank must enter
  // it, so the tape runs it even on a rank whose loss ignored the node (with a zero gradient).
  virtual bool is_collective() const { return false; }

 protected:
  friend class Tape<T>;
  OpKind op_;
  bool requires_grad_ = false;
  Mat<T> own_value_;
  Mat<T> own_grad_;
  bool own_grad_ready_ = false;
  Mat<T>* value_ = &own_value_;
  Mat<T>* grad_ = &own_grad_;
  bool* grad_ready_ = &own_grad_ready_;
  std::vector<std::function<void()>>* deferred_products_ = nullptr;
};

// A handle to a node on a tape; cheap to copy. A default-constructed Var is "absent" (e.g. no bias).
template <typename T>
class Var {
 public:
  Var() = default;
  Var(Node<T>* node, Tape<T>* tape) : node_(node), tape_(tape) {}

  explicit operator bool() const { return node_ != nullptr; }
  Node<T>* node() const { return node_; }
  Tape<T>* tape() const { return tape_; }
  const Mat<T>& value() const { return node_->value(); }
  const Mat<T>& grad() const { return node_->grad(); }
  bool has_grad() const { return node_->has_grad(); }
  bool requires_grad() const { return node_->requires_grad(); }
  int64_t rows() const { return node_->value().rows(); }
  int64_t cols() const { return node_->value().cols(); }

 private:
  Node<T>* node_ = nullptr;
  Tape<T>* tape_ = nullptr;
};

template <typename T>
class Tape {
 public:
  Tape() = default;
  Tape(const Tape&) = delete;
  Tape& operator=(const Tape&) = delete;

  // A leaf holding a copy of `value`.
  Var<T> input(Mat<T> value, bool requires_grad = false) {
    auto* node = push<Node<T>>(OpKind::kLeaf);
    node->own_value_ = std::move(value);
    node->requires_grad_ = requires_grad;
    return Var<T>(node, this);
  }
  // A leaf aliasing a parameter: no copy; its gradient accumulates into parameter.grad.
  Var<T> param(Parameter<T>& parameter) {
    auto* node = push<Node<T>>(OpKind::kLeaf);
    node->value_ = &parameter.value;
    node->grad_ = &parameter.grad;
    node->grad_ready_ = &parameter.has_grad;
    node->requires_grad_ = parameter.trainable && grad_enabled_;
    if (deferred_params_ && deferred_params_->count(&parameter)) node->deferred_products_ = &deferred_;
    return Var<T>(node, this);
  }

  // The weight-gradient products (dW = X^T G of linear and matmul) of `params`' leaves recorded after this
  // call are not computed by backward() but kept, to be run later by run_deferred_products(): a rank with
  // nothing to do while another computes can do them then (MolGroup's meta step). The results are the
  // same products of the same operands, so the same bits; the tape must live until they have run. Every
  // contribution of such a parameter must be a product (a parameter used only by linear and matmul).
  void defer_products(const std::unordered_set<const Parameter<T>*>* params) { deferred_params_ = params; }
  void run_deferred_products() {
    for (auto& f : deferred_) f();
    deferred_.clear();
  }
  size_t deferred_product_count() const { return deferred_.size(); }

  // Used by ops: appends a node; the node requires a gradient iff recording is on and any input does.
  template <typename NodeT, typename... Args>
  NodeT* push(Args&&... args) {
    if (profile_) charge_forward();
    auto node = std::make_unique<NodeT>(std::forward<Args>(args)...);
    NodeT* raw = node.get();
    nodes_.push_back(std::move(node));
    return raw;
  }
  template <typename NodeT>
  void set_requires_grad(NodeT* node, std::initializer_list<Var<T>> inputs) {
    bool any = false;
    for (const Var<T>& v : inputs) any = any || (v && v.requires_grad());
    node->requires_grad_ = grad_enabled_ && any;
  }

  // Collective nodes require a gradient whenever recording is on, whatever their inputs: whether a rank
  // joins the backward's collective call must not depend on what that rank's inputs happen to need.
  template <typename NodeT>
  void set_requires_grad_collective(NodeT* node) {
    node->requires_grad_ = grad_enabled_;
  }

  // Seeds d(root)/d(root) = 1 for a 1x1 root and runs every recorded backward in reverse order.
  void backward(Var<T> root) {
    RELFM_CHECK(root.rows() == 1 && root.cols() == 1, "backward needs a scalar root, got {}x{}", root.rows(),
                root.cols());
    Node<T>* r = root.node();
    if (profile_) charge_forward();
    // No early return when the root needs no gradient: collective nodes below must still run.
    if (r->requires_grad_) r->accumulate_grad(Mat<T>::Ones(1, 1));
    for (auto it = nodes_.rbegin(); it != nodes_.rend(); ++it) {
      Node<T>* n = it->get();
      if (!n->requires_grad_ || n->op_ == OpKind::kLeaf) continue;
      if (!n->has_grad()) {
        // A node nothing flowed into contributes nothing, except that a collective node's peers on other
        // ranks are waiting in its backward: join them with a zero gradient instead of hanging them.
        if (!n->is_collective()) continue;
        n->grad_accumulator();
      }
      if (!profile_) {
        n->backward();
        continue;
      }
      const auto t0 = std::chrono::steady_clock::now();
      n->backward();
      profile_->backward_seconds[static_cast<size_t>(n->op_)] +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
  }

  // Accumulates per-op timings into `profile` (null to stop). The profile must outlive the recording.
  void set_profile(OpProfile* profile) {
    profile_ = profile;
    last_push_ = std::chrono::steady_clock::now();
  }

  // Forgets every node (parameter gradients stay in the parameters).
  void clear() { nodes_.clear(); }
  // Inference only (recording off): drops every node recorded since `mark` (an earlier size()) and
  // returns a new leaf holding `keep`'s value, so a layer-by-layer forward holds one layer's activations
  // instead of all of them. Vars to the dropped nodes become invalid; nodes before `mark` are untouched.
  Var<T> compact_since(size_t mark, Var<T> keep) {
    RELFM_CHECK(!grad_enabled_, "Tape::compact_since needs recording off");
    RELFM_CHECK(mark <= nodes_.size(), "Tape::compact_since: mark {} beyond the tape's {} nodes", mark, nodes_.size());
    Mat<T> value = keep.value();
    nodes_.erase(nodes_.begin() + static_cast<std::ptrdiff_t>(mark), nodes_.end());
    return input(std::move(value));
  }
  size_t size() const { return nodes_.size(); }
  std::vector<OpKind> op_kinds() const {
    std::vector<OpKind> kinds;
    kinds.reserve(nodes_.size());
    for (const auto& n : nodes_) kinds.push_back(n->op());
    return kinds;
  }

  // When off, ops record no gradient requirement (inference): nothing is saved for backward.
  void set_grad_enabled(bool enabled) { grad_enabled_ = enabled; }
  bool grad_enabled() const { return grad_enabled_; }

  // Relus on this tape record into, or replay, `pattern` (relu_pattern.hpp); null (the default) lets
  // every relu decide from its input.
  void set_relu_pattern(ReluPattern* pattern) { relu_pattern_ = pattern; }
  ReluPattern* relu_pattern() const { return relu_pattern_; }

 private:
  void charge_forward() {
    const auto now = std::chrono::steady_clock::now();
    if (!nodes_.empty()) {
      const auto k = static_cast<size_t>(nodes_.back()->op_);
      profile_->forward_seconds[k] += std::chrono::duration<double>(now - last_push_).count();
      profile_->calls[k] += 1;
    }
    last_push_ = now;
  }

  std::vector<std::unique_ptr<Node<T>>> nodes_;
  const std::unordered_set<const Parameter<T>*>* deferred_params_ = nullptr;
  std::vector<std::function<void()>> deferred_;
  bool grad_enabled_ = true;
  ReluPattern* relu_pattern_ = nullptr;
  OpProfile* profile_ = nullptr;
  std::chrono::steady_clock::time_point last_push_;
};

}  // namespace relfm
