// The Diffuser sequence classifier (src/models/diffuser_encoder.hpp): exact gradients of every parameter
// through every hop (post-LN and pre-LN, CLS and mean pooling), equality with dense attention on complete
// graphs, sequences in a batch not seeing each other, and the bad inputs.
#include "src/models/diffuser_encoder.hpp"
#include "tests/src/models/diffuser_test_models.hpp"
#include "tests/src/models/parameter_gradients.hpp"

#include <gtest/gtest.h>

namespace relfm {
namespace {

using testing::batch_of;
using testing::small_graph_config;
DiffuserEncoderConfig small_config() { return testing::small_encoder_config(); }

const std::vector<int32_t> kSeqA = {16, 12, 3, 11, 5, 9, 15, 15, 2}, kSeqB = {16, 14, 1, 2, 15, 7}, kSeqC = {16, 4};
const std::vector<int32_t> kLabels = {3, 7, 1};

TEST(DiffuserEncoder, EveryParameterGradientMatchesCentralDifferences) {
  for (bool pre_ln : {false, true})
    for (const char* pooling : {"cls", "mean"}) {
      DiffuserEncoderConfig c = small_config();
      c.pre_layer_norm = pre_ln;
      c.pooling = pooling;
      ParamStore<double> store;
      DiffuserEncoder<double> model(store, c, 3);
      AttentionGraphCache cache(small_graph_config());
      const SequenceBatch b = batch_of({kSeqA, kSeqB, kSeqC}, &cache);
      const CounterRng rng(1, RngPurpose::kDropout);
      auto loss = [&](Tape<double>& tape) {
        return cross_entropy(model.forward(tape, b, true, rng), kLabels).value()(0, 0);
      };
      store.zero_grad();
      Tape<double> tape;
      tape.backward(cross_entropy(model.forward(tape, b, true, rng), kLabels));
      SCOPED_TRACE(fmt::format("pre_ln {} pooling {}", pre_ln, pooling));
      EXPECT_GT(test::check_parameter_gradients(store, loss, 3), 60);
    }
}

TEST(DiffuserEncoder, OnCompleteGraphsWithOneHopItIsTheDenseTransformer) {
  DiffuserEncoderConfig c = small_config();
  c.diffusion.hops = 1;
  c.diffusion.alpha = 0.0;
  AttentionGraphConfig complete;  // one block covering every sequence, no globals, no random keys
  complete.block = complete.stride = 16;
  complete.num_global = complete.num_random = 0;
  complete.random_mode = "fixed";
  AttentionGraphCache cache(complete);
  const SequenceBatch sparse = batch_of({kSeqA, kSeqB, kSeqC}, &cache);
  const SequenceBatch dense_batch = batch_of({kSeqA, kSeqB, kSeqC}, nullptr);
  ParamStore<double> s1, s2;
  DiffuserEncoder<double> diffuser(s1, c, 5);
  c.attention = "dense";
  DiffuserEncoder<double> dense(s2, c, 5);
  Tape<double> tape;
  const CounterRng rng(0, RngPurpose::kDropout);
  const MatD a = diffuser.forward(tape, sparse, false, rng).value(), b = dense.forward(tape, dense_batch, false, rng).value();
  EXPECT_LT((a - b).cwiseAbs().maxCoeff(), 1e-12);
}

TEST(DiffuserEncoder, SequencesOfABatchDoNotSeeEachOther) {
  for (const char* attention : {"diffuser", "dense"}) {
    DiffuserEncoderConfig c = small_config();
    c.attention = attention;
    ParamStore<double> store;
    DiffuserEncoder<double> model(store, c, 7);
    AttentionGraphCache cache(small_graph_config());
    AttentionGraphCache* graphs = c.attention == "dense" ? nullptr : &cache;
    Tape<double> tape;
    const CounterRng rng(0, RngPurpose::kDropout);
    const MatD together = model.forward(tape, batch_of({kSeqA, kSeqB}, graphs), false, rng).value();
    const MatD a = model.forward(tape, batch_of({kSeqA}, graphs), false, rng).value();
    const MatD b = model.forward(tape, batch_of({kSeqB}, graphs), false, rng).value();
    EXPECT_LT((together.row(0) - a.row(0)).cwiseAbs().maxCoeff(), 1e-12) << attention;
    EXPECT_LT((together.row(1) - b.row(0)).cwiseAbs().maxCoeff(), 1e-12) << attention;
    if (graphs) {  // the batch's tiles are its sequences' tiles, shifted onto the block-diagonal pattern
      const SequenceBatch both = batch_of({kSeqA, kSeqB, kSeqC}, graphs);
      EXPECT_NO_THROW(both.pattern.tiles->check(*both.pattern.by_query));
    }
  }
}

TEST(DiffuserEncoder, TheGraphCacheKeepsToItsBudgetAndServesTheRightGraphs) {
  const AttentionGraphConfig config = small_graph_config();
  const int64_t one = AttentionGraphCache::footprint(build_attention_graph(40, config));
  AttentionGraphCache cache(config, 3 * one);  // room for about three graphs of ~40 tokens
  for (int round = 0; round < 2; ++round)
    for (int64_t length = 30; length < 50; ++length) {
      const AttentionGraph& g = cache.get(length);
      const AttentionGraph fresh = build_attention_graph(length, config);
      ASSERT_EQ(g.length, length);
      EXPECT_EQ(g.by_query->col, fresh.by_query->col);
      EXPECT_EQ(g.global_tokens, fresh.global_tokens);
      EXPECT_LE(cache.bytes(), 3 * one + one);
      EXPECT_LE(cache.size(), 4);
    }
  AttentionGraphCache roomy(config);
  for (int64_t length = 30; length < 50; ++length) roomy.get(length);
  EXPECT_EQ(roomy.size(), 20);
}

TEST(DiffuserEncoder, BadInputsAreNamed) {
  DiffuserEncoderConfig c = small_config();
  ParamStore<double> store;
  DiffuserEncoder<double> model(store, c, 1);
  AttentionGraphCache cache(small_graph_config());
  Tape<double> tape;
  const CounterRng rng(0, RngPurpose::kDropout);
  auto message = [&](const std::vector<int32_t>& seq) {
    try {
      model.forward(tape, batch_of({seq}, &cache), false, rng);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message({16, 3, 40}).find("outside the vocabulary"), std::string::npos);
  EXPECT_NE(message(std::vector<int32_t>(20, 3)).find("model.max_length"), std::string::npos);
  EXPECT_THROW(batch_of({kSeqA, {}}, &cache), InputError);
  c.heads = 3;
  ParamStore<double> other;
  EXPECT_THROW(DiffuserEncoder<double>(other, c, 1), InputError);
  EXPECT_THROW(cross_entropy(model.forward(tape, batch_of({kSeqA}, &cache), false, rng), {10}), InputError);
}

}  // namespace
}  // namespace relfm
