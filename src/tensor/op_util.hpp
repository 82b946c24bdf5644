// Shared by the ops_*.cpp files (not part of the public op API).
#pragma once

#include "src/core/collective.hpp"
#include "src/core/rng.hpp"
#include "src/graph/csr.hpp"
#include "src/tensor/dual.hpp"
#include "src/tensor/gemm.hpp"
#include "src/tensor/tape.hpp"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <span>
#include <string_view>
#include <type_traits>

namespace relfm::detail {

// Completes an op: the node requires a gradient when recording is on and any input requires one.
template <typename T>
Var<T> finish(Tape<T>* tape, Node<T>* node, std::initializer_list<Var<T>> inputs) {
  tape->set_requires_grad(node, inputs);
  return Var<T>(node, tape);
}

// c = op(a) op(b), or c += op(a) op(b) when `accumulate` (c must then have the result's shape). Float
// products go to the active GEMM backend (src/tensor/gemm.hpp); double and Dual keep Eigen's expression,
// so gradient checks and second-order tangents do not depend on the backend.
template <typename T>
void product_into(Mat<T>& c, bool accumulate, const Mat<T>& a, bool trans_a, const Mat<T>& b, bool trans_b) {
  const int64_t m = trans_a ? a.cols() : a.rows(), k = trans_a ? a.rows() : a.cols();
  const int64_t n = trans_b ? b.rows() : b.cols();
  RELFM_CHECK((trans_b ? b.cols() : b.rows()) == k, "product of {}x{} and {}x{} (trans {} {})", a.rows(), a.cols(),
              b.rows(), b.cols(), trans_a, trans_b);
  if (accumulate)
    RELFM_CHECK(c.rows() == m && c.cols() == n, "accumulating a {}x{} product into {}x{}", m, n, c.rows(), c.cols());
  if constexpr (std::is_same_v<T, float>) {
    if (!accumulate) c.resize(m, n);
    gemm::multiply({a.data(), b.data(), c.data(), m, n, k, trans_a, trans_b, accumulate});
  } else {
    auto run = [&](const auto& x, const auto& y) {
      if (accumulate)
        c.noalias() += x * y;
      else
        c.noalias() = x * y;
    };
    if (!trans_a && !trans_b) run(a, b);
    else if (!trans_a) run(a, b.transpose());
    else if (!trans_b) run(a.transpose(), b);
    else run(a.transpose(), b.transpose());
  }
}

// node.grad (+)= op(a) op(b): the gradient contribution of a product, assigned on the first contribution of
// the pass and accumulated afterwards, as Node::accumulate_grad does.
template <typename T>
void accumulate_product_now(Node<T>* node, const Mat<T>& a, bool trans_a, const Mat<T>& b, bool trans_b) {
  bool accumulate = false;
  Mat<T>& g = node->grad_for_write(&accumulate);
  product_into(g, accumulate, a, trans_a, b, trans_b);
}
template <typename T>
void accumulate_product(Node<T>* node, const Mat<T>& a, bool trans_a, const Mat<T>& b, bool trans_b) {
  if (!node->requires_grad()) return;
  if (auto* later = node->deferred_products()) {  // a parameter's product the tape runs later (Tape::defer_products)
    // The operands are tape values and gradients that are final once this op's backward runs: they stay.
    later->push_back([node, &a, trans_a, &b, trans_b] { accumulate_product_now(node, a, trans_a, b, trans_b); });
    return;
  }
  accumulate_product_now(node, a, trans_a, b, trans_b);
}

// The uniforms behind inverted dropout's masks (dropout in ops.hpp; element e kept when its uniform >= p):
// calls use(u, base, len) for consecutive chunks of a rows x cols (row-major) matrix, u[k] being the uniform
// of element base + k, which is element row_ids[r] * cols + c of the whole when row_ids are given (a rank's
// rows of a split matrix take the masks they have in the whole). Chunks stay cache-resident.
template <typename Use>
void dropout_uniforms(const CounterRng& rng, int64_t rows, int64_t cols, const std::vector<int64_t>* row_ids, Use&& use) {
  constexpr int64_t kChunk = 256;
  float u[kChunk];
  if (!row_ids) {
    const int64_t n = rows * cols;
    for (int64_t base = 0; base < n; base += kChunk) {
      const int64_t len = std::min(kChunk, n - base);
      rng.fill_uniform(std::span<float>(u, static_cast<size_t>(len)), static_cast<uint64_t>(base));
      use(static_cast<const float*>(u), base, len);
    }
    return;
  }
  RELFM_CHECK(static_cast<int64_t>(row_ids->size()) == rows, "dropout: {} row ids for {} rows", row_ids->size(), rows);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; c += kChunk) {
      const int64_t len = std::min(kChunk, cols - c);
      rng.fill_uniform(std::span<float>(u, static_cast<size_t>(len)), static_cast<uint64_t>((*row_ids)[static_cast<size_t>(r)] * cols + c));
      use(static_cast<const float*>(u), r * cols + c, len);
    }
}

