#include "src/core/rng.hpp"

#include <Random123/philox.h>

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif
#include <cstring>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string_view>

namespace relfm {

uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t hash_string(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a, then a SplitMix finish for avalanche
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return mix64(h);
}

CounterRng::CounterRng(uint64_t seed, RngPurpose purpose, uint64_t stream)
    : key_(mix64(seed ^ mix64(static_cast<uint64_t>(purpose)))), stream_(stream) {}

CounterRng CounterRng::derive(uint64_t sub_stream) const {
  return CounterRng(mix64(key_ ^ mix64(stream_ + 0x632be59bd9b4e019ULL)), sub_stream, true);
}

void CounterRng::block(uint64_t block, uint32_t out[4]) const {
  r123::Philox4x32 philox;
  r123::Philox4x32::ctr_type ctr = {{static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32),
                                     static_cast<uint32_t>(stream_), static_cast<uint32_t>(stream_ >> 32)}};
  r123::Philox4x32::key_type key = {{static_cast<uint32_t>(key_), static_cast<uint32_t>(key_ >> 32)}};
  const auto r = philox(ctr, key);
  for (int i = 0; i < 4; ++i) out[i] = r.v[i];
}

uint32_t CounterRng::u32(uint64_t index) const {
  // Index layout (shared with fill_uniform): groups of 64 numbers come from 16 consecutive blocks;
  // number r of a group is word r / 16 of block (group * 16 + r % 16). This lets the vector path store
  // each word of 16 blocks contiguously.
  const uint64_t group = index >> 6;
  const uint32_t r = static_cast<uint32_t>(index & 63);
  uint32_t w[4];
  block(group * 16 + (r & 15), w);
  return w[r >> 4];
}

uint64_t CounterRng::u64(uint64_t index) const {
  uint32_t w[4];
  block(index >> 1, w);
  const int half = static_cast<int>(index & 1) * 2;
  return (static_cast<uint64_t>(w[half]) << 32) | w[half + 1];
}

float CounterRng::uniform_float(uint64_t index) const {
  return static_cast<float>(u32(index) >> 8) * 0x1.0p-24f;
}

double CounterRng::uniform_double(uint64_t index) const {
  return static_cast<double>(u64(index) >> 11) * 0x1.0p-53;
}

uint64_t CounterRng::below(uint64_t index, uint64_t n) const {
  // Lemire: take the high 64 bits of x*n; reject the small biased band, retrying with derived indices.
  uint64_t attempt = 0;
  while (true) {
    const uint64_t x = attempt == 0 ? u64(index) : derive(index).u64(attempt);
    const unsigned __int128 m = static_cast<unsigned __int128>(x) * n;
    const uint64_t low = static_cast<uint64_t>(m);
    if (low >= n || low >= (-n) % n) return static_cast<uint64_t>(m >> 64);
    ++attempt;
  }
}

namespace {

// Sixteen Philox4x32-10 blocks at once on GCC/Clang vector types (one AVX-512 register per word, or
// several narrower ones): bit-identical to Random123's scalar philox4x32 for the same counters and key,
// about 10x faster, which matters because dropout draws one number per activation.
constexpr int kLanes = 16;
typedef uint32_t U32x16 __attribute__((vector_size(64)));
typedef uint64_t U64x8 __attribute__((vector_size(64)));

// Full 32x32 -> 64-bit products of every lane with m: returns (low words, high words).
#if defined(__AVX512F__)
// vpmuludq multiplies the low 32 bits of each 64-bit lane. Given AVX-512DQ, GCC compiles the generic form
// below to a full 64x64 vpmullq (three uops) instead, which made Philox twice as slow; without AVX-512 it
// finds (v)pmuludq by itself.
inline void mulhilo16(uint32_t m, U32x16 x, U32x16& lo, U32x16& hi) {
  const __m512i xv = reinterpret_cast<__m512i>(x);
  const __m512i mv = _mm512_set1_epi64(static_cast<long long>(m));
  const __m512i even = _mm512_mul_epu32(xv, mv);                        // products of lanes 0, 2, 4, ...
  const __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(xv, 32), mv);  // products of lanes 1, 3, 5, ...
  constexpr __mmask16 kOddLanes = 0xAAAA;
  lo = reinterpret_cast<U32x16>(_mm512_mask_blend_epi32(kOddLanes, even, _mm512_slli_epi64(odd, 32)));
  hi = reinterpret_cast<U32x16>(_mm512_mask_blend_epi32(kOddLanes, _mm512_srli_epi64(even, 32), odd));
}
#else
inline void mulhilo16(uint32_t m, U32x16 x, U32x16& lo, U32x16& hi) {
  const U64x8 wide = reinterpret_cast<U64x8>(x);
  const U64x8 low_mask = wide - wide + 0xffffffffULL;
  const U64x8 even = (wide & low_mask) * static_cast<uint64_t>(m);  // lanes 0, 2, 4, ...
  const U64x8 odd = (wide >> 32) * static_cast<uint64_t>(m);        // lanes 1, 3, 5, ...
  lo = reinterpret_cast<U32x16>((even & low_mask) | (odd << 32));
  hi = reinterpret_cast<U32x16>((even >> 32) | (odd & ~low_mask));
}
#endif

