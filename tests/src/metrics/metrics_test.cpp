// Metrics against their definitions: ROC-AUC as the probability that a positive outranks a negative
// (ties count half, checked by brute force over all pairs), AP by its step-function definition, and
// the OGB rules for multi-task averaging and missing labels.
#include "src/metrics/metrics.hpp"

#include "src/core/error.hpp"
#include "src/core/rng.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace relfm {
namespace {

double brute_force_auc(const std::vector<float>& s, const std::vector<float>& y) {
  double wins = 0;
  int64_t pairs = 0;
  for (size_t i = 0; i < s.size(); ++i)
    for (size_t j = 0; j < s.size(); ++j)
      if (y[i] == 1.0f && y[j] == 0.0f) {
        wins += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
        ++pairs;
      }
  return wins / pairs;
}

TEST(RocAuc, EqualsPairwiseDefinitionWithTiesAndMissingLabels) {
  const CounterRng rng(4, RngPurpose::kTest);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<float> s, y, s_clean, y_clean;
    for (int i = 0; i < 60; ++i) {
      const float score = std::floor(rng.uniform_float(trial * 1000 + 2 * i) * 8.0f);  // many ties
      const float u = rng.uniform_float(trial * 1000 + 2 * i + 1);
      const float label = u < 0.15f ? std::nanf("") : (u < 0.55f ? 1.0f : 0.0f);
      s.push_back(score);
      y.push_back(label);
      if (!std::isnan(label)) {
        s_clean.push_back(score);
        y_clean.push_back(label);
      }
    }
    EXPECT_NEAR(roc_auc(s, y), brute_force_auc(s_clean, y_clean), 1e-12);
  }
}

TEST(RocAuc, PerfectReversedAndSingleClass) {
  EXPECT_DOUBLE_EQ(roc_auc(std::vector<float>{0.1f, 0.2f, 0.9f}, std::vector<float>{0, 0, 1}), 1.0);
  EXPECT_DOUBLE_EQ(roc_auc(std::vector<float>{0.9f, 0.2f, 0.1f}, std::vector<float>{0, 0, 1}), 0.0);
  EXPECT_TRUE(std::isnan(roc_auc(std::vector<float>{0.1f, 0.2f}, std::vector<float>{1, 1})));
}

TEST(AveragePrecision, MatchesStepDefinition) {
  // Scores 0.9 (+), 0.8 (-), 0.7 (+), 0.6 (-): precision at recalls 0.5 and 1.0 is 1 and 2/3.
  EXPECT_NEAR(average_precision(std::vector<float>{0.9f, 0.8f, 0.7f, 0.6f}, std::vector<float>{1, 0, 1, 0}),
              0.5 * 1.0 + 0.5 * (2.0 / 3.0), 1e-12);
  // A tie between a positive and a negative is one threshold: precision 1/2 at recall 1.
  EXPECT_NEAR(average_precision(std::vector<float>{0.5f, 0.5f}, std::vector<float>{1, 0}), 0.5, 1e-12);
}

TEST(EvaluateMetric, OgbAveragesOnlyTasksWithBothClasses) {
  MatF pred(4, 3), y(4, 3);
  pred << 0.1f, 1, 5, 0.2f, 2, 4, 0.8f, 3, 3, 0.9f, 4, 2;
  const float nan = std::nanf("");
  y << 0, 1, 1, 0, 1, 0, 1, 1, nan, 1, 1, 1;  // task 1 has only positives
  const MetricResult r = evaluate_metric(Metric::kRocAuc, pred, y);
  EXPECT_EQ(r.tasks_used, 2);
  EXPECT_TRUE(std::isnan(r.per_task[1]));
  EXPECT_NEAR(r.per_task[0], 1.0, 1e-12);
  EXPECT_NEAR(r.per_task[2], 0.5, 1e-12);  // labelled: 5 (+), 4 (-), 2 (+): one pair of two won
  EXPECT_NEAR(r.value, 0.75, 1e-12);
}

TEST(EvaluateMetric, RegressionMetricsSkipMissingLabels) {
  MatF pred(3, 2), y(3, 2);
  pred << 1, 0, 2, 0, 3, 10;
  y << 2, std::nanf(""), 2, 1, 5, 7;
  // RMSE over all labelled entries: errors -1, 0, -2 (task 0), -1, 3 (task 1).
  EXPECT_NEAR(evaluate_metric(Metric::kRmse, pred, y).value, std::sqrt((1 + 0 + 4 + 1 + 9) / 5.0), 1e-6);
  // MAE: per task (1 + 0 + 2) / 3 and (1 + 3) / 2, averaged.
  EXPECT_NEAR(evaluate_metric(Metric::kMae, pred, y).value, 0.5 * (1.0 + 2.0), 1e-6);
  MatF logits(2, 1), labels(2, 1);
  logits << 2.0f, -1.0f;
  labels << 1.0f, 1.0f;
  EXPECT_NEAR(evaluate_metric(Metric::kAccuracy, logits, labels).value, 0.5, 1e-12);
}

TEST(Metric, NamesRoundTripAndUnknownIsInputError) {
  for (Metric m : {Metric::kRocAuc, Metric::kAveragePrecision, Metric::kRmse, Metric::kMae, Metric::kAccuracy})
    EXPECT_EQ(parse_metric(metric_name(m)), m);
  EXPECT_THROW(parse_metric("auc"), InputError);
}

}  // namespace
}  // namespace relfm
