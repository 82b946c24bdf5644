// GEMM backends, their registry, the correctness check, the timing and the start-up selection.
#include "src/tensor/gemm.hpp"

#include "src/core/error.hpp"
#include "src/core/types.hpp"

#include <Eigen/Core>
#include <cpuid.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>

namespace relfm::gemm {

void register_openblas(std::map<std::string, Factory>& registry);          // gemm_openblas.cpp

namespace {

// A candidate within this fraction of the fastest one's rate counts as fast enough (the issue asks
// relfm's GEMM rate to be at least 0.9x the best correct backend's).
constexpr double kAutoMargin = 0.9;

// Best of two passes per candidate: one pass on a shared core can lose half its rate to a neighbour.
constexpr int kProbePasses = 2;

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

bool is_aligned(const void* ptr) {
  return reinterpret_cast<uintptr_t>(ptr) % EIGEN_MAX_ALIGN_BYTES == 0;
}

class EigenBackend final : public Backend {
 public:
  std::string key() const override { return "eigen"; }
  std::string kernel() const override { return eigen_isa(); }
  void multiply(const Product& p) const override { eigen_multiply(p); }
  static void eigen_multiply(const Product& p) {
    if (is_aligned(p.a) && is_aligned(p.b) && is_aligned(p.c))
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

struct State {
  std::unique_ptr<Backend> active = std::make_unique<EigenBackend>();
  bool probed = false;
  std::vector<Candidate> candidates;
  double probe_seconds = 0;
  Selection selection;
  std::string pending_key = "eigen";
  bool pending_forced = false;
  std::string pending_how = "default";
  std::string pending_request = "auto";
};

State& state() {
  static State s = [] {
    State st;
    st.selection.key = "eigen";
    st.selection.backend = "eigen";
    st.selection.kernel = eigen_isa();
    st.selection.how = "default";
    st.selection.request = "auto";
    return st;
  }();
  return s;
}

std::pair<std::string, std::string> split_key(const std::string& key) {
  const auto colon = key.find(':');
  if (colon == std::string::npos) return {key, ""};
  return {key.substr(0, colon), key.substr(colon + 1)};
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
                        uint64_t seed) {
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
  backend.multiply(p);
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

// ---- timing ------------------------------------------------------------------------------------------

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// ---- probing in a child process -------------------------------------------------------------------

// Checks and times `key` in a forked child, so that OPENBLAS_CORETYPE (read by OpenBLAS only when it
// loads) can differ per candidate, and a kernel that crashes (SIGILL on a CPU it does not fit) only
// disqualifies itself.
Candidate probe_in_child(const std::string& key) {
  Candidate cand;
  cand.key = key;
  int fds[2];
  if (pipe(fds) != 0) {
    cand.error = fmt::format("pipe failed: {}", std::strerror(errno));
    return cand;
  }
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    cand.error = fmt::format("fork failed: {}", std::strerror(errno));
    return cand;
  }
  if (pid == 0) {
    close(fds[0]);
    std::string line;
    try {
      auto backend = make_backend(key);
      const std::string err = check(backend.operator*());
      const double rate = err.empty() ? measure_gflops(*backend, 1100, 300, kProbePasses) : 0.0;
      line = fmt::format("{}\t{}\t{}\t{}", err.empty() ? 1 : 0, backend->kernel(), rate, err);
    } catch (const std::exception& e) {
      line = fmt::format("0\t?\t0\t{}", e.what());
    }
    for (char& ch : line)
      if (ch == '\n') ch = ' ';
    line += '\n';
    const char* data = line.data();
    size_t left = line.size();
    while (left > 0) {
      const ssize_t w = write(fds[1], data, left);
      if (w <= 0) break;
      data += w;
      left -= static_cast<size_t>(w);
    }
    _exit(0);  // no atexit handlers, no flushing of the parent's stdio buffers
  }
  close(fds[1]);
  std::string out;
  char buf[512];
  const auto t0 = std::chrono::steady_clock::now();
  bool timed_out = false;
  while (true) {
    pollfd pfd{fds[0], POLLIN, 0};
    const int remaining_ms = 10000 - static_cast<int>(seconds_since(t0) * 1000);
    if (remaining_ms <= 0) {
      timed_out = true;
      break;
    }
    const int r = poll(&pfd, 1, remaining_ms);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      timed_out = true;
      break;
    }
    const ssize_t n = read(fds[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    cand.error = "the check did not finish within 10 s";
    return cand;
  }
  if (WIFSIGNALED(status)) {
    cand.error = fmt::format("the check crashed with signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
    return cand;
  }
  // ok \t kernel \t gflops \t error
  std::vector<std::string> fields;
  size_t start = 0;
  if (!out.empty() && out.back() == '\n') out.pop_back();
  for (int f = 0; f < 3; ++f) {
    const size_t tab = out.find('\t', start);
    if (tab == std::string::npos) break;
    fields.push_back(out.substr(start, tab - start));
    start = tab + 1;
  }
  if (fields.size() != 3) {
    cand.error = "the check exited without a result";
    return cand;
  }
  fields.push_back(out.substr(start));
  cand.correct = fields[0] == "1";
  cand.kernel = fields[1];
  cand.gflops = std::strtod(fields[2].c_str(), nullptr);
  cand.error = fields[3];
  return cand;
}

Candidate probe_in_process(const std::string& key) {
  Candidate cand;
  cand.key = key;
  try {
    auto backend = make_backend(key);
    cand.kernel = backend->kernel();
    cand.error = check(*backend);
    cand.correct = cand.error.empty();
    if (cand.correct) cand.gflops = measure_gflops(*backend, 1100, 300, kProbePasses);
  } catch (const std::exception& e) {
    cand.error = e.what();
  }
  return cand;
}

bool needs_child(const std::string& key) { return split_key(key).first != "eigen"; }

std::string candidate_label(const Candidate& c) {
  const std::string name = split_key(c.key).first;
  return c.kernel.empty() || c.kernel == "?" ? c.key : fmt::format("{} ({})", name, c.kernel);
}

}  // namespace

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

const Backend& active() { return *state().active; }

void set_active(std::unique_ptr<Backend> backend) {
  RELFM_CHECK(backend != nullptr, "set_active(null)");
  state().active = std::move(backend);
}

void multiply(const Product& p) { state().active->multiply(p); }

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

std::string user_coretype() {
  const char* v = std::getenv("OPENBLAS_CORETYPE");
  return v ? std::string(v) : std::string();
}

std::string isa_coretype() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq")) {
    // CPUID leaf 7, sub-leaf 1, EAX bit 5: AVX512_BF16. OpenBLAS's Cooperlake target is SkylakeX plus BF16.
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    const bool bf16 = __get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx) && (eax & (1u << 5));
    return bf16 ? "Cooperlake" : "SkylakeX";
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  return "";
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

void validate_request(const std::string& request) {
  if (request.empty() || request == "auto") return;
  make_backend(request);  // throws InputError for an unknown name or option; does not check the product
}

const std::vector<Candidate>& probe_candidates() {
  State& st = state();
  if (st.probed) return st.candidates;
  st.probed = true;
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::string> keys;
  const char* forced = std::getenv("RELFM_GEMM");
  if (forced && *forced && std::string(forced) != "auto") {
    // A forced backend needs only its own check (apply_gemm_request reports an unknown name).
    const auto known = registry().count(split_key(forced).first) > 0;
    if (known) keys.push_back(forced);
  } else {
    // In order of preference (apply_gemm_request): OpenBLAS as it loads by itself first, as relfm's default
    // build ran before the selection existed, then OpenBLAS with the ISA's kernel, then Eigen.
    if (registry().count("openblas")) {
      keys.push_back("openblas");
      const std::string isa = isa_coretype();
      if (user_coretype().empty() && !isa.empty()) keys.push_back("openblas:" + isa);
    }
    keys.push_back("eigen");
  }
  for (const std::string& key : keys) {
    Candidate c = needs_child(key) ? probe_in_child(key) : probe_in_process(key);
    // openblas:<Core> equal to the kernel OpenBLAS detects by itself is the same candidate twice.
    if (key != "openblas" && split_key(key).first == "openblas") {
      const auto same = std::find_if(st.candidates.begin(), st.candidates.end(), [&](const Candidate& o) {
        return o.key == "openblas" && !o.kernel.empty() && strcasecmp(o.kernel.c_str(), split_key(key).second.c_str()) == 0;
      });
      if (same != st.candidates.end()) continue;
    }
    st.candidates.push_back(std::move(c));
  }
  st.probe_seconds = seconds_since(t0);
  return st.candidates;
}

std::string apply_gemm_request(const std::string& request, const std::string& source) {
  State& st = state();
  std::string req = request.empty() ? "auto" : request;
  std::string how = "auto";
  const char* env = std::getenv("RELFM_GEMM");
  if (env && *env && std::string(env) != "auto") {
    req = env;
    how = "forced by RELFM_GEMM";
  } else if (req != "auto") {
    how = "forced by " + source;
  }
  std::string key;
  if (req == "auto") {
    // The first correct candidate, in preference order, within kAutoMargin of the fastest: timing only
    // rules out a clearly slower kernel (OpenBLAS's generic fallback), so that two candidates a few
    // percent apart do not swap between runs with the noise of a shared machine (a rerun or a resumed
    // run would then multiply with other kernels and lose bit-identity).
    double best = 0;
    for (const Candidate& c : st.candidates)
      if (c.correct) best = std::max(best, c.gflops);
    key = "eigen";
    for (const Candidate& c : st.candidates)
      if (c.correct && c.gflops >= kAutoMargin * best) {
        key = c.key;
        break;
      }
  } else {
    validate_request(req);
    key = req;
    for (const Candidate& c : st.candidates)
      if (c.key == key && !c.correct)
        fail_input("GEMM backend '{}' ({}) failed its check on this machine: {}", key, how, c.error);
  }
  st.pending_key = key;
  st.pending_forced = req != "auto";
  st.pending_how = how;
  st.pending_request = req;
  return key;
}

const Selection& activate(const std::string& key) {
  State& st = state();
  const bool forced = st.pending_forced;
  if (st.active->key() != key) {
    std::unique_ptr<Backend> backend = make_backend(key);
    const std::string err = check(*backend);
    if (!err.empty()) {
      if (forced) fail_input("GEMM backend '{}' ({}) failed its check: {}", key, st.pending_how, err);
      fail("GEMM backend '{}' failed its check: {}", key, err);
    }
    st.active = std::move(backend);
  }
  Selection& s = st.selection;
  s.key = key;
  s.backend = split_key(key).first;
  s.kernel = st.active->kernel();
  s.how = st.pending_how;
  s.request = st.pending_request;
  s.user_coretype = user_coretype();
  s.candidates = st.candidates;
  s.probe_seconds = st.probe_seconds;
  return s;
}

const Selection& selection() { return state().selection; }

void reset_for_tests() {
  State& st = state();
  st.active = std::make_unique<EigenBackend>();
  st.probed = false;
  st.candidates.clear();
  st.probe_seconds = 0;
  st.pending_key = "eigen";
  st.pending_forced = false;
  st.pending_how = "default";
  st.pending_request = "auto";
  st.selection = Selection{"eigen", "eigen", eigen_isa(), "default", "auto", user_coretype(), {}, 0.0};
}

std::string Selection::summary() const { return fmt::format("{} ({})", backend, kernel); }

std::vector<std::string> Selection::log_lines() const {
  std::vector<std::string> lines;
  lines.push_back(fmt::format("gemm: {}, {}, key={}; OPENBLAS_CORETYPE{}", summary(), how, key,
                              user_coretype.empty() ? " unset" : "=" + user_coretype + " (set by the user)"));
  if (!candidates.empty()) {
    std::string line = fmt::format("gemm candidates (GFLOP/s at the GIN's shapes, probe {:.2f} s):", probe_seconds);
    for (const Candidate& c : candidates)
      line += c.correct ? fmt::format(" {} {:.1f};", candidate_label(c), c.gflops)
                        : fmt::format(" {} failed: {};", candidate_label(c), c.error);
    line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

std::string pending_key() { return state().pending_key; }

}  // namespace relfm::gemm
