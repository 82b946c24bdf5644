// Exact top-K of M scored candidates, the selection inside the top-K-of-M proximity-graph build
// (proximity_graph.hpp); apart so that its paths — the sampled threshold, the fallback over all M, ties —
// can be tested on scores made to exercise them.
#pragma once

#include "src/core/types.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <iterator>
#include <vector>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace relfm::sampler {

// The K best of M candidates (score, slot), exactly: higher score first, ties to the smaller id
// (pool_ids[slot]), duplicates kept. Most of the M scores cannot be among the K best. A threshold taken
// from a prefix of the candidates (in the build they are independent uniform draws, so any prefix is a
// random sample) at a rank a little below the K-th's expected rank there, by a radix selection on the
// scores' top 16 bits, rejects them with one float compare each in a branch-free pass; only the survivors
// are ordered, by a radix sort. Every candidate at or above the K-th best score survives whenever at least
// K survive (the threshold is then at or below the K-th best), so the result is exact whatever the scores;
// when fewer survive — rare for random candidates — the selection runs over all M. A comparison-based
// selection over all M took most of the build's time (research §6.1's bound is the GEMM).
class CandidateSelection {
 public:
  CandidateSelection(int64_t m, int64_t k)
      : m_(m), k_(k), scores_(static_cast<size_t>(m)), slots_(static_cast<size_t>(m)), sample_(static_cast<size_t>(m)),
        passed_(static_cast<size_t>(m)), kept_(static_cast<size_t>(m)), spare_(static_cast<size_t>(m)) {
    // A sample of S >= 256 candidates puts the K-th best at expected rank K S / M >= 16 there; the
    // threshold's rank, 1.5 times that plus 2, lets about 1.6 K of the M through, and too few (a fallback)
    // about once in 200 anchors.
    sample_size_ = std::min<int64_t>(m, std::max<int64_t>(256, (16 * m + k - 1) / k));
    const double expected = static_cast<double>(k) * static_cast<double>(sample_size_) / static_cast<double>(m);
    sample_rank_ = std::min<int64_t>(sample_size_, static_cast<int64_t>(std::ceil(1.5 * expected + 2.0)));
    filter_ = m >= 4 * k && sample_size_ < m;
  }
  // Where the caller writes the M candidates' scores and slots before each top_k.
  float* scores() { return scores_.data(); }
  uint32_t* slots() { return slots_.data(); }
  // Whether the sampled threshold is tried (M >= 4 K and a sample smaller than M), and how often it let
  // fewer than K through so that the selection ran over all M.
  bool filters() const { return filter_; }
  int64_t fallbacks() const { return fallbacks_; }

  // Writes the K best candidates' ids (pool_ids[slot]), best first, to out[0 .. K).
  void top_k(const std::vector<VertexId>& pool_ids, VertexId* out) {
    size_t kept = 0;
    if (filter_) {
      const float threshold = sample_threshold();
      if (!std::isnan(threshold)) kept = keep_at_least(threshold, pool_ids);
    }
    if (kept < static_cast<size_t>(k_)) {  // no filter, or too few survived: select over all M
      fallbacks_ += filter_ ? 1 : 0;
      std::copy(scores_.begin(), scores_.end(), sample_.begin());
      std::nth_element(sample_.begin(), sample_.begin() + (k_ - 1), sample_.end(), std::greater<float>());
      kept = keep_at_least(sample_[static_cast<size_t>(k_ - 1)], pool_ids);
    }
    sort_keys(kept);
    for (int64_t j = 0; j < k_; ++j) out[j] = static_cast<VertexId>(kept_[static_cast<size_t>(j)] & 0xffffffffu);
  }

 private:
  // The order-preserving unsigned image of a float (ascending floats give ascending integers), and back.
  static uint32_t ordered(float score) {
    uint32_t bits;
    std::memcpy(&bits, &score, sizeof bits);
    // Negative: flip every bit; otherwise the sign bit only (an arithmetic-shift mask, no branch).
    return bits ^ (static_cast<uint32_t>(static_cast<int32_t>(bits) >> 31) | 0x80000000u);
  }
  static float from_ordered(uint32_t key) {
    const uint32_t bits = (key & 0x80000000u) ? key ^ 0x80000000u : ~key;
    float score;
    std::memcpy(&score, &bits, sizeof score);
    return score;
  }
  // A score t with at least sample_rank_ of the sample's scores >= t, and few more: a radix selection on
  // the top 16 bits of the ordered keys (two byte histograms) instead of a comparison-based selection.
  float sample_threshold() {
    uint32_t* keys = passed_.data();  // scratch; keep_at_least overwrites it afterwards
    uint32_t hist[256] = {};
    for (int64_t i = 0; i < sample_size_; ++i) {
      keys[i] = ordered(scores_[static_cast<size_t>(i)]);
      ++hist[keys[i] >> 24];
    }
    int64_t above = 0;
    uint32_t top = 255;
    while (above + hist[top] < static_cast<uint32_t>(sample_rank_)) above += hist[top--];
    std::fill(std::begin(hist), std::end(hist), 0u);
    for (int64_t i = 0; i < sample_size_; ++i)
      if ((keys[i] >> 24) == top) ++hist[(keys[i] >> 16) & 0xffu];
    uint32_t second = 255;
    while (above + hist[second] < static_cast<uint32_t>(sample_rank_)) above += hist[second--];
    return from_ordered((top << 24) | (second << 16));
  }

