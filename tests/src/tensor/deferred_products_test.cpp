// Tape::defer_products: the weight-gradient products of chosen parameters are left for later and then
// give exactly the gradients an ordinary backward gives; every other gradient is there at once.
#include "src/tensor/ops.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <unordered_set>

namespace relfm {
namespace {

struct TwoLayers {
  Parameter<float> w1, b1, w2;
  MatF x;
  TwoLayers() {
    w1.value = MatF::NullaryExpr(4, 6, [](Eigen::Index i, Eigen::Index j) { return std::sin(1.0f + i * 6 + j); });
    b1.value = MatF::Constant(1, 6, 0.1f);
    w2.value = MatF::NullaryExpr(6, 3, [](Eigen::Index i, Eigen::Index j) { return std::cos(2.0f + i * 3 + j); });
    x = MatF::NullaryExpr(5, 4, [](Eigen::Index i, Eigen::Index j) { return std::sin(0.3f * i - 0.7f * j); });
    for (Parameter<float>* p : {&w1, &b1, &w2}) p->zero_grad();
  }
  // x -> relu(x w1 + b1) w2 -> sum of squares
  Var<float> loss(Tape<float>& tape) {
    Var<float> h = relu(linear(tape.input(x, true), tape.param(w1), tape.param(b1)));
    Var<float> y = matmul(h, tape.param(w2));
    return sum(mul(y, y));
  }
};

bool same_bits(const MatF& a, const MatF& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         std::memcmp(a.data(), b.data(), sizeof(float) * static_cast<size_t>(a.size())) == 0;
}

TEST(DeferredProducts, RunLaterTheyGiveTheGradientsOfAnOrdinaryBackwardBitForBit) {
  TwoLayers plain, later;
  Tape<float> t1;
  t1.backward(plain.loss(t1));

  const std::unordered_set<const Parameter<float>*> deferred = {&later.w1, &later.w2};
  Tape<float> t2;
  t2.defer_products(&deferred);
  Var<float> input_loss = later.loss(t2);
  t2.backward(input_loss);
  // The bias (not deferred) is there; the two weights wait.
  EXPECT_TRUE(later.b1.has_grad);
  EXPECT_TRUE(same_bits(later.b1.grad, plain.b1.grad));
  EXPECT_FALSE(later.w1.has_grad);
  EXPECT_FALSE(later.w2.has_grad);
  EXPECT_EQ(t2.deferred_product_count(), 2u);

  t2.run_deferred_products();
  EXPECT_EQ(t2.deferred_product_count(), 0u);
  ASSERT_TRUE(later.w1.has_grad && later.w2.has_grad);
  EXPECT_TRUE(same_bits(later.w1.grad, plain.w1.grad));
  EXPECT_TRUE(same_bits(later.w2.grad, plain.w2.grad));
  // Running them again adds nothing: they ran once.
  t2.run_deferred_products();
  EXPECT_TRUE(same_bits(later.w1.grad, plain.w1.grad));
}

}  // namespace
}  // namespace relfm
