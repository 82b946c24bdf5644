// Layers: PyTorch-compatible initialisation and BatchNorm running-statistics semantics, stable names,
// and loud errors for categories outside an embedding table.
#include "src/nn/layers.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace relfm {
namespace {

TEST(Linear, InitialisedWithinTorchBoundsAndKeyedByName) {
  ParamStore<float> a, b;
  Linear<float> la(a, "enc.proj", 300, 600, 7);
  Linear<float> other(b, "zzz", 4, 4, 7);  // registered first in b: must not shift the next one
  Linear<float> lb(b, "enc.proj", 300, 600, 7);
  const float bound = 1.0f / std::sqrt(300.0f);
  EXPECT_LE(la.weight()->value.cwiseAbs().maxCoeff(), bound);
  EXPECT_GT(la.weight()->value.cwiseAbs().maxCoeff(), 0.99f * bound);
  EXPECT_EQ(la.weight()->value, lb.weight()->value);
  EXPECT_EQ(la.bias()->value, lb.bias()->value);
  EXPECT_NE(la.weight()->value(0, 0), la.weight()->value(0, 1));
  EXPECT_NE(a.find("enc.proj.weight"), nullptr);
  EXPECT_NE(a.find("enc.proj.bias"), nullptr);
  EXPECT_THROW(Linear<float>(a, "enc.proj", 2, 2, 1), Error);  // duplicate names are refused
}

TEST(BatchNorm, TrainingUpdatesRunningStatsLikePyTorchAndEvalUsesThem) {
  ParamStore<double> store;
  BatchNorm<double> bn(store, "bn", 2);
  MatD x(4, 2);
  x << 1, 10, 2, 20, 3, 30, 6, 40;
  Tape<double> tape;
  Var<double> y = bn(tape, tape.input(x), true);
  // Training output uses the biased batch variance.
  const double mean0 = 3.0, var0 = (4 + 1 + 0 + 9) / 4.0;
  EXPECT_NEAR(y.value()(0, 0), (1 - mean0) / std::sqrt(var0 + 1e-5), 1e-12);
  // Running stats: momentum 0.1, unbiased variance.
  const MatD& rm = store.get("bn.running_mean").value;
  const MatD& rv = store.get("bn.running_var").value;
  EXPECT_NEAR(rm(0, 0), 0.1 * mean0, 1e-12);
  EXPECT_NEAR(rv(0, 0), 0.9 + 0.1 * var0 * 4.0 / 3.0, 1e-12);
  EXPECT_NEAR(rm(0, 1), 0.1 * 25.0, 1e-12);
  Tape<double> eval;
  Var<double> z = bn(eval, eval.input(x), false);
  EXPECT_NEAR(z.value()(3, 0), (6 - rm(0, 0)) / std::sqrt(rv(0, 0) + 1e-5), 1e-12);
  EXPECT_NEAR(rm(0, 0), 0.1 * mean0, 1e-12);  // eval leaves the buffers alone
  EXPECT_FALSE(store.get("bn.running_mean").trainable);
  EXPECT_TRUE(store.get("bn.weight").trainable);
}

TEST(BatchNorm, FloatStatisticsSurviveALargeOffset) {
  // Activations with |mean| >> std: E[x^2] - E[x]^2 summed in float would cancel to garbage (relfm sums
  // in double for float data). The result must match a double-precision reference to float accuracy.
  ParamStore<float> store;
  BatchNorm<float> bn(store, "bn", 3);
  const int64_t n = 1000;
  MatF x(n, 3);
  MatD xd(n, 3);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < 3; ++j) {
      xd(i, j) = 1e4 * static_cast<double>(j + 1) + std::sin(0.37 * static_cast<double>(i * (j + 2)));
      x(i, j) = static_cast<float>(xd(i, j));
      xd(i, j) = static_cast<double>(x(i, j));  // the reference sees exactly the float inputs
    }
  Tape<float> tape;
  Var<float> y = bn(tape, tape.input(x), true);
  for (int64_t j = 0; j < 3; ++j) {
    const double mean = xd.col(j).mean();
    const double var = (xd.col(j).array() - mean).square().mean();
    for (int64_t i : {int64_t{0}, int64_t{511}, n - 1})
      EXPECT_NEAR(y.value()(i, j), (xd(i, j) - mean) / std::sqrt(var + 1e-5), 5e-3) << "row " << i << " col " << j;
  }
}

