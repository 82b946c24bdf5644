#include "src/core/rng.hpp"

#include <Random123/philox.h>

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
  uint32_t w[4];
  block(index >> 2, w);
  return w[index & 3];
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

void CounterRng::fill_uniform(std::span<float> out, uint64_t first) const {
  size_t i = 0;
  // Head: align to a block boundary so that out[i] == uniform_float(first + i) exactly.
  while (i < out.size() && ((first + i) & 3) != 0) {
    out[i] = uniform_float(first + i);
    ++i;
  }
  uint32_t w[4];
  for (; i + 4 <= out.size(); i += 4) {
    block((first + i) >> 2, w);
    for (int j = 0; j < 4; ++j) out[i + j] = static_cast<float>(w[j] >> 8) * 0x1.0p-24f;
  }
  for (; i < out.size(); ++i) out[i] = uniform_float(first + i);
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