// exp of n contiguous values in place: Eigen's vectorised exp for floats and doubles, std::exp per element
// for Dual numbers (their tangents).
template <typename T>
void exp_in_place(T* x, int64_t n) {
  if constexpr (std::is_floating_point_v<T>) {
    Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>> run(x, n);
    run = run.exp();
  } else {
    using std::exp;
    for (int64_t k = 0; k < n; ++k) x[k] = exp(x[k]);
  }
}
// Edge softmax (ops.hpp) of the pattern rows [first, end), each in one visit: a = softmax of s over the row's
// entries, per head column; and its backward, gs = a (g - sum_row a g), for the same rows.
template <typename T> void edge_softmax_rows(const Csr& p, const Mat<T>& s, Mat<T>& a, int64_t first, int64_t end);
template <typename T>
void edge_softmax_rows_backward(const Csr& p, const Mat<T>& a, const Mat<T>& g, Mat<T>& gs, int64_t first, int64_t end);

// How the relu of an op over n elements decides, under the tape's relu pattern (relu_pattern.hpp):
// from its input (kPlain), from its input while recording the mask, or from a recorded mask.
enum class ReluMode { kPlain, kRecord, kReplay };
struct ReluSite {
  ReluMode mode = ReluMode::kPlain;
  uint8_t* record = nullptr;        // kRecord: the op writes 1 where its relu input is > 0
  const uint8_t* replay = nullptr;  // kReplay: the op passes element e iff replay[e]; its backward too
};
template <typename T>
ReluSite relu_site(const Tape<T>& tape, int64_t n, std::string_view op) {
  ReluPattern* pattern = tape.relu_pattern();
  if (!pattern) return {};
  if (pattern->mode() == ReluPattern::Mode::kRecord) return {ReluMode::kRecord, pattern->next_to_record(n), nullptr};
  return {ReluMode::kReplay, nullptr, pattern->next_to_replay(n, op)};
}
// relu(v) for element e of a site in mode kMode (a template argument, so plain loops stay branch-free).
template <ReluMode kMode, typename T>
inline T relu_at(T v, uint8_t* __restrict record, const uint8_t* __restrict replay, int64_t e) {
  if constexpr (kMode == ReluMode::kReplay) {
    return replay[e] ? v : T(0);
  } else {
    const bool on = v > T(0);
    if constexpr (kMode == ReluMode::kRecord) record[e] = on;
    return on ? v : T(0);
  }
}
// Calls f(std::integral_constant<ReluMode, mode>) for the site's mode.
template <typename F>
void with_relu_mode(const ReluSite& site, F&& f) {
  switch (site.mode) {
    case ReluMode::kPlain: return f(std::integral_constant<ReluMode, ReluMode::kPlain>{});
    case ReluMode::kRecord: return f(std::integral_constant<ReluMode, ReluMode::kRecord>{});
    case ReluMode::kReplay: return f(std::integral_constant<ReluMode, ReluMode::kReplay>{});
  }
}

// Width of one head's slice of d features; fails unless `heads` divides d.
inline int64_t head_width(const char* op, int64_t d, int64_t heads) {
  if (heads < 1 || d % heads != 0) fail("{}: {} features do not split into {} heads", op, d, heads);
  return d / heads;
}

// What goes over the wire: float and double as themselves; a Dual<double> as its (value, tangent) pair
// of doubles, since gathering copies both and summing adds both, exactly as the Dual arithmetic would.
template <typename T>
struct Wire {
  using type = T;
  static constexpr int64_t width = 1;
};
template <>
struct Wire<Dual<double>> {
  static_assert(sizeof(Dual<double>) == 2 * sizeof(double), "Dual<double> must be a plain pair of doubles");
  using type = double;
  static constexpr int64_t width = 2;
};
template <typename T>
typename Wire<T>::type* wire(T* p) {
  return reinterpret_cast<typename Wire<T>::type*>(p);
}
template <typename T>
const typename Wire<T>::type* wire(const T* p) {
  return reinterpret_cast<const typename Wire<T>::type*>(p);
}
template <typename T>
std::vector<int64_t> wire_counts(std::vector<int64_t> counts) {
  for (int64_t& c : counts) c *= Wire<T>::width;
  return counts;
}

// In-place sum over the ranks of `comm` of a matrix.
template <typename T>
void allreduce_sum(const Communicator& comm, Mat<T>& m) {
  comm.allreduce_sum(wire(m.data()), static_cast<size_t>(m.size() * Wire<T>::width));
}

}  // namespace relfm::detail
