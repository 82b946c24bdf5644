// The float matrix products of the tape (matmul, linear and their gradients) go through one GEMM backend,
// chosen at start-up as the fastest one that computes correct results on this machine.
//
// Why a choice at run time: a BLAS library's speed depends on the kernel it picks for the CPU, and
// Debian's OpenBLAS 0.3.21 falls back to its generic `Prescott` kernel on CPUs it does not know (an Intel
// Xeon family 6 model 207 measured 14 GFLOP/s there, against 57 for Eigen's native kernels and 68 for the
// same OpenBLAS with OPENBLAS_CORETYPE=SkylakeX). Some OpenBLAS builds also compute wrong results on some
// CPUs, so every candidate is checked against a double-precision product before it may run.
//
// Backends (registry keys):
//   eigen             Eigen's own kernels, compiled for this machine's ISA (-march=native).
//   openblas          Debian's single-threaded libopenblas.so.0, loaded with dlopen, with the kernel it
//                     detects or the user's OPENBLAS_CORETYPE.
//   openblas:<Core>   the same library with OPENBLAS_CORETYPE=<Core> (only when the user has not set it).
//
// Selection: probe_candidates() (before MPI_Init: it forks one child per OpenBLAS kernel, because OpenBLAS
// reads OPENBLAS_CORETYPE only when it loads), then apply_gemm_request() with the job's request, then
// dist::agree_gemm_backend() so that every rank runs rank 0's choice. Double products (gradient checks)
// and the Dual scalar stay on plain Eigen expressions.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace relfm::gemm {

// C (m x n) = op(A) op(B), or C += op(A) op(B) when `accumulate`. All matrices are dense row-major: A is
// stored m x k (or k x m when trans_a), B k x n (or n x k when trans_b), C m x n, each with the row stride
// lda / ldb / ldc in elements, or without padding when that is 0 (blocks of wider matrices, e.g. one
// attention head's columns, have a stride).
struct Product {
  const float* a = nullptr;
  const float* b = nullptr;
  float* c = nullptr;
  int64_t m = 0, n = 0, k = 0;
  bool trans_a = false, trans_b = false;
  bool accumulate = false;
  int64_t lda = 0, ldb = 0, ldc = 0;

  // The row strides in effect.
  int64_t row_stride_a() const { return lda ? lda : (trans_a ? m : k); }
  int64_t row_stride_b() const { return ldb ? ldb : (trans_b ? k : n); }
  int64_t row_stride_c() const { return ldc ? ldc : n; }
  bool packed() const { return row_stride_a() == (trans_a ? m : k) && row_stride_b() == (trans_b ? k : n) && row_stride_c() == n; }
};

class Backend {
 public:
  virtual ~Backend() = default;
  // Registry key that recreates this backend ("eigen", "openblas", "openblas:SkylakeX").
  virtual std::string key() const = 0;
  // What actually runs: "AVX-512" for Eigen, OpenBLAS's core name ("Cooperlake").
  virtual std::string kernel() const = 0;
  virtual void multiply(const Product& p) const = 0;
};

// A factory receives the text after "name:" in the key (empty for a bare name) and may throw InputError.
using Factory = std::function<std::unique_ptr<Backend>(const std::string& option)>;
// Adds or replaces a backend; returns the factory it replaced (empty if none), so tests can restore it.
Factory register_backend(const std::string& name, Factory factory);
std::vector<std::string> backend_names();
// Builds the backend a key names; InputError for an unknown name or a kernel that cannot be had.
std::unique_ptr<Backend> make_backend(const std::string& key);

// The backend the tape's float products use. Eigen until a selection activates another one.
const Backend& active();
void set_active(std::unique_ptr<Backend> backend);
void multiply(const Product& p);  // active().multiply(p)

// Empty when `backend` agrees with a double-precision product on shapes covering every dispatch branch
// and transpose combination the ops use, within 4·k·eps·|A||B| per entry; otherwise what went wrong.
std::string check(const Backend& backend);

