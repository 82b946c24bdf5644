// The OpenBLAS backend: Debian's single-threaded libopenblas.so.0, loaded with dlopen when first asked for.
//
// Loaded at run time rather than linked, so that the choice of kernel (OPENBLAS_CORETYPE, which OpenBLAS
// reads only while it loads) is relfm's, made after checking it, and a build without OpenBLAS
// (-DRELFM_OPENBLAS=OFF) simply has no such backend.
#include "src/tensor/gemm.hpp"

#include "src/core/error.hpp"

#include <map>

#ifdef RELFM_OPENBLAS_LIBRARY
#include <dlfcn.h>
#include <strings.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <limits>
#endif

namespace relfm::gemm {

std::unique_ptr<Backend> make_eigen_for_openblas();

#ifdef RELFM_OPENBLAS_LIBRARY
namespace {

// The Fortran interface, as Eigen's EIGEN_USE_BLAS called it (LP64: Debian's libopenblas0 uses 32-bit ints).
using SgemmFn = void (*)(const char*, const char*, const int*, const int*, const int*, const float*, const float*,
                         const int*, const float*, const int*, const float*, float*, const int*);
using SgemvFn = void (*)(const char*, const int*, const int*, const float*, const float*, const int*, const float*,
                         const int*, const float*, float*, const int*);
using CorenameFn = char* (*)();

// One OpenBLAS per process: a second dlopen of the same file returns the already-loaded library, whose
// kernel was fixed when it first loaded.
struct Library {
  void* handle = nullptr;
  SgemmFn sgemm = nullptr;
  SgemvFn sgemv = nullptr;
  std::string core;       // openblas_get_corename() as loaded
  std::string requested;  // the core relfm asked for ("" = OpenBLAS's own detection or the user's)
};

Library& library() {
  static Library lib;
  return lib;
}

const Library& load(const std::string& core) {
  Library& lib = library();
  const std::string user = user_coretype();
  if (!core.empty() && !user.empty() && strcasecmp(core.c_str(), user.c_str()) != 0)
    fail_input("GEMM backend 'openblas:{}' needs OPENBLAS_CORETYPE={}, but the user set OPENBLAS_CORETYPE={}; relfm "
               "never overrides it (use RELFM_GEMM=openblas, or unset OPENBLAS_CORETYPE)", core, core, user);
  if (lib.handle) {
    if (!core.empty() && strcasecmp(core.c_str(), lib.core.c_str()) != 0)
      fail_input("GEMM backend 'openblas:{}': OpenBLAS is already loaded in this process with kernel {}, and it reads "
                 "OPENBLAS_CORETYPE only when it loads", core, lib.core);
    return lib;
  }
  // Set the core only for the load and only when the user set none, then leave the environment as it was.
  const bool set_env = !core.empty() && user.empty();
  if (set_env) setenv("OPENBLAS_CORETYPE", core.c_str(), 1);
  void* handle = dlopen(RELFM_OPENBLAS_LIBRARY, RTLD_NOW | RTLD_LOCAL);
  if (set_env) unsetenv("OPENBLAS_CORETYPE");
  if (!handle) fail_input("GEMM backend 'openblas': cannot load {}: {}", RELFM_OPENBLAS_LIBRARY, dlerror());
  auto sgemm = reinterpret_cast<SgemmFn>(dlsym(handle, "sgemm_"));
  auto sgemv = reinterpret_cast<SgemvFn>(dlsym(handle, "sgemv_"));
  auto corename = reinterpret_cast<CorenameFn>(dlsym(handle, "openblas_get_corename"));
  if (!sgemm || !sgemv || !corename) {
    dlclose(handle);
    fail_input("GEMM backend 'openblas': {} lacks sgemm_, sgemv_ or openblas_get_corename", RELFM_OPENBLAS_LIBRARY);
  }
  lib.handle = handle;
  lib.sgemm = sgemm;
  lib.sgemv = sgemv;
  const char* name = corename();
  lib.core = name ? name : "?";
  while (!lib.core.empty() && lib.core.back() == ' ') lib.core.pop_back();
  lib.requested = core;
  // OpenBLAS falls back silently when it cannot use the core it was given; a forced kernel must run as asked.
  if (!core.empty() && strcasecmp(core.c_str(), lib.core.c_str()) != 0)
    fail_input("GEMM backend 'openblas:{}': OpenBLAS loaded kernel {} instead (unknown core name, or not usable on "
               "this CPU)", core, lib.core);
  return lib;
}

int blas_int(int64_t v) {
  RELFM_CHECK(v >= 0 && v <= std::numeric_limits<int>::max(), "GEMM dimension {} does not fit OpenBLAS's 32-bit int", v);
  return static_cast<int>(v);
}

// Reproduces the dispatch of Eigen 3.4 built with EIGEN_USE_BLAS (GeneralMatrixMatrix.h,
// GeneralProduct.h, ProductEvaluators.h, GeneralMatrix{Matrix,Vector}_BLAS.h) for a row-major
// destination, so that this backend gives the bits the EIGEN_USE_BLAS build gave:
//   * m + n + k < 20 (and k > 0), a 1x1 result, or an empty operand: Eigen's own code (coefficient-based
//     product, dot product, zero fill), which EIGEN_USE_BLAS does not change, so the eigen backend's.
//   * one result column or one result row: sgemv with beta = 1 into the (zeroed, for "=") destination.
//   * otherwise sgemm with beta = 1 into the (zeroed) destination, on the column-major view of the
//     row-major result: C^T = op(B)^T op(A)^T.
class OpenBlasBackend final : public Backend {
 public:
  OpenBlasBackend(const Library& lib, std::string core) : lib_(lib), core_(std::move(core)), eigen_(make_eigen_for_openblas()) {}
  std::string key() const override { return core_.empty() ? "openblas" : "openblas:" + core_; }
  std::string kernel() const override { return lib_.core; }

