// Parameter initialisers. Each draws from a counter-based stream keyed by (seed, parameter name), so a
// parameter's initial value does not depend on the order in which a model registers its parameters.
#pragma once

#include "src/core/rng.hpp"
#include "src/core/types.hpp"

#include <Eigen/QR>

#include <cmath>
#include <string_view>

namespace relfm {

template <typename T>
Mat<T> uniform_init(int64_t rows, int64_t cols, double bound, uint64_t seed, std::string_view name) {
  const CounterRng rng(seed, RngPurpose::kInit, hash_string(name));
  Mat<T> m(rows, cols);
  for (int64_t k = 0; k < m.size(); ++k) m.data()[k] = static_cast<T>((2.0 * rng.uniform_double(k) - 1.0) * bound);
  return m;
}

// Glorot/Xavier uniform: bound sqrt(6 / (fan_in + fan_out)).
template <typename T>
Mat<T> xavier_uniform(int64_t rows, int64_t cols, int64_t fan_in, int64_t fan_out, uint64_t seed, std::string_view name) {
  return uniform_init<T>(rows, cols, std::sqrt(6.0 / static_cast<double>(fan_in + fan_out)), seed, name);
}

// torch.nn.init.orthogonal_: the Q factor of a Gaussian matrix, signs fixed by R's diagonal, so that the
// rows (when rows <= cols) or the columns (otherwise) are orthonormal.
template <typename T>
Mat<T> orthogonal_init(int64_t rows, int64_t cols, uint64_t seed, std::string_view name) {
  const CounterRng rng(seed, RngPurpose::kInit, hash_string(name));
  const bool wide = rows < cols;  // factor the tall orientation
  const int64_t r = wide ? cols : rows, c = wide ? rows : cols;
  MatD g(r, c);
  for (int64_t k = 0; k < g.size(); ++k) g.data()[k] = rng.normal(static_cast<uint64_t>(k));
  Eigen::HouseholderQR<MatD> qr(g);
  MatD q = qr.householderQ() * MatD::Identity(r, c);
  const MatD rr = qr.matrixQR();
  for (int64_t j = 0; j < c; ++j)
    if (rr(j, j) < 0) q.col(j) *= -1.0;
  if (wide) q.transposeInPlace();
  return q.cast<T>();
}

}  // namespace relfm
