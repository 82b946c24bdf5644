// SharedGin (MolGroup's evaluation model): one encoder for every data set, a decoder per data set, and
// batch-norm running statistics moved by target batches only (the official app/train.py rule).
#include "src/models/shared_gin.hpp"
#include "src/tensor/ops.hpp"
#include "tests/src/models/gin_test_batch.hpp"

#include <gtest/gtest.h>

namespace relfm {
namespace {

TEST(SharedGin, OnlyTargetBatchesMoveTheRunningStatistics) {
  ParamStore<float> store;
  const SharedGin<float> model(store, test::tiny_gin_config(), {2, 3}, 7);
  const GraphBatch batch = test::four_molecule_batch({"CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "CCN(CC)CC"});
  const Parameter<float>& mean = store.get("gin.layers.0.norm.running_mean");
  const MatF before = mean.value;
  ForwardOptions fo;
  fo.training = true;
  Tape<float> aux_tape;
  const Var<float> aux = model.forward(aux_tape, 1, batch, fo);
  EXPECT_EQ(aux.value().cols(), 3);
  EXPECT_EQ(mean.value, before) << "an auxiliary batch moved the statistics";
  Tape<float> target_tape;
  EXPECT_EQ(model.forward(target_tape, 0, batch, fo).value().cols(), 2);
  EXPECT_NE(mean.value, before) << "a target batch did not move them";
}

TEST(SharedGin, EveryDataSetTrainsTheSharedEncoderAndOnlyItsOwnDecoder) {
  ParamStore<float> store;
  const SharedGin<float> model(store, test::tiny_gin_config(), {2, 2, 1}, 7);
  const GraphBatch batch = test::four_molecule_batch({"CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "CCN(CC)CC"});
  ForwardOptions fo;
  fo.training = true;
  store.zero_grad();
  Tape<float> tape;
  tape.backward(sum(model.forward(tape, 1, batch, fo)));
  EXPECT_TRUE(store.get("gin.layers.1.mlp.1.linear.weight").has_grad);
  EXPECT_TRUE(store.get("heads.1.weight").has_grad);
  EXPECT_FALSE(store.get("heads.2.weight").has_grad);
  EXPECT_FALSE(store.get("gin.head.weight").has_grad);  // the target's decoder
  // The target's model is the encoder with its own head.
  Tape<float> a, b;
  EXPECT_EQ(model.forward(a, 0, batch, ForwardOptions{}).value(), model.encoder().forward(b, batch, ForwardOptions{}).value());
}

}  // namespace
}  // namespace relfm
