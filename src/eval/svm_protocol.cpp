#include "src/eval/svm_protocol.hpp"

#include "src/core/error.hpp"
#include "src/core/rng.hpp"

#include <Eigen/Dense>
#include <svm.h>

#include <algorithm>
#include <map>
#include <memory>

namespace relfm::eval {
namespace {

void quiet(const char*) {}

// libsvm's sparse rows of the given samples' features (every feature present; index -1 ends a row).
std::vector<std::vector<svm_node>> feature_rows(const MatF& x, const std::vector<int64_t>& samples) {
  std::vector<std::vector<svm_node>> rows(samples.size());
  for (size_t i = 0; i < samples.size(); ++i) {
    rows[i].resize(static_cast<size_t>(x.cols()) + 1);
    for (int64_t j = 0; j < x.cols(); ++j) rows[i][static_cast<size_t>(j)] = {static_cast<int>(j + 1), x(samples[i], j)};
    rows[i][static_cast<size_t>(x.cols())] = {-1, 0.0};
  }
  return rows;
}

// A libsvm training problem that owns its rows and targets.
struct Problem {
  std::vector<std::vector<svm_node>> rows;
  std::vector<svm_node*> pointers;
  std::vector<double> targets;
  svm_problem problem{};

  Problem() = default;
  Problem(const Problem&) = delete;
  Problem(std::vector<std::vector<svm_node>> r, std::vector<double> t) : rows(std::move(r)), targets(std::move(t)) { wire(); }
  Problem& operator=(Problem&& o) noexcept {
    rows = std::move(o.rows);
    targets = std::move(o.targets);
    wire();
    return *this;
  }

 private:
  void wire() {
    pointers.clear();
    for (auto& r : rows) pointers.push_back(r.data());
    problem.l = static_cast<int>(rows.size());
    problem.y = targets.data();
    problem.x = pointers.data();
  }
};

// scikit-learn's gamma='scale' on the training samples: 1 / (d * variance of all their entries).
double scale_gamma(const MatF& x, const std::vector<int64_t>& samples) {
  double sum = 0, sum2 = 0;
  for (int64_t s : samples)
    for (int64_t j = 0; j < x.cols(); ++j) {
      sum += x(s, j);
      sum2 += static_cast<double>(x(s, j)) * x(s, j);
    }
  const double count = static_cast<double>(samples.size()) * static_cast<double>(x.cols());
  const double var = sum2 / count - (sum / count) * (sum / count);
  return var > 0 ? 1.0 / (static_cast<double>(x.cols()) * var) : 1.0;
}

// The RBF kernel between two sample sets, in double, as libsvm computes it (|a|^2 + |b|^2 - 2 a.b).
Eigen::MatrixXd rbf_kernel(const MatF& x, const std::vector<int64_t>& a, const std::vector<int64_t>& b, double gamma) {
  auto rows = [&](const std::vector<int64_t>& s) {
    Eigen::MatrixXd m(static_cast<int64_t>(s.size()), x.cols());
    for (size_t i = 0; i < s.size(); ++i) m.row(static_cast<int64_t>(i)) = x.row(s[i]).cast<double>();
    return m;
  };
  const Eigen::MatrixXd xa = rows(a), xb = rows(b);
  Eigen::MatrixXd k = -2.0 * (xa * xb.transpose());
  k.colwise() += xa.rowwise().squaredNorm();
  k.rowwise() += xb.rowwise().squaredNorm().transpose();
  return (-gamma * k.array()).exp().matrix();
}

// libsvm rows of a precomputed kernel: position 0 holds the sample's 1-based serial number (training
// rows) and position j the kernel value against training sample j.
std::vector<svm_node> kernel_row(const Eigen::MatrixXd& k, int64_t i, int serial) {
  std::vector<svm_node> row(static_cast<size_t>(k.cols()) + 2);
  row[0] = {0, static_cast<double>(serial)};
  for (int64_t j = 0; j < k.cols(); ++j) row[static_cast<size_t>(j) + 1] = {static_cast<int>(j + 1), k(i, j)};
  row[static_cast<size_t>(k.cols()) + 1] = {-1, 0.0};
  return row;
}

// x with every column standardised by the mean and standard deviation of the `train` rows (a constant
// column is only centred).
MatF standardised(const MatF& x, const std::vector<int64_t>& train) {
  Eigen::RowVectorXd sum = Eigen::RowVectorXd::Zero(x.cols()), sum2 = Eigen::RowVectorXd::Zero(x.cols());
  for (int64_t i : train) {
    const Eigen::RowVectorXd row = x.row(i).cast<double>();
    sum += row;
    sum2 += row.array().square().matrix();
  }
  const double n = static_cast<double>(train.size());
  const Eigen::RowVectorXd mean = sum / n;
  Eigen::RowVectorXd sd = (sum2 / n - mean.array().square().matrix()).cwiseMax(0.0).cwiseSqrt();
  for (int64_t j = 0; j < sd.size(); ++j)
    if (!(sd(j) > 0)) sd(j) = 1.0;
  return ((x.cast<double>().rowwise() - mean).array().rowwise() / sd.array()).cast<float>().matrix();
}

// One fit's data, ready for libsvm at any C: the features standardised by the training rows when the
// protocol asks, and for the RBF kernel the training and test kernel rows, computed once as matrix products
// and handed to libsvm precomputed (the same kernel values up to the order of the sums, several times faster
// than libsvm's sparse per-entry dot products). The grid search fits every C on the same split, so the
// kernel is built once per split instead of once per C.
class PreparedFit {
 public:
  PreparedFit(const MatF& raw, const std::vector<int32_t>& y, const std::vector<int64_t>& train, const std::vector<int64_t>& test,
              const SvmProtocol& protocol)
      : rbf_(protocol.kernel != "linear") {
    MatF scaled;
    if (protocol.standardize) scaled = standardised(raw, train);
    const MatF& x = protocol.standardize ? scaled : raw;
    std::vector<double> targets;
    for (int64_t s : train) targets.push_back(y[s]);
    if (rbf_) {
      const double gamma = scale_gamma(x, train);
      const Eigen::MatrixXd k = rbf_kernel(x, train, train, gamma);
      std::vector<std::vector<svm_node>> rows;
      for (size_t i = 0; i < train.size(); ++i) rows.push_back(kernel_row(k, static_cast<int64_t>(i), static_cast<int>(i + 1)));
      problem_ = Problem(std::move(rows), std::move(targets));
      const Eigen::MatrixXd k_test = rbf_kernel(x, test, train, gamma);
      for (size_t t = 0; t < test.size(); ++t) test_rows_.push_back(kernel_row(k_test, static_cast<int64_t>(t), 0));
    } else {
      problem_ = Problem(feature_rows(x, train), std::move(targets));
      test_rows_ = feature_rows(x, test);
    }
    for (int64_t s : test) test_labels_.push_back(y[s]);
  }

