// GEMM backends, their registry, the correctness check and the timing (the start-up selection among
// them is gemm_selection.cpp).
#include "src/tensor/gemm.hpp"

#include "src/tensor/gemm_detail.hpp"

#include "src/core/error.hpp"
#include "src/core/types.hpp"

#include <Eigen/Core>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>

namespace relfm::gemm {

void register_openblas(std::map<std::string, Factory>& registry);          // gemm_openblas.cpp

namespace {

// ---- eigen ---------------------------------------------------------------------------------------

// The same Eigen expressions the ops used before the backend existed (`C.noalias() = A * B`, `+=`), on
// maps of the operands. The maps carry the allocation's alignment when the data have it (Mat's storage
// always does), because Eigen picks its traversal of small coefficient-based products from the
// destination's compile-time alignment: an unaligned map would round some entries differently.
template <int Align>
void eigen_product(const Product& p) {
  using CMap = Eigen::Map<const MatF, Align>;
  Eigen::Map<MatF, Align> c(p.c, p.m, p.n);
  auto run = [&](const auto& a, const auto& b) {
    if (p.accumulate)
      c.noalias() += a * b;
    else
      c.noalias() = a * b;
  };
  if (!p.trans_a && !p.trans_b) run(CMap(p.a, p.m, p.k), CMap(p.b, p.k, p.n));
  else if (!p.trans_a && p.trans_b) run(CMap(p.a, p.m, p.k), CMap(p.b, p.n, p.k).transpose());
  else if (p.trans_a && !p.trans_b) run(CMap(p.a, p.k, p.m).transpose(), CMap(p.b, p.k, p.n));
  else run(CMap(p.a, p.k, p.m).transpose(), CMap(p.b, p.n, p.k).transpose());
}

// A product whose operands are blocks of wider matrices: maps with row strides (no alignment assumed).
void eigen_strided_product(const Product& p) {
  using Stride = Eigen::OuterStride<>;
  using CMap = Eigen::Map<const MatF, Eigen::Unaligned, Stride>;
  Eigen::Map<MatF, Eigen::Unaligned, Stride> c(p.c, p.m, p.n, Stride(p.row_stride_c()));
  const CMap a(p.a, p.trans_a ? p.k : p.m, p.trans_a ? p.m : p.k, Stride(p.row_stride_a()));
  const CMap b(p.b, p.trans_b ? p.n : p.k, p.trans_b ? p.k : p.n, Stride(p.row_stride_b()));
  auto run = [&](const auto& x, const auto& y) {
    if (p.accumulate)
      c.noalias() += x * y;
    else
      c.noalias() = x * y;
  };
  if (!p.trans_a && !p.trans_b) run(a, b);
  else if (!p.trans_a && p.trans_b) run(a, b.transpose());
  else if (p.trans_a && !p.trans_b) run(a.transpose(), b);
  else run(a.transpose(), b.transpose());
}
bool is_aligned(const void* ptr) {
  return reinterpret_cast<uintptr_t>(ptr) % EIGEN_MAX_ALIGN_BYTES == 0;
}

class EigenBackend final : public Backend {
 public:
  std::string key() const override { return "eigen"; }
  std::string kernel() const override { return eigen_isa(); }
  void multiply(const Product& p) const override { eigen_multiply(p); }
  static void eigen_multiply(const Product& p) {
    if (!p.packed())
      eigen_strided_product(p);
    else if (is_aligned(p.a) && is_aligned(p.b) && is_aligned(p.c))
      eigen_product<Eigen::AlignedMax>(p);
    else
      eigen_product<Eigen::Unaligned>(p);
  }
};

// ---- registry and active backend -------------------------------------------------------------------

std::map<std::string, Factory>& registry() {
  static std::map<std::string, Factory> r = [] {
    std::map<std::string, Factory> m;
    m["eigen"] = [](const std::string& option) -> std::unique_ptr<Backend> {
      if (!option.empty()) fail_input("GEMM backend 'eigen' takes no kernel option (got 'eigen:{}')", option);
      return std::make_unique<EigenBackend>();
    };
    register_openblas(m);
    return m;
  }();
  return r;
}

// ---- test data -------------------------------------------------------------------------------------

// Deterministic values in [-1, 1): a check must not depend on the run.
void fill(std::vector<float>& v, uint64_t seed) {
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (float& x : v) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    x = static_cast<float>(static_cast<double>(s >> 40) / static_cast<double>(1ull << 23) - 1.0);
  }
}

// Entry (i, j) of op(X) for X stored row-major as (trans ? cols x rows : rows x cols) of op(X).
inline double at(const std::vector<float>& x, bool trans, int64_t i, int64_t j, int64_t rows, int64_t cols) {
  return trans ? x[static_cast<size_t>(j * rows + i)] : x[static_cast<size_t>(i * cols + j)];
}

std::string check_shape(const Backend& backend, int64_t m, int64_t n, int64_t k, bool ta, bool tb, bool accumulate,
                        uint64_t seed, int64_t pad = 0) {
  std::vector<float> a(static_cast<size_t>(m * k)), b(static_cast<size_t>(k * n)), c(static_cast<size_t>(m * n));
  fill(a, seed);
  fill(b, seed + 1);
  fill(c, seed + 2);
  // Mat-like storage: the ops always pass Eigen-allocated (aligned) buffers; copy there.
  MatF am = Eigen::Map<MatF>(a.data(), ta ? k : m, ta ? m : k);
  MatF bm = Eigen::Map<MatF>(b.data(), tb ? n : k, tb ? k : n);
  MatF cm = Eigen::Map<MatF>(c.data(), m, n);
  if (!accumulate) cm.setConstant(std::numeric_limits<float>::quiet_NaN());  // must be overwritten
  Product p{am.data(), bm.data(), cm.data(), m, n, k, ta, tb, accumulate};
  // Padded: each operand a block of a matrix `pad` columns wider (filled with NaN, which must stay unread
  // and, in C, unwritten), as one attention head's columns are.
  MatF ap, bp, cp;
  if (pad > 0) {
    auto widen = [&](const MatF& x, MatF& into) {
      into.setConstant(x.rows(), x.cols() + pad, std::numeric_limits<float>::quiet_NaN());
      into.leftCols(x.cols()) = x;
    };
    widen(am, ap);
    widen(bm, bp);
    widen(cm, cp);
    p = Product{ap.data(), bp.data(), cp.data(), m, n, k, ta, tb, accumulate, ap.cols(), bp.cols(), cp.cols()};
  }
  backend.multiply(p);
  if (pad > 0) {
    if (!cp.rightCols(pad).array().isNaN().all())
      return fmt::format("{}x{}x{} product with row strides (trans_a={}, trans_b={}, accumulate={}) wrote outside C", m, n, k, ta,
                         tb, accumulate);
    cm = cp.leftCols(n);
  }
  const double eps = std::numeric_limits<float>::epsilon();
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double ref = accumulate ? c[static_cast<size_t>(i * n + j)] : 0.0;
      double mag = std::abs(ref);
      for (int64_t q = 0; q < k; ++q) {
        const double x = at(a, ta, i, q, m, k), y = at(b, tb, q, j, k, n);
        ref += x * y;
        mag += std::abs(x * y);
      }
      const double got = cm(i, j);
      const double tol = 4.0 * static_cast<double>(k + 1) * eps * mag + 1e-30;
      if (!(std::abs(got - ref) <= tol))
        return fmt::format("{}x{}x{} product (trans_a={}, trans_b={}, accumulate={}): entry ({}, {}) is {} instead of {}",
                           m, n, k, ta, tb, accumulate, i, j, got, ref);
    }
  return "";
}

}  // namespace

