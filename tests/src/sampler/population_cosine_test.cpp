// PopulationCosine (src/sampler/population_cosine.hpp): the mean cosine over all pairs of the instances'
// latest rows, against the pairs counted one by one; its state through save/restore.
#include "src/sampler/population_cosine.hpp"

#include "src/core/rng.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace relfm::sampler {
namespace {

MatF unit_rows(int64_t n, int64_t d, uint64_t seed) {
  const CounterRng rng(seed, RngPurpose::kTest, 0);
  MatF m(n, d);
  for (int64_t k = 0; k < m.size(); ++k) m.data()[k] = static_cast<float>(rng.normal(static_cast<uint64_t>(k)));
  m.rowwise().normalize();
  return m;
}

TEST(PopulationCosine, IsTheMeanOverAllPairsOfTheLatestRowsOfTheInstancesSeen) {
  PopulationCosine population(6, 4);
  EXPECT_TRUE(std::isnan(population.mean_pair_cosine()));  // nothing seen
  const MatF first = unit_rows(3, 4, 1), second = unit_rows(3, 4, 2);
  const std::vector<VertexId> a = {0, 2, 5}, b = {2, 3, 0};
  population.update(a, first);
  population.update(b, second);  // instances 0 and 2 replaced, 3 added; 1 and 4 never seen
  std::vector<Eigen::VectorXd> latest = {second.row(2).transpose().cast<double>(), second.row(0).transpose().cast<double>(),
                                         second.row(1).transpose().cast<double>(), first.row(2).transpose().cast<double>()};
  double sum = 0;
  int pairs = 0;
  for (size_t i = 0; i < latest.size(); ++i)
    for (size_t j = i + 1; j < latest.size(); ++j, ++pairs) sum += latest[i].dot(latest[j]);
  EXPECT_NEAR(population.mean_pair_cosine(), sum / pairs, 1e-12);
  // Identical rows: every pair has cosine 1.
  PopulationCosine same(3, 4);
  MatF ones = MatF::Constant(3, 4, 0.5f);
  same.update(std::vector<VertexId>{0, 1, 2}, ones);
  EXPECT_NEAR(same.mean_pair_cosine(), 1.0, 1e-12);
}

TEST(PopulationCosine, SaveAndRestoreKeepTheStateAndRefuseAnotherShape) {
  PopulationCosine population(5, 3), copy(5, 3), other(4, 3);
  population.update(std::vector<VertexId>{1, 3, 4}, unit_rows(3, 3, 7));
  copy.restore(population.save(), "checkpoint.h5");
  EXPECT_EQ(copy.mean_pair_cosine(), population.mean_pair_cosine());
  EXPECT_EQ(copy.save(), population.save());
  EXPECT_THROW(other.restore(population.save(), "checkpoint.h5"), InputError);
}

}  // namespace
}  // namespace relfm::sampler
