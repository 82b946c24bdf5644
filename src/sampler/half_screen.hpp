// A half-precision screen for the exact kNN mode: cosines computed from fp16 copies of the rows
// (AVX-512 FP16 multiplies-and-adds 32 lanes per instruction, twice a float FMA's 16, from half the
// bytes), each within a proven bound of the float cosine. The top-K rescores in float only the candidates
// whose screened score, raised by the bound, could still beat the K-th best float score kept so far, so
// the result is the float path's top K (research/batchsampler.md §6.1; faiss's brute force scores every
// pair in float).
//
// The bound (u = 2^-11, fp16's unit roundoff). Rounding each element to fp16 moves it by at most u of
// itself plus 2^-25 (below fp16's smallest subnormal), so the product of the rounded rows is within
// (2u + u²) Σ|q_i x_i| of the true one, plus 2^-25 (|q|₁ + |x|₁) + d 2^-50. Each lane sums kHalfRun terms
// in fp16 (at most γ_run = run u / (1 - run u) of their absolute sum, plus 2^-25 a step for subnormal
// partial sums) before the run is added to a float total; float sums of d terms (the screen's and the
// rescoring's) add γ_d (float) twice. With Σ|q_i x_i| <= |q| |x| and |v|₁ <= √d |v|:
//   |screened - float| <= (2u + u² + γ_run (1 + u)² + 2.02 γ_d) |q| |x| + 2^-25 (√d (|q| + |x|) + 2 d);
// the margin doubles the absolute part (it also covers γ_run times the subnormal roundings) and adds 0.1%.
// Elements must lie in [-1, 1] (unit rows do), so no fp16 partial sum can overflow; add_shard checks.
#pragma once

#include <cstdint>
#include <vector>

namespace relfm::sampler {

// True when this build has the screen (compiled for a CPU with AVX-512 FP16).
constexpr bool half_screen_available() {
#if defined(__AVX512FP16__)
  return true;
#else
  return false;
#endif
}

// Terms each fp16 lane sums before its run is added in float.
constexpr int64_t kHalfRun = 32;

// The bound above for rows of width d.
struct ScreenBound {
  int64_t d = 0;
  double relative = 0;
  static ScreenBound for_width(int64_t d);
  // For a query and candidate of these norms, rounded up.
  float margin(double norm_q, double norm_x) const;
};

// Rows of a float matrix in fp16 (round to nearest even), row-major.
class HalfRows {
 public:
  HalfRows(const float* rows, int64_t count, int64_t d);
  const uint16_t* row(int64_t i) const { return data_.data() + i * d_; }
  int64_t width() const { return d_; }

 private:
  int64_t d_;
  std::vector<uint16_t> data_;
};

// A shard of candidates laid out for the screen's kernel: panels of 64 candidates, element p of all 64 side
// by side (zero past the shard's end).
class HalfPanels {
 public:
  static constexpr int64_t kWidth = 64;
  HalfPanels(const float* rows, int64_t count, int64_t d);
  int64_t count() const { return count_; }
  int64_t width() const { return d_; }
  const uint16_t* panel(int64_t p) const { return data_.data() + p * d_ * kWidth; }

 private:
  int64_t count_, d_;
  std::vector<uint16_t> data_;
};

// scores (anchor_count x shard.count(), row-major) = screened products of anchors.row(first_anchor + i)
// with every candidate of the shard. Requires half_screen_available().
void screened_scores(const HalfRows& anchors, int64_t first_anchor, int64_t anchor_count, const HalfPanels& shard, float* scores);

}  // namespace relfm::sampler