std::pair<std::string, std::string> split_key(const std::string& key) {
  const auto colon = key.find(':');
  if (colon == std::string::npos) return {key, ""};
  return {key.substr(0, colon), key.substr(colon + 1)};
}

bool has_backend(const std::string& name) { return registry().count(name) > 0; }

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// ---- public API ---------------------------------------------------------------------------------------

Factory register_backend(const std::string& name, Factory factory) {
  Factory previous;
  auto& r = registry();
  if (auto it = r.find(name); it != r.end()) previous = std::move(it->second);
  if (factory)
    r[name] = std::move(factory);
  else
    r.erase(name);
  return previous;
}

std::vector<std::string> backend_names() {
  std::vector<std::string> names;
  for (const auto& [name, f] : registry()) names.push_back(name);
  return names;
}

std::unique_ptr<Backend> make_backend(const std::string& key) {
  const auto [name, option] = split_key(key);
  const auto it = registry().find(name);
  if (it == registry().end()) {
    std::string choices;
    for (const auto& n : backend_names()) choices += (choices.empty() ? "" : ", ") + n;
    fail_input("unknown GEMM backend '{}' (choices: auto, {}; openblas:<Core> picks an OpenBLAS kernel)", key, choices);
  }
  return it->second(option);
}

std::string check(const Backend& backend) {
  struct Shape {
    int64_t m, n, k;
  };
  // One shape per dispatch branch of the backends: coefficient-based (m+n+k < 20), dot (1x1), gemv with
  // one result column and with one result row, an outer product (k = 1, the gradient of a one-task head),
  // and general products, one with a depth past OpenBLAS's K blocking (the weight gradients sum over atoms).
  const Shape shapes[] = {{5, 6, 4}, {1, 1, 300}, {130, 1, 300}, {1, 130, 300}, {60, 50, 1}, {67, 45, 301}, {33, 70, 1100}};
  uint64_t seed = 1;
  for (const Shape& s : shapes)
    for (int t = 0; t < 4; ++t)
      for (bool accumulate : {false, true}) {
        std::string err = check_shape(backend, s.m, s.n, s.k, t & 1, t & 2, accumulate, seed);
        seed += 3;
        if (!err.empty()) return err;
      }
  // Blocks of wider matrices (row strides): Diffuser's tiles, one head's columns of 256 (32 x 64 by 96),
  // and the other branches once each.
  const Shape strided[] = {{32, 64, 96}, {96, 64, 32}, {32, 96, 320}, {5, 6, 4}, {130, 1, 300}, {1, 130, 300}};
  for (const Shape& s : strided)
    for (int t = 0; t < 4; ++t)
      for (bool accumulate : {false, true}) {
        std::string err = check_shape(backend, s.m, s.n, s.k, t & 1, t & 2, accumulate, seed, 192);
        seed += 3;
        if (!err.empty()) return err;
      }
  return "";
}

