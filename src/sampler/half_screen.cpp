// The screen's kernel: a block of 6 anchors x 64 candidates held in 12 fp16 registers while a run of
// kHalfRun elements goes by (each step loads element p of 64 candidates, two vectors, and broadcasts
// element p of each anchor); the run's sums are then widened to float and added to the scores.
#include "src/sampler/half_screen.hpp"

#include "src/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#if defined(__AVX512FP16__)
#include <immintrin.h>
#endif

namespace relfm::sampler {

ScreenBound ScreenBound::for_width(int64_t d) {
  const double u = std::ldexp(1.0, -11), eps = std::ldexp(1.0, -24);
  const double run = static_cast<double>(std::min<int64_t>(kHalfRun, d));
  const double gamma_run = run * u / (1 - run * u), gamma_d = static_cast<double>(d) * eps / (1 - static_cast<double>(d) * eps);
  return {d, 2 * u + u * u + gamma_run * (1 + u) * (1 + u) + 2.02 * gamma_d};
}

float ScreenBound::margin(double norm_q, double norm_x) const {
  const double tiny = std::ldexp(1.0, -25), dd = static_cast<double>(d);
  const double bound = relative * norm_q * norm_x + tiny * (2 * std::sqrt(dd) * (norm_q + norm_x) + 4 * dd);
  return static_cast<float>(bound * 1.001);  // and the float roundings of this arithmetic
}

#if defined(__AVX512FP16__)
namespace {

uint16_t to_half(float x) {
  const _Float16 h = static_cast<_Float16>(x);  // round to nearest even
  uint16_t bits;
  std::memcpy(&bits, &h, sizeof bits);
  return bits;
}

template <int MR>
void block(const uint16_t* const* anchor, const uint16_t* panel, int64_t d, float* scores, int64_t ld) {
  for (int i = 0; i < MR; ++i) std::fill_n(scores + i * ld, HalfPanels::kWidth, 0.0f);
  for (int64_t p0 = 0; p0 < d; p0 += kHalfRun) {
    const int64_t p1 = std::min(d, p0 + kHalfRun);
    __m512h acc[MR][2];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ph();
    for (int64_t p = p0; p < p1; ++p) {
      const __m512h x0 = _mm512_loadu_ph(panel + p * HalfPanels::kWidth), x1 = _mm512_loadu_ph(panel + p * HalfPanels::kWidth + 32);
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        _Float16 qi;
        std::memcpy(&qi, anchor[i] + p, sizeof qi);
        const __m512h q = _mm512_set1_ph(qi);
        acc[i][0] = _mm512_fmadd_ph(q, x0, acc[i][0]);
        acc[i][1] = _mm512_fmadd_ph(q, x1, acc[i][1]);
      }
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 2
      for (int v = 0; v < 2; ++v) {  // lanes 0-15 and 16-31 of the run's sums, widened and added
        const __m512i bits = _mm512_castph_si512(acc[i][v]);
        float* s = scores + i * ld + 32 * v;
        const __m512 lo = _mm512_cvtxph_ps(_mm256_castsi256_ph(_mm512_castsi512_si256(bits)));
        const __m512 hi = _mm512_cvtxph_ps(_mm256_castsi256_ph(_mm512_extracti64x4_epi64(bits, 1)));
        _mm512_storeu_ps(s, _mm512_add_ps(_mm512_loadu_ps(s), lo));
        _mm512_storeu_ps(s + 16, _mm512_add_ps(_mm512_loadu_ps(s + 16), hi));
      }
  }
}

template <int MR = 6>
void rows_tail(int64_t rows, const uint16_t* const* anchor, const uint16_t* panel, int64_t d, float* scores, int64_t ld) {
  if constexpr (MR > 1) {
    if (rows < MR) return rows_tail<MR - 1>(rows, anchor, panel, d, scores, ld);
  }
  block<MR>(anchor, panel, d, scores, ld);
}

}  // namespace

HalfRows::HalfRows(const float* rows, int64_t count, int64_t d) : d_(d), data_(static_cast<size_t>(count * d)) {
  for (int64_t i = 0; i < count * d; ++i) data_[static_cast<size_t>(i)] = to_half(rows[i]);
}

HalfPanels::HalfPanels(const float* rows, int64_t count, int64_t d)
    : count_(count), d_(d), data_(static_cast<size_t>((count + kWidth - 1) / kWidth * kWidth * d), 0) {
  for (int64_t c = 0; c < count; ++c) {
    uint16_t* column = data_.data() + (c / kWidth) * d * kWidth + c % kWidth;
    for (int64_t p = 0; p < d; ++p) column[p * kWidth] = to_half(rows[c * d + p]);
  }
}

void screened_scores(const HalfRows& anchors, int64_t first_anchor, int64_t anchor_count, const HalfPanels& shard, float* scores) {
  RELFM_CHECK(anchors.width() == shard.width(), "half screen: anchors of width {}, candidates of width {}", anchors.width(),
              shard.width());
  constexpr int64_t kWidth = HalfPanels::kWidth, kRows = 6;
  const int64_t count = shard.count(), d = shard.width();
  std::vector<float> partial;  // a partial panel's block, full width
  for (int64_t c0 = 0; c0 < count; c0 += kWidth) {
    const int64_t width = std::min(kWidth, count - c0);
    const uint16_t* panel = shard.panel(c0 / kWidth);
    for (int64_t i = 0; i < anchor_count; i += kRows) {
      const int64_t rows = std::min(kRows, anchor_count - i);
      const uint16_t* a[kRows];
      for (int64_t r = 0; r < rows; ++r) a[r] = anchors.row(first_anchor + i + r);
      if (width == kWidth) {
        rows_tail(rows, a, panel, d, scores + i * count + c0, count);
        continue;
      }
      partial.resize(static_cast<size_t>(kRows * kWidth));
      rows_tail(rows, a, panel, d, partial.data(), kWidth);
      for (int64_t r = 0; r < rows; ++r) std::copy_n(partial.data() + r * kWidth, width, scores + (i + r) * count + c0);
    }
  }
}

#else

HalfRows::HalfRows(const float*, int64_t, int64_t d) : d_(d) { fail("half screen: this build has no AVX-512 FP16"); }
HalfPanels::HalfPanels(const float*, int64_t count, int64_t d) : count_(count), d_(d) {
  fail("half screen: this build has no AVX-512 FP16");
}
void screened_scores(const HalfRows&, int64_t, int64_t, const HalfPanels&, float*) {
  fail("half screen: this build has no AVX-512 FP16 (check half_screen_available())");
}

#endif

}  // namespace relfm::sampler
