// LabelScale (jobs/molecule_groups.hpp): the standardisation of auxiliary regression labels that
// gin_group applies with train.auxiliary_regression = standardized.
#include "jobs/molecule_groups.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace relfm::jobs {
namespace {

constexpr float kNan = std::numeric_limits<float>::quiet_NaN();

TEST(LabelScale, PoolRowsGetMeanZeroAndStdOneWhateverTheOtherRowsHold) {
  // Task 0: pool rows 0, 2, 3 hold -20, -5, 1 (row 1 is outside the pool and huge); task 1 has a hole.
  MatF y(5, 2);
  y << -20, 3,     //
      1e6, 1e6,    //
      -5, kNan,    //
      1, 7,        //
      2, 5;
  const std::vector<int64_t> pool = {0, 2, 3, 4};
  const LabelScale s = LabelScale::of(y, pool);
  const MatF z = *s.apply(y);
  for (int64_t t = 0; t < 2; ++t) {
    double n = 0, sum = 0, squares = 0;
    for (const int64_t r : pool)
      if (!std::isnan(z(r, t))) n += 1, sum += z(r, t), squares += double(z(r, t)) * z(r, t);
    EXPECT_NEAR(sum / n, 0.0, 1e-6) << "task " << t;
    EXPECT_NEAR(squares / n, 1.0, 1e-5) << "task " << t;
  }
  EXPECT_TRUE(std::isnan(z(2, 1))) << "an unlabelled entry stays unlabelled";
  EXPECT_NEAR(s.mean(0), (-20 - 5 + 1 + 2) / 4.0, 1e-6);
  // Rows outside the pool are mapped by the same affine map.
  EXPECT_NEAR(z(1, 0), (1e6 - s.mean(0)) * s.inverse_std(0), 1.0);
}

TEST(LabelScale, TasksWithoutSpreadKeepTheirScale) {
  MatF y(3, 3);
  y << 4, 9, kNan,  //
      4, kNan, kNan,  //
      4, kNan, 2;
  const LabelScale s = LabelScale::of(y, {0, 1, 2});
  const MatF z = *s.apply(y);
  EXPECT_FLOAT_EQ(s.inverse_std(0), 1.0f);  // constant: shifted to 0, not divided by a zero std
  EXPECT_FLOAT_EQ(z(0, 0), 0.0f);
  EXPECT_FLOAT_EQ(z(0, 1), 9.0f);  // one label: left as it is
  EXPECT_FLOAT_EQ(z(2, 2), 2.0f);
  EXPECT_TRUE(std::isnan(z(1, 1)));
}

}  // namespace
}  // namespace relfm::jobs