double measure_gflops(const Backend& backend, int64_t rows, int64_t hidden, int passes) {
  const int64_t n = rows, h = hidden;
  auto make = [](int64_t r, int64_t c, uint64_t seed) {
    std::vector<float> v(static_cast<size_t>(r * c));
    fill(v, seed);
    return MatF(Eigen::Map<MatF>(v.data(), r, c));
  };
  const MatF x = make(n, h, 11), w1 = make(h, 2 * h, 12), z = make(n, 2 * h, 13), w2 = make(2 * h, h, 14),
             g = make(n, h, 15), gz = make(n, 2 * h, 16);
  MatF y1(n, 2 * h), y2(n, h), dz(n, 2 * h), dw2(2 * h, h), dx(n, h), dw1(h, 2 * h);
  // The six products of one GIN layer: forward h -> 2h -> h, and each layer's input and weight gradient.
  const Product products[] = {
      {x.data(), w1.data(), y1.data(), n, 2 * h, h, false, false, false},   // y1 = x w1
      {z.data(), w2.data(), y2.data(), n, h, 2 * h, false, false, false},   // y2 = z w2
      {g.data(), w2.data(), dz.data(), n, 2 * h, h, false, true, false},    // dz = g w2^T
      {z.data(), g.data(), dw2.data(), 2 * h, h, n, true, false, false},    // dw2 = z^T g
      {gz.data(), w1.data(), dx.data(), n, h, 2 * h, false, true, false},   // dx = gz w1^T
      {x.data(), gz.data(), dw1.data(), h, 2 * h, n, true, false, false},   // dw1 = x^T gz
  };
  backend.multiply(products[0]);  // warm-up: pages, caches, lazy initialisation
  double best = std::numeric_limits<double>::infinity();
  for (int pass = 0; pass < std::max(passes, 1); ++pass) {
    const auto t0 = std::chrono::steady_clock::now();
    for (const Product& p : products) backend.multiply(p);
    best = std::min(best, seconds_since(t0));
  }
  const double flops = 6.0 * 2.0 * static_cast<double>(n) * static_cast<double>(h) * static_cast<double>(2 * h);
  return flops / best / 1e9;
}

std::string eigen_isa() {
#if defined(EIGEN_VECTORIZE_AVX512)
  return "AVX-512";
#elif defined(EIGEN_VECTORIZE_AVX2)
  return "AVX2";
#elif defined(EIGEN_VECTORIZE_AVX)
  return "AVX";
#elif defined(EIGEN_VECTORIZE_SSE2)
  return "SSE2";
#else
  return "scalar";
#endif
}

}  // namespace relfm::gemm
