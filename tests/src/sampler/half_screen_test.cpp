// The fp16 screen of the exact kNN mode (src/sampler/half_screen.hpp): every screened score lies within
// its proven margin of the float score, on every block shape of the kernel; the screened top-K equals the
// float path's and the double oracle's, also where the true differences are far below fp16's resolution
// (near-duplicate candidates: nearly everything passes the screen and the rescoring must decide); it
// screens (few candidates are rescored on random data); rows outside [-1, 1] take the float path.
#include "src/sampler/half_screen.hpp"
#include "src/sampler/proximity_graph.hpp"
#include "tests/src/sampler/random_bank.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace relfm::sampler {
namespace {

using testing::random_bank;

// The K best of everyone but the anchor, in double (ties to the smaller id).
std::vector<VertexId> oracle(const MatF& bank, int64_t anchor, int64_t k) {
  std::vector<VertexId> everyone_else;
  for (int64_t c = 0; c < bank.rows(); ++c)
    if (c != anchor) everyone_else.push_back(static_cast<VertexId>(c));
  return testing::oracle(bank, anchor, everyone_else, k);
}

// Table entries that differ from the oracle's by more than `tie` in double cosine (float rounding may swap
// candidates closer than that).
int mismatches_against_oracle(const MatF& bank, const IndexMat& got, double tie = 0) {
  int wrong = 0;
  for (int64_t a = 0; a < got.rows(); ++a) {
    const std::vector<VertexId> want = oracle(bank, a, got.cols());
    auto cosine = [&](int64_t c) { return bank.row(a).cast<double>().dot(bank.row(c).cast<double>()); };
    for (int64_t j = 0; j < got.cols(); ++j)
      wrong += got(a, j) != want[static_cast<size_t>(j)] && std::abs(cosine(got(a, j)) - cosine(want[static_cast<size_t>(j)])) > tie;
  }
  return wrong;
}

TEST(HalfScreen, EveryScreenedScoreIsWithinItsMarginOnEveryBlockShape) {
  if (!half_screen_available()) GTEST_SKIP() << "no AVX-512 FP16 in this build";
  for (int64_t d : {1, 7, 32, 33, 128, 200})
    for (int64_t anchors : {1, 5, 6, 13})
      for (int64_t count : {1, 63, 64, 65, 130}) {
        const MatF q = random_bank(anchors, d, 1 + d), x = random_bank(count, d, 2 + d);
        const HalfRows q16(q.data(), anchors, d);
        const HalfPanels x16(x.data(), count, d);
        std::vector<float> scores(static_cast<size_t>(anchors * count), std::nanf(""));
        screened_scores(q16, 0, anchors, x16, scores.data());
        const ScreenBound bound = ScreenBound::for_width(d);
        for (int64_t i = 0; i < anchors; ++i)
          for (int64_t c = 0; c < count; ++c) {
            const float exact = q.row(i).dot(x.row(c));
            const float margin = bound.margin(q.row(i).norm(), x.row(c).norm());
            ASSERT_LE(std::abs(scores[static_cast<size_t>(i * count + c)] - exact), margin)
                << "d " << d << " anchors " << anchors << " count " << count << " at " << i << "," << c;
            ASSERT_LT(margin, 0.03f);  // a screen, not a pass-everything
          }
      }
}

TEST(HalfScreen, TheScreenedTopKIsTheFloatTopKAndScreensMostCandidatesOut) {
  if (!half_screen_available()) GTEST_SKIP() << "no AVX-512 FP16 in this build";
  const MatF bank = random_bank(3000, 48, 5);
  ProximityConfig c;
  c.candidates = 3000;
  c.neighbours = 20;
  c.half_screen = false;
  const IndexMat plain = proximity_neighbours(bank, 0, 3000, c, CounterRng(1, RngPurpose::kTest));
  c.half_screen = true;
  const IndexMat screened = proximity_neighbours(bank, 0, 3000, c, CounterRng(1, RngPurpose::kTest));
  EXPECT_EQ(screened, plain);
  EXPECT_LE(mismatches_against_oracle(bank, screened.topRows(300)), 2);

  TopK top(3000, 20, 0);
  add_shard(top, bank, bank, 0, true);
  EXPECT_EQ(top.neighbours(), screened);
  EXPECT_LT(top.rescored(), 3000 * 3000 / 10) << "the screen passed most candidates";
  EXPECT_GT(top.rescored(), 3000 * 20);  // at least the first K of every anchor are scored in float
}

// Candidates around one direction whose cosines differ by ~1e-3 to 1e-5: far below the screen's margin,
// far above float's error. Nearly all pass the screen; the float rescoring must rank them exactly.
TEST(HalfScreen, NearDuplicatesBelowFp16ResolutionAreRankedByTheirFloatScores) {
  if (!half_screen_available()) GTEST_SKIP() << "no AVX-512 FP16 in this build";
  const int64_t n = 700, d = 64;
  MatF bank = random_bank(n, d, 7);
  const MatF base = random_bank(1, d, 8);
  for (int64_t i = 0; i < n; ++i) bank.row(i) = base.row(0) + 0.1f * bank.row(i);
  normalise_rows(bank);
  ProximityConfig c;
  c.candidates = n;
  c.neighbours = 15;
  c.half_screen = false;
  const IndexMat plain = proximity_neighbours(bank, 0, n, c, CounterRng(1, RngPurpose::kTest));
  TopK top(n, 15, 0);
  add_shard(top, bank, bank, 0, true);
  EXPECT_GT(top.rescored(), n * n / 2) << "expected the screen to pass most near-duplicates";
  // Adjacent cosines here are ~1e-5 apart, within reach of float rounding (~4e-6 for 64 terms): both
  // paths may swap such neighbours, and nothing else.
  EXPECT_EQ(mismatches_against_oracle(bank, top.neighbours(), 1e-5), 0);
  EXPECT_EQ(mismatches_against_oracle(bank, plain, 1e-5), 0);
  EXPECT_GT((top.neighbours().array() == plain.array()).count(), n * 15 * 99 / 100);
}

TEST(HalfScreen, RowsOutsideTheUnitRangeTakeTheFloatPath) {
  MatF bank = random_bank(400, 16, 9);
  bank *= 3.0f;  // elements beyond 1: fp16 partial sums could overflow, so no screen
  TopK screened(400, 5, 0), plain(400, 5, 0);
  add_shard(screened, bank, bank, 0, true);
  add_shard(plain, bank, bank, 0, false);
  EXPECT_EQ(screened.neighbours(), plain.neighbours());
  EXPECT_EQ(screened.rescored(), 0);
}

}  // namespace
}  // namespace relfm::sampler
