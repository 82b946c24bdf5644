// The in-batch cosine a uniform batch would have: the mean cosine over all pairs of instances, each
// represented by the latest row a training step gave it (unit rows, as the batches' hardness uses). Beside
// the batches' mean cosine it says how much harder than random a sampler's batches are, within one run and
// on rows of the same training (two separately trained runs' cosines are not comparable). The latest rows
// are the state: a checkpoint keeps them (save/restore), so a resumed run reads the same numbers.
#pragma once

#include "src/core/error.hpp"
#include "src/core/types.hpp"

#include <cmath>
#include <span>
#include <vector>

namespace relfm::sampler {

class PopulationCosine {
 public:
  PopulationCosine(int64_t instances, int64_t dim) : latest_(MatF::Zero(instances, dim)), seen_(static_cast<size_t>(instances), 0) {}

  // Row k of `rows` is instance ids[k]'s latest.
  void update(std::span<const VertexId> ids, const MatF& rows) {
    for (size_t k = 0; k < ids.size(); ++k) {
      latest_.row(ids[k]) = rows.row(static_cast<int64_t>(k));
      seen_[static_cast<size_t>(ids[k])] = 1;
    }
  }

  // Mean of x_i . x_j over the pairs i < j of the instances seen so far (NaN below two): from the sum of the
  // rows, (|sum|^2 - sum of |x_i|^2) / (n (n - 1)), in double and in instance order.
  double mean_pair_cosine() const {
    Eigen::VectorXd sum = Eigen::VectorXd::Zero(latest_.cols());
    double squares = 0.0;
    int64_t n = 0;
    for (int64_t i = 0; i < latest_.rows(); ++i) {
      if (!seen_[static_cast<size_t>(i)]) continue;
      const Eigen::VectorXd x = latest_.row(i).transpose().cast<double>();
      sum += x;
      squares += x.squaredNorm();
      ++n;
    }
    if (n < 2) return std::nan("");
    return (sum.squaredNorm() - squares) / (static_cast<double>(n) * static_cast<double>(n - 1));
  }

  // [seen flags (instances), latest rows (instances x dim, row-major)], as doubles (floats exactly).
  std::vector<double> save() const {
    std::vector<double> out(seen_.begin(), seen_.end());
    out.insert(out.end(), latest_.data(), latest_.data() + latest_.size());
    return out;
  }
  void restore(const std::vector<double>& state, const std::string& where) {
    const auto n = static_cast<size_t>(latest_.rows());
    if (state.size() != n + static_cast<size_t>(latest_.size()))
      fail_input("{}: the population cosine's state has {} values, this job needs {}", where, state.size(),
                 n + static_cast<size_t>(latest_.size()));
    for (size_t i = 0; i < n; ++i) seen_[i] = state[i] != 0.0 ? 1 : 0;
    for (int64_t k = 0; k < latest_.size(); ++k) latest_.data()[k] = static_cast<float>(state[n + static_cast<size_t>(k)]);
  }

 private:
  MatF latest_;
  std::vector<uint8_t> seen_;
};

}  // namespace relfm::sampler