  // Accuracy on the test rows of an SVM with this C trained on the training rows.
  double score(double c) {
    svm_parameter param{};
    param.svm_type = C_SVC;
    param.kernel_type = rbf_ ? PRECOMPUTED : LINEAR;
    param.cache_size = 200;
    param.eps = 1e-3;
    param.C = c;
    param.shrinking = 1;
    if (const char* bad = svm_check_parameter(&problem_.problem, &param)) fail("libsvm: {}", bad);
    svm_model* model = svm_train(&problem_.problem, &param);
    int64_t correct = 0;
    for (size_t t = 0; t < test_rows_.size(); ++t) correct += static_cast<int32_t>(svm_predict(model, test_rows_[t].data())) == test_labels_[t];
    svm_free_and_destroy_model(&model);
    return static_cast<double>(correct) / static_cast<double>(test_rows_.size());
  }

 private:
  bool rbf_;
  Problem problem_;
  std::vector<std::vector<svm_node>> test_rows_;
  std::vector<int32_t> test_labels_;
};

std::vector<int64_t> complement(int64_t n, const std::vector<int64_t>& part) {
  std::vector<uint8_t> in(static_cast<size_t>(n), 0);
  for (int64_t i : part) in[i] = 1;
  std::vector<int64_t> out;
  for (int64_t i = 0; i < n; ++i)
    if (!in[i]) out.push_back(i);
  return out;
}

}  // namespace

std::vector<std::vector<int64_t>> stratified_folds(const std::vector<int32_t>& labels, int folds, uint64_t seed) {
  std::map<int32_t, std::vector<int64_t>> by_class;
  for (size_t i = 0; i < labels.size(); ++i) by_class[labels[i]].push_back(static_cast<int64_t>(i));
  std::vector<std::vector<int64_t>> out(static_cast<size_t>(folds));
  int64_t next = 0;
  for (auto& [label, members] : by_class) {
    const CounterRng rng = CounterRng(seed, RngPurpose::kSplit, 0x53564d).derive(static_cast<uint64_t>(label));
    const std::vector<int64_t> order = random_permutation(rng, static_cast<int64_t>(members.size()));
    for (int64_t i : order) out[static_cast<size_t>(next++ % folds)].push_back(members[i]);
  }
  for (auto& fold : out) std::sort(fold.begin(), fold.end());
  return out;
}

namespace {

void check_protocol(const MatF& x, const std::vector<int32_t>& y, const SvmProtocol& protocol) {
  const int64_t n = x.rows();
  if (static_cast<int64_t>(y.size()) != n) fail_input("SVM protocol: {} labels for {} embeddings", y.size(), n);
  if (protocol.kernel != "rbf" && protocol.kernel != "linear")
    fail_input("SVM protocol: kernel '{}': expected rbf or linear", protocol.kernel);
  if (protocol.c_grid.empty()) fail_input("SVM protocol: the C grid is empty");
  if (protocol.outer_folds < 2 || protocol.inner_folds < 2)
    fail_input("SVM protocol: {} outer and {} inner folds (need at least 2 each)", protocol.outer_folds, protocol.inner_folds);
  std::map<int32_t, int64_t> counts;
  for (int32_t label : y) ++counts[label];
  if (counts.size() < 2) fail_input("SVM protocol: the labels hold {} class(es), need at least 2", counts.size());
  for (auto [label, count] : counts)
    if (count < protocol.outer_folds)
      fail_input("SVM protocol: class {} has {} members, fewer than the {} folds", label, count, protocol.outer_folds);
  svm_set_print_string_function(quiet);
}

// Outer fold `f` of the protocol, the outer folds given.
SvmFold run_fold(const MatF& x, const std::vector<int32_t>& y, const SvmProtocol& protocol, uint64_t seed,
                 const std::vector<std::vector<int64_t>>& outer, int f) {
  const int64_t n = x.rows();
  const std::vector<int64_t>& test = outer[static_cast<size_t>(f)];
  const std::vector<int64_t> train = complement(n, test);
  // Inner grid search on the training fold (its own stratified folds, deterministic).
  std::vector<int32_t> train_labels;
  for (int64_t i : train) train_labels.push_back(y[i]);
  const auto inner = stratified_folds(train_labels, protocol.inner_folds, seed ^ (0x9e37ULL + static_cast<uint64_t>(f)));
  // Each C's accuracy summed over the inner folds in fold order (one kernel per inner split for all C).
  std::vector<double> total(protocol.c_grid.size(), 0.0);
  for (const auto& inner_test_local : inner) {
    std::vector<int64_t> inner_test, inner_train;
    for (int64_t i : inner_test_local) inner_test.push_back(train[i]);
    for (int64_t i : complement(static_cast<int64_t>(train.size()), inner_test_local)) inner_train.push_back(train[i]);
    PreparedFit fit(x, y, inner_train, inner_test, protocol);
    for (size_t c = 0; c < protocol.c_grid.size(); ++c) total[c] += fit.score(protocol.c_grid[c]);
  }
  double best_c = protocol.c_grid.front(), best = -1;
  for (size_t c = 0; c < protocol.c_grid.size(); ++c)
    if (total[c] > best + 1e-12) {  // strictly better: ties keep the smaller C
      best = total[c];
      best_c = protocol.c_grid[c];
    }
  return {PreparedFit(x, y, train, test, protocol).score(best_c), best_c};
}

}  // namespace

SvmFold svm_fold(const MatF& x, const std::vector<int32_t>& y, const SvmProtocol& protocol, uint64_t seed, int fold) {
  check_protocol(x, y, protocol);
  if (fold < 0 || fold >= protocol.outer_folds) fail_input("SVM protocol: fold {} of {}", fold, protocol.outer_folds);
  return run_fold(x, y, protocol, seed, stratified_folds(y, protocol.outer_folds, seed), fold);
}

SvmResult svm_cross_validate(const MatF& x, const std::vector<int32_t>& y, const SvmProtocol& protocol, uint64_t seed) {
  check_protocol(x, y, protocol);
  SvmResult result;
  const auto outer = stratified_folds(y, protocol.outer_folds, seed);
  for (int f = 0; f < protocol.outer_folds; ++f) {
    const SvmFold fold = run_fold(x, y, protocol, seed, outer, f);
    result.fold_accuracy.push_back(fold.accuracy);
    result.chosen_c.push_back(fold.chosen_c);
  }
  double sum = 0;
  for (double a : result.fold_accuracy) sum += a;
  result.mean_accuracy = sum / static_cast<double>(result.fold_accuracy.size());
  return result;
}

}  // namespace relfm::eval
