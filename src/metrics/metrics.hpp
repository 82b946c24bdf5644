// Evaluation metrics, computed the way OGB's Evaluator computes them so numbers compare with published
// tables: ROC-AUC and average precision per task over labelled entries, averaged over the tasks that
// have both classes; RMSE over all labelled entries; MAE per task, averaged (MolGroup's QM8 metric).
// Predictions are logits for classification (any monotone score works for AUC/AP).
#pragma once

#include "src/core/types.hpp"

#include <span>
#include <string_view>
#include <vector>

namespace relfm {

enum class Metric { kRocAuc, kAveragePrecision, kRmse, kMae, kAccuracy };

Metric parse_metric(std::string_view name);  // "rocauc", "ap", "rmse", "mae", "accuracy"
std::string_view metric_name(Metric m);
bool higher_is_better(Metric m);

// Binary ROC-AUC with ties counted half (the trapezoidal rule; equals sklearn's roc_auc_score).
// Entries whose label is NaN are skipped. NaN if either class is absent.
double roc_auc(std::span<const float> scores, std::span<const float> labels);
// Average precision as sklearn's average_precision_score: sum_k (R_k - R_{k-1}) P_k over distinct
// score thresholds. NaN if there is no positive label.
double average_precision(std::span<const float> scores, std::span<const float> labels);

struct MetricResult {
  double value = 0.0;              // the headline number (NaN if no task qualifies)
  std::vector<double> per_task;    // NaN for tasks that do not qualify
  int tasks_used = 0;
};

// predictions and labels are (molecules x tasks); NaN labels are missing.
MetricResult evaluate_metric(Metric m, const MatF& predictions, const MatF& labels);

}  // namespace relfm
