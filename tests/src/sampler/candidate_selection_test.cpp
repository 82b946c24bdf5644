// The exact top-K-of-M selection: every path (sampled threshold, fallback over all M, no filter) against
// a sort of all M by (score descending, id ascending), on scores made to exercise each path.
#include "src/sampler/candidate_selection.hpp"

#include "src/core/rng.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <utility>

namespace relfm::sampler {
namespace {

// Candidate j has slot j; pool_ids maps slots to ids (here a permutation with repeats, as a pool drawn
// with replacement has).
struct Case {
  std::vector<float> scores;
  std::vector<VertexId> pool_ids;
};

std::vector<VertexId> sorted_oracle(const Case& c, int64_t k) {
  std::vector<std::pair<float, VertexId>> all;
  for (size_t j = 0; j < c.scores.size(); ++j) all.emplace_back(c.scores[j] + 0.0f, c.pool_ids[j]);
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  std::vector<VertexId> out;
  for (int64_t j = 0; j < k; ++j) out.push_back(all[static_cast<size_t>(j)].second);
  return out;
}

std::vector<VertexId> select(CandidateSelection& s, const Case& c, int64_t k) {
  std::copy(c.scores.begin(), c.scores.end(), s.scores());
  std::iota(s.slots(), s.slots() + c.scores.size(), 0u);
  std::vector<VertexId> out(static_cast<size_t>(k));
  s.top_k(c.pool_ids, out.data());
  return out;
}

Case random_case(int64_t m, uint64_t seed, int64_t distinct_ids) {
  const CounterRng rng(seed, RngPurpose::kTest);
  Case c;
  for (int64_t j = 0; j < m; ++j) {
    c.scores.push_back(static_cast<float>(rng.uniform_double(static_cast<uint64_t>(2 * j)) * 2 - 1));
    c.pool_ids.push_back(static_cast<VertexId>(rng.below(static_cast<uint64_t>(2 * j + 1), static_cast<uint64_t>(distinct_ids))));
  }
  return c;
}

TEST(CandidateSelection, RandomScoresTakeTheSampledThresholdAndEqualAFullSort) {
  for (auto [m, k] : {std::pair<int64_t, int64_t>{1000, 100}, {4000, 50}, {820, 82}, {5000, 20}}) {
    CandidateSelection s(m, k);
    ASSERT_TRUE(s.filters()) << m << " " << k;
    for (uint64_t seed = 0; seed < 200; ++seed) {
      const Case c = random_case(m, seed, 3 * m);
      ASSERT_EQ(select(s, c, k), sorted_oracle(c, k)) << "M " << m << " K " << k << " seed " << seed;
    }
    EXPECT_LT(s.fallbacks(), 20) << "the threshold let fewer than K through too often";
  }
}

TEST(CandidateSelection, ASampleOfOnlyHighScoresFallsBackToAllM) {
  // The prefix the threshold is taken from holds the highest scores: its threshold lets fewer than K of
  // the M through, and the selection must run over all M.
  const int64_t m = 1000, k = 100;
  Case c = random_case(m, 7, 5000);
  std::sort(c.scores.begin(), c.scores.end(), std::greater<float>());
  CandidateSelection s(m, k);
  ASSERT_TRUE(s.filters());
  EXPECT_EQ(select(s, c, k), sorted_oracle(c, k));
  EXPECT_EQ(s.fallbacks(), 1);
}

TEST(CandidateSelection, TiesGoToTheSmallerIdAndSignedZerosTie) {
  const int64_t m = 1000, k = 100;
  Case c = random_case(m, 11, 400);
  // Few distinct scores: long runs of equal scores, ordered by id; -0 and +0 are one score.
  for (size_t j = 0; j < c.scores.size(); ++j) c.scores[j] = static_cast<float>(static_cast<int>(c.scores[j] * 4)) / 4;
  for (size_t j = 0; j < c.scores.size(); j += 3) c.scores[j] = (j % 2) ? -0.0f : 0.0f;
  CandidateSelection s(m, k);
  EXPECT_EQ(select(s, c, k), sorted_oracle(c, k));
  // Every score equal: the K smallest ids.
  std::fill(c.scores.begin(), c.scores.end(), 0.25f);
  EXPECT_EQ(select(s, c, k), sorted_oracle(c, k));
  // Scores that differ only below the radix sort's 24 bits.
  for (size_t j = 0; j < c.scores.size(); ++j) c.scores[j] = std::nextafter(0.5f, 1.0f * static_cast<float>(j % 3));
  EXPECT_EQ(select(s, c, k), sorted_oracle(c, k));
}

TEST(CandidateSelection, SmallMOrAFewOfManySelectOverAllWithoutAThreshold) {
  for (auto [m, k] : {std::pair<int64_t, int64_t>{60, 7}, {300, 100}, {10, 10}, {5000, 1}}) {
    CandidateSelection s(m, k);
    EXPECT_FALSE(s.filters()) << m << " " << k;
    for (uint64_t seed = 0; seed < 20; ++seed) {
      const Case c = random_case(m, seed, 2 * m);
      ASSERT_EQ(select(s, c, k), sorted_oracle(c, k)) << m << " " << k << " " << seed;
    }
  }
}

}  // namespace
}  // namespace relfm::sampler
