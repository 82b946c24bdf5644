// Balanced sampling proportions (chi-square), determinism, and the threshold-and-forced-drop rule.
#include "src/models/molgroup_plan.hpp"

#include "src/core/error.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

namespace relfm {
namespace {

// Pearson's statistic of observed counts against equal expected counts.
double chi_square_uniform(const std::vector<int64_t>& counts) {
  double total = 0;
  for (int64_t c : counts) total += static_cast<double>(c);
  const double expected = total / static_cast<double>(counts.size());
  double chi = 0;
  for (int64_t c : counts) chi += (static_cast<double>(c) - expected) * (static_cast<double>(c) - expected) / expected;
  return chi;
}

TEST(BalancedEpoch, DataSetsAndMoleculesAreDrawnUniformly) {
  const std::vector<int64_t> sizes{3000, 50, 7};
  const std::vector<BalancedSlot> slots = balanced_epoch(sizes, 42, 0);
  ASSERT_EQ(slots.size(), 9000u);  // |target train| x #datasets
  std::vector<int64_t> per_set(3, 0), per_molecule(50, 0), per_small(7, 0);
  for (const BalancedSlot& s : slots) {
    ASSERT_GE(s.dataset, 0);
    ASSERT_LT(s.dataset, 3);
    ASSERT_GE(s.molecule, 0);
    ASSERT_LT(s.molecule, sizes[static_cast<size_t>(s.dataset)]);
    ++per_set[static_cast<size_t>(s.dataset)];
    if (s.dataset == 1) ++per_molecule[static_cast<size_t>(s.molecule)];
    if (s.dataset == 2) ++per_small[static_cast<size_t>(s.molecule)];
  }
  // Critical values at p = 0.001: 13.82 (2 dof), 85.35 (49 dof), 22.46 (6 dof).
  EXPECT_LT(chi_square_uniform(per_set), 13.82);
  EXPECT_LT(chi_square_uniform(per_molecule), 85.35);
  EXPECT_LT(chi_square_uniform(per_small), 22.46);
}

TEST(BalancedEpoch, DeterministicPerSeedAndEpoch) {
  const std::vector<int64_t> sizes{40, 30};
  const auto a = balanced_epoch(sizes, 1, 3), b = balanced_epoch(sizes, 1, 3), c = balanced_epoch(sizes, 1, 4);
  ASSERT_EQ(a.size(), 80u);
  bool same = true, differ = false;
  for (size_t i = 0; i < a.size(); ++i) {
    same = same && a[i].dataset == b[i].dataset && a[i].molecule == b[i].molecule;
    differ = differ || a[i].dataset != c[i].dataset || a[i].molecule != c[i].molecule;
  }
  EXPECT_TRUE(same);
  EXPECT_TRUE(differ);
  EXPECT_THROW(balanced_epoch({40, 0}, 1, 0), InputError);
}

TEST(FilterRound, KeepsGatesAtMostTheThresholdAndAlwaysDropsOne) {
  const std::vector<std::string> names{"bbbp", "tox21", "bace", "esol"};
  RoundDecision d = filter_round({0, 3, 5, 7}, {0.0, 0.2, 0.55, 0.4}, names);
  EXPECT_EQ(d.keep, (std::vector<int64_t>{0, 3, 7}));  // 0.4 itself is kept (g <= 0.4)
  EXPECT_EQ(d.dropped, (std::vector<int64_t>{5}));
  EXPECT_FALSE(d.forced_drop);
  // Everyone passes: the largest score goes (the first of equal ones).
  d = filter_round({0, 3, 5, 7}, {0.0, 0.1, 0.3, 0.3}, names);
  EXPECT_EQ(d.keep, (std::vector<int64_t>{0, 3, 7}));
  EXPECT_EQ(d.dropped, (std::vector<int64_t>{5}));
  EXPECT_TRUE(d.forced_drop);
  // Nobody passes: only the target remains.
  d = filter_round({0, 3}, {0.0, 0.9}, {"bbbp", "tox21"});
  EXPECT_EQ(d.keep, (std::vector<int64_t>{0}));
  EXPECT_FALSE(d.forced_drop);
}

TEST(FilterRound, WithoutTheForcedDropARoundThatKeepsEveryoneKeepsThem) {
  const std::vector<std::string> names{"bbbp", "tox21", "bace", "esol"};
  RoundDecision d = filter_round({0, 3, 5, 7}, {0.0, 0.1, 0.3, 0.3}, names, 0.4, false);
  EXPECT_EQ(d.keep, (std::vector<int64_t>{0, 3, 5, 7}));
  EXPECT_TRUE(d.dropped.empty());
  EXPECT_FALSE(d.forced_drop);
  // A lone survivor under the threshold stays (the official rule would leave only the target).
  d = filter_round({0, 5}, {0.0, 0.07}, {"bace", "qm8"}, 0.4, false);
  EXPECT_EQ(d.keep, (std::vector<int64_t>{0, 5}));
  EXPECT_EQ(filter_round({0, 5}, {0.0, 0.07}, {"bace", "qm8"}).keep, (std::vector<int64_t>{0}));
  // The threshold still applies.
  d = filter_round({0, 3, 5, 7}, {0.0, 0.2, 0.55, 0.4}, names, 0.4, false);
  EXPECT_EQ(d.keep, (std::vector<int64_t>{0, 3, 7}));
  EXPECT_EQ(d.dropped, (std::vector<int64_t>{5}));
}

TEST(TopKAffinity, KeepsTheTargetAndTheKLowestScoresOfTheKeptInTheirOrder) {
  // Round on data sets 0 (target), 3, 5, 7, 9; the round kept 3, 7, 9 (5 scored above the threshold).
  const std::vector<int64_t> datasets{0, 3, 5, 7, 9};
  const std::vector<double> scores{0.0, 0.30, 0.01, 0.05, 0.20};
  const std::vector<int64_t> kept{0, 3, 7, 9};
  EXPECT_EQ(top_k_affinity(datasets, scores, kept, 1), (std::vector<int64_t>{0, 7}));  // 5 is not a candidate
  EXPECT_EQ(top_k_affinity(datasets, scores, kept, 2), (std::vector<int64_t>{0, 7, 9}));
  // k = 0 (off) and k beyond the kept auxiliaries keep them all.
  EXPECT_EQ(top_k_affinity(datasets, scores, kept, 0), kept);
  EXPECT_EQ(top_k_affinity(datasets, scores, kept, 3), kept);
  EXPECT_EQ(top_k_affinity(datasets, scores, kept, 10), kept);
  // Equal scores go to the earlier data set; the result keeps the round's order, not the score order.
  EXPECT_EQ(top_k_affinity({0, 4, 2, 8}, {0.0, 0.2, 0.1, 0.1}, {0, 4, 2, 8}, 1), (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(top_k_affinity({0, 4, 2, 8}, {0.0, 0.05, 0.1, 0.1}, {0, 4, 2, 8}, 2), (std::vector<int64_t>{0, 4, 2}));
  // Only the target left.
  EXPECT_EQ(top_k_affinity({0, 4}, {0.0, 0.9}, {0}, 2), (std::vector<int64_t>{0}));
}

TEST(FilterRound, ANonFiniteGateNamesTheDataSet) {
  try {
    filter_round({0, 3}, {0.0, std::nan("")}, {"bbbp", "tox21"});
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("'tox21'"), std::string::npos) << e.what();
  }
}

TEST(PlaceDatasets, TargetStaysOnRankZeroAndLoadsAreBalanced) {
  // Target cost 10 on rank 0; auxiliaries 8, 7, 6, 5, 4 over 3 ranks, largest first to the least loaded.
  const std::vector<double> cost = {10, 5, 8, 4, 7, 6};
  const std::vector<int> owner = place_datasets(cost, 3);
  EXPECT_EQ(owner, (std::vector<int>{0, 1, 1, 0, 2, 2}));  // loads 14, 13, 13
  std::vector<double> load(3, 0);
  for (size_t k = 0; k < cost.size(); ++k) load[static_cast<size_t>(owner[k])] += cost[k];
  EXPECT_LE(*std::max_element(load.begin(), load.end()) - *std::min_element(load.begin(), load.end()), 1.0);
  EXPECT_EQ(place_datasets(cost, 1), std::vector<int>(6, 0));
  // More ranks than data sets: some ranks hold nothing, no rank holds two.
  const std::vector<int> wide = place_datasets({1, 1, 1}, 4);
  EXPECT_EQ(wide, (std::vector<int>{0, 1, 2}));
  // L_0 goes to the least-loaded rank other than rank 0 (rank 0 alone on one rank) ...
  EXPECT_EQ(l0_rank(cost, owner, 3), 1);
  EXPECT_EQ(l0_rank({1, 1, 1}, wide, 4), 3);
  EXPECT_EQ(l0_rank(cost, std::vector<int>(6, 0), 1), 0);
  // ... unless the target rank has the room for it beside the others' auxiliaries (loads 2 and 3 here).
  const std::vector<double> uneven = {1, 1, 3};
  EXPECT_EQ(place_datasets(uneven, 2), (std::vector<int>{0, 0, 1}));
  EXPECT_EQ(l0_rank(uneven, place_datasets(uneven, 2), 2), 0);
  EXPECT_EQ(l0_rank({1, 1.5, 3}, place_datasets({1, 1.5, 3}, 2), 2), 1);
}

}  // namespace
}  // namespace relfm