  void multiply(const Product& p) const override {
    const int64_t m = p.m, n = p.n, k = p.k;
    if ((k + m + n < 20 && k > 0) || m == 0 || n == 0 || k == 0 || (m == 1 && n == 1)) {
      eigen_->multiply(p);
      return;
    }
    const float one = 1.0f;
    if (!p.packed()) {  // blocks of wider matrices: sgemm with their strides (a vector's stride is a row's)
      if (!p.accumulate)
        for (int64_t i = 0; i < m; ++i) std::fill(p.c + i * p.row_stride_c(), p.c + i * p.row_stride_c() + n, 0.0f);
      const char transa = p.trans_b ? 'T' : 'N', transb = p.trans_a ? 'T' : 'N';
      const int bm = blas_int(n), bn = blas_int(m), bk = blas_int(k);
      const int lda = blas_int(p.row_stride_b()), ldb = blas_int(p.row_stride_a()), ldc = blas_int(p.row_stride_c());
      lib_.sgemm(&transa, &transb, &bm, &bn, &bk, &one, p.b, &lda, p.a, &ldb, &one, p.c, &ldc);
      return;
    }
    if (!p.accumulate) std::fill(p.c, p.c + m * n, 0.0f);
    const int inc = 1;
    if (n == 1 || m == 1) {
      // y = op(A) x (one column) or y^T = x^T op(B) (one row); x and y are contiguous either way.
      char trans;
      int rows, cols, ld;
      const float* mat;
      const float* x;
      if (n == 1) {
        mat = p.a;
        x = p.b;
        if (!p.trans_a) trans = 'T', rows = blas_int(k), cols = blas_int(m), ld = blas_int(k);
        else trans = 'N', rows = blas_int(m), cols = blas_int(k), ld = blas_int(m);
      } else {
        mat = p.b;
        x = p.a;
        if (!p.trans_b) trans = 'N', rows = blas_int(n), cols = blas_int(k), ld = blas_int(n);
        else trans = 'T', rows = blas_int(k), cols = blas_int(n), ld = blas_int(k);
      }
      lib_.sgemv(&trans, &rows, &cols, &one, mat, &ld, x, &inc, &one, p.c, &inc);
      return;
    }
    const char transa = p.trans_b ? 'T' : 'N';
    const char transb = p.trans_a ? 'T' : 'N';
    const int bm = blas_int(n), bn = blas_int(m), bk = blas_int(k);
    const int lda = blas_int(p.trans_b ? k : n);
    const int ldb = blas_int(p.trans_a ? m : k);
    const int ldc = blas_int(n);
    lib_.sgemm(&transa, &transb, &bm, &bn, &bk, &one, p.b, &lda, p.a, &ldb, &one, p.c, &ldc);
  }

 private:
  const Library& lib_;
  std::string core_;
  std::unique_ptr<Backend> eigen_;
};

}  // namespace

void register_openblas(std::map<std::string, Factory>& registry) {
  registry["openblas"] = [](const std::string& core) -> std::unique_ptr<Backend> {
    if (!core.empty() && !std::all_of(core.begin(), core.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)); }))
      fail_input("GEMM backend 'openblas:{}': a core name is letters and digits (e.g. SkylakeX, Haswell)", core);
    return std::make_unique<OpenBlasBackend>(load(core), core);
  };
}
std::string loaded_openblas_core() { return library().handle ? library().core : std::string(); }
#else
// Built with -DRELFM_OPENBLAS=OFF: no OpenBLAS backend.
void register_openblas(std::map<std::string, Factory>&) {}
std::string loaded_openblas_core() { return ""; }
#endif

std::unique_ptr<Backend> make_eigen_for_openblas() { return make_backend("eigen"); }

}  // namespace relfm::gemm
