// GraphCL's SVM protocol: stratified folds, a separable toy set scored perfectly, random labels at
// chance, the grid's choice, determinism, and the bad inputs.
#include "src/eval/svm_protocol.hpp"

#include "src/core/error.hpp"
#include "src/core/rng.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

namespace relfm::eval {
namespace {

// Two Gaussian blobs (class 0 around -c, class 1 around +c) in 8 dimensions; 3:2 class ratio.
MatF blobs(int n, double separation, std::vector<int32_t>& y, uint64_t seed) {
  const CounterRng rng(seed, RngPurpose::kTest);
  MatF x(n, 8);
  y.resize(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    y[i] = i % 5 < 3 ? 0 : 1;
    for (int j = 0; j < 8; ++j)
      x(i, j) = static_cast<float>((y[i] ? separation : -separation) + rng.normal(static_cast<uint64_t>(i * 8 + j)));
  }
  return x;
}

TEST(SvmProtocol, FoldsArePartitionsAndStratified) {
  std::vector<int32_t> y;
  for (int i = 0; i < 103; ++i) y.push_back(i % 7 == 0 ? 2 : i % 3 == 0 ? 1 : 0);
  const auto folds = stratified_folds(y, 10, 4);
  ASSERT_EQ(folds.size(), 10u);
  std::set<int64_t> all;
  size_t smallest = 1000, largest = 0;
  std::map<int32_t, std::vector<int>> per_class;
  for (const auto& f : folds) {
    std::map<int32_t, int> c;
    for (int64_t i : f) {
      EXPECT_TRUE(all.insert(i).second) << i << " in two folds";
      ++c[y[i]];
    }
    for (int k = 0; k < 3; ++k) per_class[k].push_back(c[k]);
    smallest = std::min(smallest, f.size());
    largest = std::max(largest, f.size());
  }
  EXPECT_EQ(all.size(), 103u);
  EXPECT_LE(largest - smallest, 1u);
  for (auto& [k, v] : per_class) EXPECT_LE(*std::max_element(v.begin(), v.end()) - *std::min_element(v.begin(), v.end()), 1) << k;
  EXPECT_EQ(stratified_folds(y, 10, 4), folds);
  EXPECT_NE(stratified_folds(y, 10, 5), folds);
}

TEST(SvmProtocol, SeparableToySetIsScoredPerfectly) {
  std::vector<int32_t> y;
  const MatF x = blobs(120, 3.0, y, 1);
  for (const char* kernel : {"rbf", "linear"}) {
    SvmProtocol p;
    p.kernel = kernel;
    const SvmResult r = svm_cross_validate(x, y, p, 0);
    EXPECT_DOUBLE_EQ(r.mean_accuracy, 1.0) << kernel;
    EXPECT_EQ(r.fold_accuracy.size(), 10u);
    EXPECT_EQ(r.chosen_c.size(), 10u);
  }
}

TEST(SvmProtocol, RandomLabelsScoreNearChanceAndOverlapInBetween) {
  std::vector<int32_t> y;
  MatF x = blobs(150, 0.0, y, 2);  // both classes from the same distribution
  SvmProtocol p;
  p.c_grid = {0.1, 1.0, 10.0};
  const double chance = svm_cross_validate(x, y, p, 0).mean_accuracy;
  EXPECT_GT(chance, 0.4);
  EXPECT_LT(chance, 0.75);  // the majority class is 60%
  x = blobs(150, 0.35, y, 2);
  const double partial = svm_cross_validate(x, y, p, 0).mean_accuracy;
  EXPECT_GT(partial, chance + 0.05);
  EXPECT_LT(partial, 1.0);
  EXPECT_EQ(svm_cross_validate(x, y, p, 0).fold_accuracy, svm_cross_validate(x, y, p, 0).fold_accuracy);
}

// Standardised, the protocol reads every feature at its own scale: rescaling features (by powers of two, so
// the standardised values are the same bits) leaves every fold's score unchanged. (On real embeddings it
// matters: an IMDB-M run whose embedding scale grew 25-fold in its last epoch scored 39.1% raw, 48.4%
// standardised, and 48.2% raw one epoch earlier; README, BatchSampler accuracy.)
TEST(SvmProtocol, StandardisedScoresDoNotDependOnTheFeaturesScales) {
  std::vector<int32_t> y;
  MatF x = blobs(150, 0.4, y, 4);
  SvmProtocol p;
  p.standardize = true;
  p.c_grid = {0.1, 1.0, 10.0};
  const SvmResult before = svm_cross_validate(x, y, p, 0);
  for (int j = 0; j < x.cols(); ++j) x.col(j) *= std::ldexp(1.0f, 3 * j - 10);  // 2^-10 .. 2^11
  const SvmResult after = svm_cross_validate(x, y, p, 0);
  EXPECT_EQ(after.fold_accuracy, before.fold_accuracy);
  EXPECT_EQ(after.chosen_c, before.chosen_c);
  EXPECT_GT(before.mean_accuracy, 0.7);
  p.standardize = false;  // the raw protocol reads the rescaled features differently
  EXPECT_NE(svm_cross_validate(x, y, p, 0).fold_accuracy, before.fold_accuracy);
}

TEST(SvmProtocol, BadInputs) {
  std::vector<int32_t> y;
  const MatF x = blobs(40, 1.0, y, 3);
  SvmProtocol p;
  std::vector<int32_t> short_y(y.begin(), y.end() - 1);
  EXPECT_THROW(svm_cross_validate(x, short_y, p, 0), InputError);
  std::vector<int32_t> one_class(40, 0);
  EXPECT_THROW(svm_cross_validate(x, one_class, p, 0), InputError);
  std::vector<int32_t> rare = y;
  for (auto& v : rare) v = 0;
  rare[0] = rare[1] = 1;  // a class of 2 < 10 folds
  EXPECT_THROW(svm_cross_validate(x, rare, p, 0), InputError);
  p.kernel = "poly";
  EXPECT_THROW(svm_cross_validate(x, y, p, 0), InputError);
  p = {};
  p.c_grid.clear();
  EXPECT_THROW(svm_cross_validate(x, y, p, 0), InputError);
}

}  // namespace
}  // namespace relfm::eval
