#include "src/metrics/metrics.hpp"

#include "src/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace relfm {

Metric parse_metric(std::string_view name) {
  if (name == "rocauc") return Metric::kRocAuc;
  if (name == "ap") return Metric::kAveragePrecision;
  if (name == "rmse") return Metric::kRmse;
  if (name == "mae") return Metric::kMae;
  if (name == "accuracy") return Metric::kAccuracy;
  fail_input("unknown metric '{}' (known: rocauc, ap, rmse, mae, accuracy)", name);
}

std::string_view metric_name(Metric m) {
  switch (m) {
    case Metric::kRocAuc: return "rocauc";
    case Metric::kAveragePrecision: return "ap";
    case Metric::kRmse: return "rmse";
    case Metric::kMae: return "mae";
    case Metric::kAccuracy: return "accuracy";
  }
  return "?";
}

bool higher_is_better(Metric m) { return m == Metric::kRocAuc || m == Metric::kAveragePrecision || m == Metric::kAccuracy; }

namespace {

struct Scored {
  float score;
  bool positive;
};

std::vector<Scored> labelled_pairs(std::span<const float> scores, std::span<const float> labels) {
  RELFM_CHECK(scores.size() == labels.size(), "{} scores for {} labels", scores.size(), labels.size());
  std::vector<Scored> v;
  v.reserve(scores.size());
  for (size_t i = 0; i < scores.size(); ++i)
    if (!std::isnan(labels[i])) v.push_back({scores[i], labels[i] > 0.5f});
  return v;
}

}  // namespace

double roc_auc(std::span<const float> scores, std::span<const float> labels) {
  std::vector<Scored> v = labelled_pairs(scores, labels);
  std::sort(v.begin(), v.end(), [](const Scored& a, const Scored& b) { return a.score < b.score; });
  // Mann-Whitney U with mid-ranks for ties.
  double rank_sum_pos = 0.0;
  int64_t pos = 0;
  size_t i = 0;
  while (i < v.size()) {
    size_t j = i;
    while (j < v.size() && v[j].score == v[i].score) ++j;
    const double mid_rank = 0.5 * static_cast<double>(i + 1 + j);  // ranks i+1 .. j
    for (size_t k = i; k < j; ++k)
      if (v[k].positive) {
        rank_sum_pos += mid_rank;
        ++pos;
      }
    i = j;
  }
  const int64_t neg = static_cast<int64_t>(v.size()) - pos;
  if (pos == 0 || neg == 0) return std::nan("");
  return (rank_sum_pos - 0.5 * static_cast<double>(pos) * static_cast<double>(pos + 1)) /
         (static_cast<double>(pos) * static_cast<double>(neg));
}

double average_precision(std::span<const float> scores, std::span<const float> labels) {
  std::vector<Scored> v = labelled_pairs(scores, labels);
  std::sort(v.begin(), v.end(), [](const Scored& a, const Scored& b) { return a.score > b.score; });
  const int64_t total_pos = std::count_if(v.begin(), v.end(), [](const Scored& s) { return s.positive; });
  if (total_pos == 0) return std::nan("");
  double ap = 0.0, prev_recall = 0.0;
  int64_t tp = 0, fp = 0;
  size_t i = 0;
  while (i < v.size()) {
    size_t j = i;
    while (j < v.size() && v[j].score == v[i].score) {
      (v[j].positive ? tp : fp) += 1;
      ++j;
    }
    const double recall = static_cast<double>(tp) / static_cast<double>(total_pos);
    const double precision = static_cast<double>(tp) / static_cast<double>(tp + fp);
    ap += (recall - prev_recall) * precision;
    prev_recall = recall;
    i = j;
  }
  return ap;
}

MetricResult evaluate_metric(Metric m, const MatF& predictions, const MatF& labels) {
  if (predictions.rows() != labels.rows() || predictions.cols() != labels.cols())
    fail("evaluate: predictions are {}x{} but labels are {}x{}", predictions.rows(), predictions.cols(), labels.rows(),
         labels.cols());
  const int64_t n = labels.rows(), t = labels.cols();
  MetricResult r;
  r.per_task.assign(static_cast<size_t>(t), std::nan(""));
  std::vector<float> s(static_cast<size_t>(n)), y(static_cast<size_t>(n));
  double total = 0.0;
  int64_t count = 0;
  for (int64_t task = 0; task < t; ++task) {
    for (int64_t i = 0; i < n; ++i) {
      s[i] = predictions(i, task);
      y[i] = labels(i, task);
    }
    double value = std::nan("");
    switch (m) {
      case Metric::kRocAuc: value = roc_auc(s, y); break;
      case Metric::kAveragePrecision: {
        // OGB uses a task only when both classes are present.
        const bool has_neg = std::any_of(y.begin(), y.end(), [](float v) { return v == 0.0f; });
        value = has_neg ? average_precision(s, y) : std::nan("");
        break;
      }
      case Metric::kMae:
      case Metric::kRmse:
      case Metric::kAccuracy: {
        double acc = 0.0;
        int64_t k = 0;
        for (int64_t i = 0; i < n; ++i) {
          if (std::isnan(y[i])) continue;
          const double d = static_cast<double>(s[i]) - y[i];
          if (m == Metric::kMae) acc += std::abs(d);
          else if (m == Metric::kRmse) acc += d * d;
          else acc += ((s[i] > 0.0f) == (y[i] > 0.5f)) ? 1.0 : 0.0;
          ++k;
        }
        if (k > 0) value = acc / static_cast<double>(k);
        if (m == Metric::kRmse && k > 0) value = std::sqrt(value);
        total += acc;
        count += k;
        break;
      }
    }
    r.per_task[task] = value;
    if (!std::isnan(value)) ++r.tasks_used;
  }
  switch (m) {
    case Metric::kRmse:  // over all labelled entries, as OGB
      r.value = count > 0 ? std::sqrt(total / static_cast<double>(count)) : std::nan("");
      break;
    case Metric::kAccuracy:
      r.value = count > 0 ? total / static_cast<double>(count) : std::nan("");
      break;
    default: {  // mean over qualifying tasks
      double acc = 0.0;
      for (double v : r.per_task)
        if (!std::isnan(v)) acc += v;
      r.value = r.tasks_used > 0 ? acc / r.tasks_used : std::nan("");
    }
  }
  return r;
}

}  // namespace relfm