  // Sorts kept_[0 .. count) ascending: a stable LSD radix sort over the top three bytes of the score half
  // (three histograms from one pass), then the runs that agree on those 24 bits — rare: they are equal
  // to about 3e-5 relative — by the whole key. A comparison sort of these ~1.6 K keys mispredicted a
  // branch per compare and took half of the build's selection time.
  void sort_keys(size_t count) {
    constexpr int kFirstByte = 5, kBytes = 3;  // bytes 5, 6, 7 of the key: bits 40 .. 63
    uint32_t hist[kBytes][256] = {};
    for (size_t i = 0; i < count; ++i)
      for (int b = 0; b < kBytes; ++b) ++hist[b][(kept_[i] >> (8 * (kFirstByte + b))) & 0xffu];
    uint64_t* from = kept_.data();
    uint64_t* to = spare_.data();
    for (int b = 0; b < kBytes; ++b) {
      const int shift = 8 * (kFirstByte + b);
      if (hist[b][(from[0] >> shift) & 0xffu] == count) continue;  // every key has this byte
      uint32_t offset = 0;
      for (uint32_t& h : hist[b]) {
        const uint32_t c = h;
        h = offset;
        offset += c;
      }
      for (size_t i = 0; i < count; ++i) to[hist[b][(from[i] >> shift) & 0xffu]++] = from[i];
      std::swap(from, to);
    }
    if (from != kept_.data()) std::copy(from, from + count, kept_.data());
    for (size_t i = 0; i + 1 < count;) {
      size_t j = i + 1;
      while (j < count && (kept_[j] >> 40) == (kept_[i] >> 40)) ++j;
      if (j - i > 1) std::sort(kept_.begin() + static_cast<std::ptrdiff_t>(i), kept_.begin() + static_cast<std::ptrdiff_t>(j));
      i = j;
    }
  }

  // One integer per candidate that orders as the result does: the score's bits mapped to an unsigned order
  // and inverted (higher score = smaller key) above the id (smaller id = smaller key on ties). Sorting
  // these with < is branch-light, where the pair comparison mispredicted on every other compare.
  static uint64_t key_high(float score) {
    return static_cast<uint64_t>(~ordered(score + 0.0f)) << 32;  // + 0: -0 and +0 tie, as they compare
  }
  // The candidates scoring at least `threshold` into kept_ (as keys); returns how many.
  size_t keep_at_least(float threshold, const std::vector<VertexId>& pool_ids) {
    size_t count = 0;
    int64_t j = 0;
#if defined(__AVX512F__)
    // 16 at a time: the passing positions compressed to the front of a register (not a compress to memory,
    // which is microcoded on some CPUs) and stored whole; count + 16 <= j + 16 <= M keeps it in bounds.
    const __m512 floor = _mm512_set1_ps(threshold);
    __m512i positions = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (; j + 16 <= m_; j += 16) {
      const __mmask16 pass = _mm512_cmp_ps_mask(_mm512_loadu_ps(scores_.data() + j), floor, _CMP_GE_OQ);
      _mm512_storeu_si512(passed_.data() + count, _mm512_maskz_compress_epi32(pass, positions));
      count += static_cast<size_t>(__builtin_popcount(pass));
      positions = _mm512_add_epi32(positions, _mm512_set1_epi32(16));
    }
#endif
    for (; j < m_; ++j) {  // branch-free: always write the position, advance on a pass
      passed_[count] = static_cast<uint32_t>(j);
      count += scores_[static_cast<size_t>(j)] >= threshold ? 1 : 0;
    }
    for (size_t i = 0; i < count; ++i) {
      const uint32_t j = passed_[i];
      kept_[i] = key_high(scores_[j]) | static_cast<uint32_t>(pool_ids[slots_[j]]);
    }
    return count;
  }

  int64_t m_, k_, sample_size_ = 0, sample_rank_ = 0, fallbacks_ = 0;
  bool filter_ = false;
  std::vector<float> scores_;
  std::vector<uint32_t> slots_;
  std::vector<float> sample_;
  std::vector<uint32_t> passed_;
  std::vector<uint64_t> kept_, spare_;
};


}  // namespace relfm::sampler