// The GIN's products (the six of one layer: h -> 2h -> h forward, input and weight gradients of both) at
// `rows` atoms and hidden width `hidden`, timed after one warm-up pass; GFLOP/s. `passes` >= 1, best pass.
double measure_gflops(const Backend& backend, int64_t rows = 1100, int64_t hidden = 300, int passes = 1);

// One candidate of the start-up selection, as measured.
struct Candidate {
  std::string key;          // registry key
  std::string kernel;       // as reported by the backend (OpenBLAS: openblas_get_corename())
  bool correct = false;     // passed check()
  std::string error;        // why not, when !correct
  double gflops = 0;        // measure_gflops(), 0 when not correct
};

// The environment's OPENBLAS_CORETYPE, or "" when unset. relfm never changes a value the user set.
std::string user_coretype();
// The OpenBLAS kernel that suits this CPU's ISA: "Cooperlake" (AVX-512 with BF16), "SkylakeX" (AVX-512),
// "Haswell" (AVX2 + FMA), or "" (nothing better than what OpenBLAS detects).
std::string isa_coretype();
// The ISA Eigen's kernels were compiled for ("AVX-512", "AVX2", "SSE2", ...).
std::string eigen_isa();

// Checks and times every candidate, in preference order: openblas (detected kernel, or the user's
// OPENBLAS_CORETYPE); openblas:<isa_coretype()> when the user set no OPENBLAS_CORETYPE and it differs from
// the detected kernel; eigen. When RELFM_GEMM forces a backend, only that one. Each OpenBLAS candidate runs in a forked child. Call once,
// before MPI_Init (fork is unsafe afterwards); later calls return the first result.
const std::vector<Candidate>& probe_candidates();

// How the backend was chosen, for the log and results files.
struct Selection {
  std::string key;                      // registry key that runs
  std::string backend;                  // "eigen" or "openblas"
  std::string kernel;                   // "AVX-512", "Cooperlake"
  std::string how;                      // "auto", "forced by RELFM_GEMM", "forced by job key", "default"
  std::string request;                  // the request that decided it ("auto", "openblas:SkylakeX")
  std::string user_coretype;            // OPENBLAS_CORETYPE as the user set it ("" when unset)
  std::vector<Candidate> candidates;    // every candidate measured at start-up (empty when not probed)
  double probe_seconds = 0;             // wall time of probe_candidates()
  std::string summary() const;          // "openblas (Cooperlake)"
  std::vector<std::string> log_lines() const;  // the lines relfm train/eval print first
};

// Parses a request ("auto", "eigen", "openblas", "openblas:<Core>"); InputError when malformed or unknown.
void validate_request(const std::string& request);

// Resolves what this rank would run for `request` ("" or "auto" = the first correct candidate of
// probe_candidates(), in its preference order, whose rate is within 0.9x of the fastest; eigen if nothing
// was probed); RELFM_GEMM, when set, takes precedence over a job
// key. Records the decision as pending and returns its key; does not load anything yet. A forced
// backend that is unknown or failed its check is an InputError, not a fallback.
std::string apply_gemm_request(const std::string& request = "auto", const std::string& source = "job key");

// Makes `key` the active backend (as rank 0 decided; dist::agree_gemm_backend calls this on every rank)
// after checking it; throws InputError if it was forced and fails, Error otherwise. Returns the selection.
const Selection& activate(const std::string& key);

// The key apply_gemm_request() decided on this rank ("eigen" before any request).
std::string pending_key();

// The decision recorded by apply_gemm_request() / activate(); "default" eigen before any selection.
const Selection& selection();

// The kernel of the OpenBLAS already loaded in this process, or "" when none is. A forked probe child
// inherits a loaded library, so probe_candidates() gives each kernel its own process only before then.
std::string loaded_openblas_core();

// Test hook: forget the probe and the pending decision, and make eigen active again.
void reset_for_tests();

}  // namespace relfm::gemm