TEST(BatchNorm, FusedEpilogueEqualsTheUnfusedOpsExactly) {
  // The fused op draws its dropout uniforms several rows at a time; element (i, j) must still get the
  // number the standalone dropout op gives it, for widths that do and do not divide Philox's groups of 64.
  for (int64_t m : {300, 64, 7, 600}) {
    const int64_t n = 37;
    MatF x = MatF::Random(n, m);
    Parameter<float> rm1, rv1, rm2, rv2;
    rm1.value = rm2.value = MatF::Zero(1, m);
    rv1.value = rv2.value = MatF::Ones(1, m);
    MatF gamma = MatF::Random(1, m), beta = MatF::Random(1, m);
    const CounterRng rng(5, RngPurpose::kDropout, 9);
    Tape<float> tape;
    BatchNormState<float> fused_state{&rm1, &rv1, 0.1, 1e-5, true};
    BatchNormState<float> plain_state{&rm2, &rv2, 0.1, 1e-5, true};
    BatchNormEpilogue ep;
    ep.relu = true;
    ep.dropout = 0.5;
    ep.dropout_rng = rng;
    Var<float> fused = batch_norm_act(tape.input(x), tape.input(gamma), tape.input(beta), fused_state, true, ep);
    Var<float> plain =
        dropout(relu(batch_norm(tape.input(x), tape.input(gamma), tape.input(beta), plain_state, true)), 0.5, rng, true);
    EXPECT_EQ(fused.value(), plain.value()) << "width " << m;
    EXPECT_GT((fused.value().array() == 0.0f).count(), n * m / 3) << "width " << m;  // dropout did act
  }
}

TEST(EmbeddingSum, SumsOneRowPerFeatureAndRejectsOutOfRange) {
  ParamStore<double> store;
  EmbeddingSum<double> emb(store, "atom", {3, 2}, 4, 1);
  IndexMat cats(2, 2);
  cats << 2, 1, 0, 0;
  Tape<double> tape;
  Var<double> y = emb(tape, cats);
  const MatD& t = store.get("atom.weight").value;
  EXPECT_EQ(t.rows(), 5);
  EXPECT_LT((y.value().row(0) - (t.row(2) + t.row(3 + 1))).norm(), 1e-15);
  EXPECT_LT((y.value().row(1) - (t.row(0) + t.row(3))).norm(), 1e-15);
  // Xavier bound of a 3-row table of width 4.
  EXPECT_LE(t.topRows(3).cwiseAbs().maxCoeff(), std::sqrt(6.0 / (3 + 4)));
  cats(1, 1) = 2;
  EXPECT_THROW(emb(tape, cats), Error);
}

TEST(Mlp, NamesAndShape) {
  ParamStore<float> store;
  Mlp<float> mlp(store, "head", {8, 16, 3}, 0, true);
  EXPECT_NE(store.find("head.0.linear.weight"), nullptr);
  EXPECT_NE(store.find("head.0.norm.running_var"), nullptr);
  EXPECT_NE(store.find("head.1.linear.bias"), nullptr);
  EXPECT_EQ(store.find("head.1.norm.weight"), nullptr);  // no norm after the output layer
  Tape<float> tape;
  EXPECT_EQ(mlp(tape, tape.input(MatF::Random(5, 8)), true).cols(), 3);
}

}  // namespace
}  // namespace relfm
