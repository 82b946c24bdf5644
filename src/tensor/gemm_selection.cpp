// The start-up selection of the GEMM backend: each candidate checked and timed (OpenBLAS kernels in a
// forked child each), the choice by preference and rate, and the active backend the ops multiply with.
#include "src/core/error.hpp"
#include "src/tensor/gemm.hpp"
#include "src/tensor/gemm_detail.hpp"

#include <cpuid.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

namespace relfm::gemm {
namespace {

// A candidate within this fraction of the fastest one's rate counts as fast enough (the issue asks
// relfm's GEMM rate to be at least 0.9x the best correct backend's).
constexpr double kAutoMargin = 0.9;

// Best of two passes per candidate: one pass on a shared core can lose half its rate to a neighbour.
constexpr int kProbePasses = 2;

struct State {
  std::unique_ptr<Backend> active = make_backend("eigen");
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

const Backend& active() { return *state().active; }

void set_active(std::unique_ptr<Backend> backend) {
  RELFM_CHECK(backend != nullptr, "set_active(null)");
  state().active = std::move(backend);
}

void multiply(const Product& p) { state().active->multiply(p); }

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
    const auto known = has_backend(split_key(forced).first);
    if (known) keys.push_back(forced);
  } else {
    // In order of preference (apply_gemm_request): OpenBLAS as it loads by itself first, as relfm's default
    // build ran before the selection existed, then OpenBLAS with the ISA's kernel, then Eigen.
    if (has_backend("openblas")) {
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
  st.active = make_backend("eigen");
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
