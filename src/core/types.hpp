// Data conventions, stated once for the whole code base.
//
//  * Dense data are row-major matrices (Mat<T>); float for training, double for gradient checks.
//  * Graphs are CSR: 64-bit row offsets (counts can pass 2^31), 32-bit vertex ids (METIS idx_t is 32-bit).
//  * Labels are float with NaN meaning "missing".
#pragma once

#include <Eigen/Core>

#include <cstdint>
#include <limits>
#include <vector>

namespace relfm {

template <typename T>
using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatF = Mat<float>;
using MatD = Mat<double>;
using IndexMat = Mat<int32_t>;

using VertexId = int32_t;
using EdgeOffset = int64_t;

inline constexpr float kMissingLabel = std::numeric_limits<float>::quiet_NaN();

}  // namespace relfm