// Philox4x32-10 rounds on 16 lanes whose four counter words are c0..c3 (updated in place to the output).
#if defined(__AVX2__) && !defined(__AVX512F__)
// AVX2 has no 64-bit vector multiply: GCC lowered the generic form below to shift-and-add chains and
// kept the 64-byte vectors on the stack, which made Philox a third of a random walk's time on AMD Zen 3.
// Here each word is two 8-lane registers and the products are vpmuludq's, as in the AVX-512 form.
inline void mulhilo8(__m256i m, __m256i x, __m256i& lo, __m256i& hi) {
  const __m256i even = _mm256_mul_epu32(x, m);                        // products of lanes 0, 2, 4, 6
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(x, 32), m);  // products of lanes 1, 3, 5, 7
  lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}
void philox_rounds(uint64_t key, U32x16& w0, U32x16& w1, U32x16& w2, U32x16& w3) {
  __m256i c[4][2];
  std::memcpy(c[0], &w0, 64);
  std::memcpy(c[1], &w1, 64);
  std::memcpy(c[2], &w2, 64);
  std::memcpy(c[3], &w3, 64);
  const __m256i m0 = _mm256_set1_epi64x(0xD2511F53), m1 = _mm256_set1_epi64x(0xCD9E8D57);
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    const __m256i key0 = _mm256_set1_epi32(static_cast<int>(k0)), key1 = _mm256_set1_epi32(static_cast<int>(k1));
    for (int h = 0; h < 2; ++h) {  // the two halves are independent: their instructions interleave
      __m256i lo0, hi0, lo1, hi1;
      mulhilo8(m0, c[0][h], lo0, hi0);
      mulhilo8(m1, c[2][h], lo1, hi1);
      const __m256i n0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c[1][h]), key0);
      const __m256i n2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c[3][h]), key1);
      c[0][h] = n0;
      c[1][h] = lo1;
      c[2][h] = n2;
      c[3][h] = lo0;
    }
  }
  std::memcpy(&w0, c[0], 64);
  std::memcpy(&w1, c[1], 64);
  std::memcpy(&w2, c[2], 64);
  std::memcpy(&w3, c[3], 64);
}
#else
void philox_rounds(uint64_t key, U32x16& c0, U32x16& c1, U32x16& c2, U32x16& c3) {
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    U32x16 lo0, hi0, lo1, hi1;
    mulhilo16(0xD2511F53u, c0, lo0, hi0);
    mulhilo16(0xCD9E8D57u, c2, lo1, hi1);
    const U32x16 n0 = hi1 ^ c1 ^ k0;
    const U32x16 n2 = hi0 ^ c3 ^ k1;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
  }
}
#endif

void philox_lanes(uint64_t first_block, uint64_t stream, uint64_t key, U32x16 out[4]) {
  const U32x16 iota = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  const U32x16 zero = iota - iota;
  U32x16 c0 = zero + static_cast<uint32_t>(first_block) + iota;
  U32x16 c1 = zero + static_cast<uint32_t>(first_block >> 32);
  // A carry out of the low word happens only within 15 blocks of a 2^32 boundary.
  if (static_cast<uint32_t>(first_block) > 0xffffffffu - (kLanes - 1))
    for (int i = 0; i < kLanes; ++i) c1[i] = static_cast<uint32_t>((first_block + static_cast<uint64_t>(i)) >> 32);
  U32x16 c2 = zero + static_cast<uint32_t>(stream);
  U32x16 c3 = zero + static_cast<uint32_t>(stream >> 32);
  philox_rounds(key, c0, c1, c2, c3);
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

}  // namespace

void CounterRng::fill_uniform(std::span<float> out, uint64_t first) const {
  // Whole groups of 64 always go through the vector path; a partial group at either end is computed
  // whole and the needed part copied (a scalar call per number would cost as much as a group).
  U32x16 words[4];
  float group_values[64];
  size_t i = 0;
  while (i < out.size()) {
    const uint64_t index = first + i;
    const uint64_t group = index >> 6;
    const size_t offset = static_cast<size_t>(index & 63);
    const size_t count = std::min<size_t>(64 - offset, out.size() - i);
    philox_lanes(group * 16, stream_, key_, words);
    float* o = (offset == 0 && count == 64) ? out.data() + i : group_values;
    for (int w = 0; w < 4; ++w)
      for (int lane = 0; lane < kLanes; ++lane) o[16 * w + lane] = static_cast<float>(words[w][lane] >> 8) * 0x1.0p-24f;
    if (o == group_values) std::copy(group_values + offset, group_values + offset + count, out.data() + i);
    i += count;
  }
}

void CounterRng::blocks16(const uint64_t blocks[16], const uint64_t streams[16], uint32_t out[4][16]) const {
  U32x16 c0, c1, c2, c3;
  for (int i = 0; i < kLanes; ++i) {
    c0[i] = static_cast<uint32_t>(blocks[i]);
    c1[i] = static_cast<uint32_t>(blocks[i] >> 32);
    c2[i] = static_cast<uint32_t>(streams[i]);
    c3[i] = static_cast<uint32_t>(streams[i] >> 32);
  }
  philox_rounds(key_, c0, c1, c2, c3);
  for (int i = 0; i < kLanes; ++i) {
    out[0][i] = c0[i];
    out[1][i] = c1[i];
    out[2][i] = c2[i];
    out[3][i] = c3[i];
  }
}

double CounterRng::normal(uint64_t index) const {
  const double u1 = 1.0 - uniform_double(2 * index);  // (0, 1]
  const double u2 = uniform_double(2 * index + 1);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

std::vector<int64_t> random_permutation(const CounterRng& rng, int64_t n) {
  std::vector<int64_t> perm(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) perm[i] = i;
  for (int64_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<int64_t>(rng.below(static_cast<uint64_t>(n - 1 - i), static_cast<uint64_t>(i + 1)));
    std::swap(perm[i], perm[j]);
  }
  return perm;
}

}  // namespace relfm
