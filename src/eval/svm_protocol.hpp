// GraphCL's evaluation protocol for frozen graph embeddings (research/batchsampler.md §4, after
// InfoGraph's evaluate_embedding.py): stratified 10-fold cross-validation; inside each training fold an
// SVM's C is chosen from {1e-3, ..., 1e3} by an inner stratified 5-fold grid search (the smallest C among
// equally good ones, as scikit-learn's GridSearchCV picks), refitted on the whole training fold and scored
// on the test fold. The reported number is the mean test-fold accuracy. The SVM is Debian's libsvm: an RBF
// kernel with scikit-learn's default gamma = 1 / (d · variance of the training fold's entries), or linear.
// Fold assignment is a pure function of (labels, seed).
#pragma once

#include "src/core/types.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace relfm::eval {

struct SvmProtocol {
  std::vector<double> c_grid = {1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0};
  int outer_folds = 10;
  int inner_folds = 5;
  std::string kernel = "rbf";  // "rbf" | "linear"
  // Standardise every feature by the mean and standard deviation of each fit's training rows (scikit-learn's
  // StandardScaler in a pipeline). GraphCL's protocol does not: its raw sum-pooled features let a few large
  // coordinates dominate the RBF kernel when an embedding's scale grows.
  bool standardize = false;
};

struct SvmResult {
  double mean_accuracy = 0;
  std::vector<double> fold_accuracy;
  std::vector<double> chosen_c;
};

// Test indices of each of `folds` stratified folds: every class's members (in a random order from `seed`)
// dealt round the folds, continuing where the previous class stopped, so fold sizes differ by at most one
// and each class's count per fold by at most one.
std::vector<std::vector<int64_t>> stratified_folds(const std::vector<int32_t>& labels, int folds, uint64_t seed);

// The protocol on embeddings x (n x d) with labels y in 0..C-1. InputError for mismatched sizes, fewer
// than two classes, a class smaller than outer_folds, an unknown kernel or an empty C grid.
// One outer fold of the protocol (the same numbers svm_cross_validate gives for it): callers spread the
// folds over ranks.
struct SvmFold {
  double accuracy = 0;
  double chosen_c = 0;
};
SvmFold svm_fold(const MatF& x, const std::vector<int32_t>& y, const SvmProtocol& protocol, uint64_t seed, int fold);
SvmResult svm_cross_validate(const MatF& x, const std::vector<int32_t>& y, const SvmProtocol& protocol, uint64_t seed);

}  // namespace relfm::eval
