// Sequence parallelism (issue 9, item 4): a batch's tokens split over 1, 2 or 4 ranks give the logits,
// the loss and every parameter's gradient of the unsplit model, which every rank also computes on its
// own: training mode with every dropout on (the masks are keyed by batch token and edge, so they are the
// unsplit ones), post-LN and pre-LN, CLS and mean pooling, contiguous and scattered splits, and the
// per-stride random keys (whose tiles the split restricts like the band's).
#include "dist/comm.hpp"
#include "src/models/diffuser_encoder.hpp"
#include "tests/src/models/diffuser_test_models.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace relfm {
namespace {

struct Case {
  bool pre_layer_norm;
  std::string pooling;
  bool scattered;
  std::string random_layout = "per_query";  // attention.random_layout ("per_stride": random keys in the tiles)
};

class SequenceParallel : public ::testing::TestWithParam<Case> {};

DiffuserEncoderConfig encoder_config(const Case& c) {
  DiffuserEncoderConfig e = testing::small_encoder_config();
  e.max_length = 64;
  e.classes = 3;
  e.dropout = 0.2;
  e.pre_layer_norm = c.pre_layer_norm;
  e.pooling = c.pooling;
  e.diffusion = DiffusionConfig{3, 0.1, 0.1, 0.1};
  return e;
}

AttentionGraphConfig graph_config(const std::string& random_layout = "per_query") {
  AttentionGraphConfig g = testing::small_graph_config();
  g.random_layout = random_layout;
  g.num_global = 2;
  g.first_token_global = true;
  g.seed = 5;
  return g;
}

struct Result {
  MatD logits;
  double loss = 0;
  std::vector<MatD> grads;
};

Result run(const DiffuserEncoder<double>& model, ParamStore<double>& store, const SequenceBatch& batch,
           const std::vector<int32_t>& labels, const SequenceShare* share, const dist::Comm& comm) {
  store.zero_grad();
  Tape<double> tape;
  const CounterRng rng(3, RngPurpose::kDropout, 9);
  Var<double> logits = model.forward(tape, batch, true, rng, nullptr, share);
  Var<double> loss = cross_entropy(logits, labels);
  // The logits are on every rank of a split group: count the loss once.
  if (share) loss = scale(loss, comm.rank() == 0 ? 1.0 : 0.0);
  tape.backward(loss);
  Result r{logits.value(), loss.value()(0, 0), {}};
  for (Parameter<double>* p : store.trainable()) {
    MatD g = p->has_grad ? p->grad : MatD::Zero(p->value.rows(), p->value.cols());
    if (share) comm.allreduce_sum(g.data(), static_cast<size_t>(g.size()));
    r.grads.push_back(std::move(g));
  }
  if (share) r.loss = comm.sum(r.loss);
  return r;
}

TEST_P(SequenceParallel, SplitForwardAndBackwardEqualTheUnsplitModel) {
  dist::Comm comm;
  const Case c = GetParam();
  ParamStore<double> store;
  const DiffuserEncoder<double> model(store, encoder_config(c), 17);
  AttentionGraphCache graphs(graph_config(c.random_layout));
  std::vector<std::vector<int32_t>> sequences;
  for (int64_t length : {37, 23, 50}) {
    std::vector<int32_t> s;
    for (int64_t i = 0; i < length; ++i) s.push_back(static_cast<int32_t>((i * 7 + length) % 17));
    sequences.push_back(std::move(s));
  }
  const SequenceBatch batch = testing::batch_of(sequences, &graphs);
  const std::vector<int32_t> labels = {2, 0, 1};

  const Result whole = run(model, store, batch, labels, nullptr, comm);
  const int64_t n = batch.offsets->back();
  SequenceSplit split = SequenceSplit::contiguous(n, comm.size());
  if (c.scattered)
    for (int64_t t = 0; t < n; ++t) split.owner[static_cast<size_t>(t)] = static_cast<int32_t>((t * 7 / 3) % comm.size());
  const auto share = share_sequence(batch_attention_graph(batch), split, comm);
  const Result parts = run(model, store, batch, labels, share.get(), comm);

  EXPECT_LT((parts.logits - whole.logits).cwiseAbs().maxCoeff(), 1e-12);
  EXPECT_NEAR(parts.loss, whole.loss, 1e-12);
  ASSERT_EQ(parts.grads.size(), whole.grads.size());
  const auto params = store.trainable();
  for (size_t k = 0; k < whole.grads.size(); ++k) {
    const double scale = std::max(1.0, whole.grads[k].cwiseAbs().maxCoeff());
    EXPECT_LT((parts.grads[k] - whole.grads[k]).cwiseAbs().maxCoeff(), 1e-11 * scale) << params[k]->name;
    EXPECT_GT(whole.grads[k].cwiseAbs().maxCoeff(), 0.0) << params[k]->name << " gets no gradient";
  }
}

INSTANTIATE_TEST_SUITE_P(Layouts, SequenceParallel,
                         ::testing::Values(Case{false, "cls", false}, Case{false, "cls", true}, Case{true, "mean", false},
                                           Case{true, "mean", true}, Case{false, "cls", true, "per_stride"}),
                         [](const auto& info) {
                           return fmt::format("{}_{}_{}{}", info.param.pre_layer_norm ? "preLN" : "postLN", info.param.pooling,
                                              info.param.scattered ? "scattered" : "contiguous",
                                              info.param.random_layout == "per_query" ? "" : "_" + info.param.random_layout);
                         });

TEST(SequenceParallelErrors, ASplitThatDoesNotMatchTheGroupIsAnInputError) {
  dist::Comm comm;
  AttentionGraphConfig g = graph_config();
  const AttentionGraph graph = build_attention_graph(20, g);
  EXPECT_THROW(share_sequence(graph, SequenceSplit::contiguous(20, comm.size() + 1), comm), InputError);
}

}  // namespace
}  // namespace relfm
