// Counter-based RNG: the vector path equals the scalar path, streams are independent, and the
// integer and permutation helpers are unbiased.
#include "src/core/rng.hpp"

#include <gtest/gtest.h>

#include <Random123/philox.h>

#include <algorithm>
#include <map>
#include <cmath>
#include <set>

namespace relfm {
namespace {

TEST(CounterRng, BlockMatchesRandom123Philox) {
  const CounterRng rng(42, RngPurpose::kTest, 7);
  uint32_t w[4];
  rng.block(123456789ULL, w);
  r123::Philox4x32 philox;
  r123::Philox4x32::ctr_type ctr = {{123456789u, 0u, 7u, 0u}};
  r123::Philox4x32::key_type key = {{static_cast<uint32_t>(rng.key()), static_cast<uint32_t>(rng.key() >> 32)}};
  const auto ref = philox(ctr, key);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(w[i], ref.v[i]);
}

TEST(CounterRng, VectorFillEqualsScalarAtAnyOffsetAndLength) {
  const CounterRng rng(3, RngPurpose::kDropout, 99);
  for (uint64_t first : {0ULL, 1ULL, 63ULL, 64ULL, 1000ULL, (1ULL << 32) * 64 - 70}) {
    for (size_t len : {0u, 1u, 5u, 64u, 65u, 300u}) {
      std::vector<float> v(len);
      rng.fill_uniform(v, first);
      for (size_t i = 0; i < len; ++i) ASSERT_EQ(v[i], rng.uniform_float(first + i)) << first << "+" << i;
    }
  }
}

TEST(CounterRng, SixteenLanesEqualScalarBlocksOfTheirStreams) {
  const CounterRng rng = CounterRng(9, RngPurpose::kSampler, 3).derive(11);
  uint64_t blocks[16], streams[16];
  for (int i = 0; i < 16; ++i) {
    blocks[i] = (i % 3 == 0) ? (1ULL << 32) + 5 * i : 7ULL * i;  // both counter words in use
    streams[i] = (i % 2 == 0) ? 0xfedcba9876543210ULL + i : i;
  }
  uint32_t out[4][16];
  rng.blocks16(blocks, streams, out);
  for (int i = 0; i < 16; ++i) {
    uint32_t w[4];
    rng.with_stream(streams[i]).block(blocks[i], w);
    for (int k = 0; k < 4; ++k) ASSERT_EQ(out[k][i], w[k]) << "lane " << i << " word " << k;
  }
  EXPECT_EQ(rng.with_stream(rng.stream()).u64(5), rng.u64(5));
}

TEST(CounterRng, SameKeySameNumbersDifferentStreamsDiffer) {
  const CounterRng a(5, RngPurpose::kShuffle, 1), b(5, RngPurpose::kShuffle, 1), c(5, RngPurpose::kShuffle, 2),
      d(5, RngPurpose::kDropout, 1), e(6, RngPurpose::kShuffle, 1);
  int differ_c = 0, differ_d = 0, differ_e = 0;
  for (uint64_t i = 0; i < 1000; ++i) {
    EXPECT_EQ(a.u32(i), b.u32(i));
    differ_c += a.u32(i) != c.u32(i);
    differ_d += a.u32(i) != d.u32(i);
    differ_e += a.u32(i) != e.u32(i);
  }
  EXPECT_GT(differ_c, 990);
  EXPECT_GT(differ_d, 990);
  EXPECT_GT(differ_e, 990);
  EXPECT_NE(a.derive(1).u64(0), a.derive(2).u64(0));
  EXPECT_NE(a.derive(1).derive(2).u64(0), a.derive(2).derive(1).u64(0));
}

TEST(CounterRng, UniformMomentsAndRange) {
  const CounterRng rng(11, RngPurpose::kTest);
  std::vector<float> v(1 << 20);
  rng.fill_uniform(v);
  double mean = 0, var = 0;
  for (float x : v) {
    ASSERT_GE(x, 0.0f);
    ASSERT_LT(x, 1.0f);
    mean += x;
  }
  mean /= v.size();
  for (float x : v) var += (x - mean) * (x - mean);
  var /= v.size();
  EXPECT_NEAR(mean, 0.5, 0.002);
  EXPECT_NEAR(var, 1.0 / 12.0, 0.001);
}

TEST(CounterRng, BelowIsUnbiased) {
  // 6 buckets, 600k draws: each bucket within 5 sigma of 100k.
  const CounterRng rng(1, RngPurpose::kTest);
  std::vector<int> counts(6, 0);
  for (uint64_t i = 0; i < 600000; ++i) ++counts[rng.below(i, 6)];
  for (int c : counts) EXPECT_NEAR(c, 100000, 5 * std::sqrt(100000 * 5.0 / 6.0));
}

TEST(RandomPermutation, IsAPermutationAndUniformOnSmallN) {
  const std::vector<int64_t> p = random_permutation(CounterRng(9, RngPurpose::kShuffle, 0), 1000);
  std::vector<int64_t> sorted = p;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 1000; ++i) EXPECT_EQ(sorted[i], i);
  // All 6 orders of 3 items appear about equally often over many epochs (streams).
  std::map<std::vector<int64_t>, int> seen;
  for (uint64_t epoch = 0; epoch < 6000; ++epoch) ++seen[random_permutation(CounterRng(9, RngPurpose::kShuffle, epoch), 3)];
  EXPECT_EQ(seen.size(), 6u);
  for (const auto& [order, n] : seen) EXPECT_NEAR(n, 1000, 5 * std::sqrt(1000.0));
}

}  // namespace
}  // namespace relfm
