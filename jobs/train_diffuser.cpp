// The Diffuser job: a sequence classifier with Diffuser attention (src/models/diffuser_encoder.hpp) on a
// sequence shard (`relfm sequences`: ListOps or byte-level text), data-parallel over MPI ranks, reporting
// the test accuracy at the best validation epoch. attention.kind = "dense" trains the same model with
// softmax attention (the baseline); attention.hops = 1 with attention.alpha = 0 is plain sparse attention
// (the ablation without diffusion).
//
// Data parallelism: every rank holds the shard. Each epoch visits the training sequences in a global
// order keyed by (seed, epoch), train.batch_size at a time; a step's sequences are dealt to the ranks by
// tokens (longest first, each to the rank with the fewest tokens so far), so ranks get equal work. The
// loss is the mean cross-entropy over the global batch and gradients are summed over ranks: the update
// equals the single-process one of the same batch (dropout masks aside, which are drawn per rank).
// A pooling = "cls" model sees every sequence with a CLS token (id = the shard's vocabulary size) first.
//
// Sequence parallelism (parallel.sequence = S > 1): the ranks form groups of S consecutive ranks; each
// group takes one data-parallel share of the batch as above and splits its tokens over its S ranks
// (src/models/sequence_parallel.hpp), contiguously or by METIS on the batch's attention graph. The
// world size is S times the data-parallel width (2-D groups); the loss is counted on each group's first
// rank, and the gradients summed over the world are those of the unsplit run.
#include "dist/data_parallel.hpp"
#include "dist/partition.hpp"
#include "dist/runtime.hpp"
#include "io/checkpoint.hpp"
#include "io/predictions.hpp"
#include "io/sequences.hpp"
#include "jobs/job_kinds.hpp"
#include "src/models/diffuser_encoder.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace relfm::jobs {

std::vector<KeySpec> diffuser_keys() {
  std::vector<KeySpec> keys = {
      {"data.shard", ValueKind::kString, "", "Sequence shard (HDF5) written by `relfm sequences`.", {}, {}, {}, Resume::kBlocks},
      {"model.dim", ValueKind::kInt, "64", "Width of the token states.", {}, 1, {}, Resume::kBlocks},
      {"model.heads", ValueKind::kInt, "2", "Attention heads (divides model.dim).", {}, 1, {}, Resume::kBlocks},
      {"model.ffn", ValueKind::kInt, "128", "Width of the feed-forward layer.", {}, 1, {}, Resume::kBlocks},
      {"model.layers", ValueKind::kInt, "2", "Encoder layers.", {}, 1, {}, Resume::kBlocks},
      {"model.dropout", ValueKind::kReal, "0.1", "Dropout after the embeddings, the attention output and the feed-forward.", {},
       0.0, 0.99, Resume::kBlocks},
      {"model.pre_layer_norm", ValueKind::kBool, "false", "Pre-LN layers (false: post-LN, as the official code).", {}, {}, {},
       Resume::kBlocks},
      {"model.pooling", ValueKind::kString, "\"cls\"", "Sequence representation: a CLS token prepended to every sequence, or the mean.",
       {"cls", "mean"}, {}, {}, Resume::kBlocks},
      {"attention.kind", ValueKind::kString, "\"diffuser\"", "Sparse attention with diffusion, or dense softmax attention (baseline).",
       {"diffuser", "dense"}, {}, {}, Resume::kBlocks},
      {"attention.hops", ValueKind::kInt, "5", "Diffusion hops K (official 5; 1 with alpha 0 is plain sparse attention).", {}, 1, {},
       Resume::kBlocks},
      {"attention.alpha", ValueKind::kReal, "0.1", "Teleport (restart) weight of the diffusion (official 0.1).", {}, 0.0, 1.0,
       Resume::kBlocks},
      {"attention.attention_dropout", ValueKind::kReal, "0.1", "Dropout on the attention weights (official 0.1).", {}, 0.0, 0.99,
       Resume::kBlocks},
      {"attention.hop_dropout", ValueKind::kReal, "0.1", "Dropout after every hop (official 0.1).", {}, 0.0, 0.99, Resume::kBlocks},
      {"attention.block", ValueKind::kInt, "64", "Local band: blocks of this many tokens (official 64).", {}, 1, {}, Resume::kBlocks},
      {"attention.stride", ValueKind::kInt, "32", "Local band: a block starts every this many tokens (official 32).", {}, 1, {},
       Resume::kBlocks},
      {"attention.num_global", ValueKind::kInt, "64", "Global tokens (template mode: in a template_length template, then cropped).",
       {}, 0, {}, Resume::kBlocks},
      {"attention.num_random", ValueKind::kInt, "64", "Random keys per query (template mode: per template column, then cropped).",
       {}, 0, {}, Resume::kBlocks},
      {"attention.random_mode", ValueKind::kString, "\"template\"",
       "template: the official cropped 4096 template (random keys and globals grow with L); fixed: counts per sequence.",
       {"template", "fixed"}, {}, {}, Resume::kBlocks},
      {"attention.random_layout", ValueKind::kString, "\"per_query\"",
       "per_query: each query draws its random keys (official); per_stride: the queries of a band stride share one draw, "
       "which then runs as a dense tile (BigBird's random blocks; faster, not the official pattern).",
       {"per_query", "per_stride"}, {}, {}, Resume::kBlocks},
      {"attention.template_length", ValueKind::kInt, "4096", "Template mode: the template's length (longest sequence served).", {},
       1, {}, Resume::kBlocks},
      {"attention.first_token_global", ValueKind::kBool, "false", "Make token 0 (the CLS token) global too (the official code does not).",
       {}, {}, {}, Resume::kBlocks},
      {"attention.seed", ValueKind::kInt, "0", "Seed of the random edges and global tokens (official 0).", {}, 0, {}, Resume::kBlocks},
      {"attention.graph_cache_mb", ValueKind::kInt, "1024",
       "Memory for attention graphs kept between steps, one per sequence length (ListOps has ~1,500 lengths of ~5 MB each).",
       {}, 0, {}},
      {"train.batch_size", ValueKind::kInt, "32", "Global batch size (sequences per step, summed over ranks).", {}, 1, {},
       Resume::kBlocks},
      {"train.warmup_steps", ValueKind::kInt, "0", "Linear learning-rate warm-up over this many steps of each run.", {}, 0, {},
       Resume::kBlocks},
      {"eval.batch_size", ValueKind::kInt, "32", "Sequences per forward pass when evaluating.", {}, 1},
      {"parallel.sequence", ValueKind::kInt, "1",
       "Ranks that split each batch's tokens (sequence parallelism); the number of ranks must be a multiple of it, the rest is "
       "data parallelism.", {}, 1, {}, Resume::kBlocks},
      {"parallel.sequence_split", ValueKind::kString, "\"contiguous\"",
       "How a batch's tokens are split: contiguous ranges of equal size, or METIS on the attention graph (balanced by edges, "
       "smallest cut; costs a partition per step).", {"contiguous", "metis"}, {}, {}, Resume::kBlocks},
  };
  for (auto& k : optimizer_keys("train", "the model")) keys.push_back(k);
  return keys;
}

namespace {

DiffuserEncoderConfig encoder_config(const JobConfig& c, const SequenceShard& shard) {
  DiffuserEncoderConfig e;
  e.pooling = c.get_string("model.pooling");
  e.vocab = shard.vocab_size + (e.pooling == "cls" ? 1 : 0);
  int64_t longest = 0;
  for (const SequenceSet* s : {&shard.train, &shard.valid, &shard.test}) longest = std::max(longest, s->max_length());
  e.max_length = longest + (e.pooling == "cls" ? 1 : 0);
  e.dim = c.get_int("model.dim");
  e.heads = c.get_int("model.heads");
  e.ffn = c.get_int("model.ffn");
  e.layers = c.get_int("model.layers");
  e.classes = shard.num_classes;
  e.dropout = c.get_real("model.dropout");
  e.pre_layer_norm = c.get_bool("model.pre_layer_norm");
  e.attention = c.get_string("attention.kind");
  e.diffusion.hops = c.get_int("attention.hops");
  e.diffusion.alpha = c.get_real("attention.alpha");
  e.diffusion.attention_dropout = c.get_real("attention.attention_dropout");
  e.diffusion.hop_dropout = c.get_real("attention.hop_dropout");
  validate_encoder_config(e);
  return e;
}

AttentionGraphConfig graph_config(const JobConfig& c) {
  AttentionGraphConfig g;
  g.block = c.get_int("attention.block");
  g.stride = c.get_int("attention.stride");
  g.num_global = c.get_int("attention.num_global");
  g.num_random = c.get_int("attention.num_random");
  g.random_mode = c.get_string("attention.random_mode");
  g.random_layout = c.get_string("attention.random_layout");
  g.template_length = c.get_int("attention.template_length");
  g.first_token_global = c.get_bool("attention.first_token_global");
  g.seed = static_cast<uint64_t>(c.get_int("attention.seed"));
  validate_attention_graph_config(g);
  return g;
}

// The indices of `ids` this rank takes: longest first, each to the rank with the fewest tokens so far.
std::vector<int64_t> deal_by_tokens(const SequenceSet& set, std::vector<int64_t> ids, int ranks, int rank) {
  std::stable_sort(ids.begin(), ids.end(), [&](int64_t a, int64_t b) { return set.sequence(a).size() > set.sequence(b).size(); });
  std::vector<int64_t> load(static_cast<size_t>(ranks), 0), mine;
  for (int64_t i : ids) {
    const auto r = static_cast<int>(std::min_element(load.begin(), load.end()) - load.begin());
    load[static_cast<size_t>(r)] += static_cast<int64_t>(set.sequence(i).size());
    if (r == rank) mine.push_back(i);
  }
  return mine;
}

class DiffuserJob final : public EpochJob {
 public:
  void setup(const dist::Comm& comm, const JobConfig& config) override {
    comm_ = &comm;
    config_ = &config;
    const std::string& path = config.get_string("data.shard");
    shard_ = read_sequence_shard(path, comm);
    comm.collective([&] {
      if (shard_.valid.size() == 0 || shard_.test.size() == 0) fail_input("'{}': the validation or test split is empty", path);
      encoder_ = encoder_config(config, shard_);
      graphs_ = std::make_unique<AttentionGraphCache>(graph_config(config), config.get_int("attention.graph_cache_mb") << 20);
      if (encoder_.attention == "diffuser" && graphs_->config().random_mode == "template" &&
          encoder_.max_length > graphs_->config().template_length)
        fail_input("'{}' has sequences of {} tokens (with CLS), longer than attention.template_length = {}", path,
                   encoder_.max_length, graphs_->config().template_length);
    });
    sequence_ranks_ = config.get_int("parallel.sequence");
    split_mode_ = config.get_string("parallel.sequence_split");
    comm.collective([&] {
      if (comm.size() % sequence_ranks_ != 0)
        fail_input("parallel.sequence = {} does not divide the {} ranks", sequence_ranks_, comm.size());
      if (sequence_ranks_ > 1 && encoder_.attention != "diffuser")
        fail_input("parallel.sequence = {} needs attention.kind = \"diffuser\"", sequence_ranks_);
    });
    // 2-D groups: consecutive ranks share a batch (sequence parallel), every S-th rank a position in it.
    data_rank_ = comm.rank() / static_cast<int>(sequence_ranks_);
    data_ranks_ = comm.size() / static_cast<int>(sequence_ranks_);
    sequence_group_ = comm.split(data_rank_, comm.rank());
    batch_size_ = config.get_int("train.batch_size");
    eval_batch_ = config.get_int("eval.batch_size");
    warmup_ = config.get_int("train.warmup_steps");
  }

  JobDescription describe() const override {
    JobDescription d;
    d.item_unit = "sequences";
    d.items_per_epoch = shard_.train.size();
    d.step_counts = 1;  // sequences of the global batch
    d.headline = fmt::format("{} ({} classes, {} / {} / {} sequences, up to {} tokens), {} attention", shard_.dataset,
                             shard_.num_classes, shard_.train.size(), shard_.valid.size(), shard_.test.size(),
                             encoder_.max_length, encoder_.attention) +
                 (sequence_ranks_ > 1 ? fmt::format(", each batch split over {} ranks ({})", sequence_ranks_, split_mode_) : "");
    d.rule = {"valid_accuracy", "test_accuracy", true};
    d.summary_label = "test accuracy at the best validation epoch";
    d.summary_scale = 100.0;
    d.attrs = {{"dataset", shard_.dataset}, {"metric", "accuracy"}, {"attention", encoder_.attention}};
    return d;
  }

  void build(uint64_t seed) override {
    reducer_.reset();
    optimizer_.reset();
    model_.reset();
    store_ = std::make_unique<ParamStore<float>>();
    model_ = std::make_unique<DiffuserEncoder<float>>(*store_, encoder_, seed);
    optimizer_ = make_optimizer(*store_, optimizer_config(*config_));
    base_lr_ = optimizer_->learning_rate();
    dropout_base_ = CounterRng(seed, RngPurpose::kDropout);
  }

  void start_seed(bool) override {
    dist::broadcast_parameters(*comm_, *store_, 0, true);
    reducer_ = std::make_unique<dist::GradientAllReducer>(*comm_, store_->trainable());
  }

  int64_t plan_epoch(uint64_t seed, int64_t epoch) override {
    const int64_t n = shard_.train.size();
    order_ = random_permutation(CounterRng(seed, RngPurpose::kShuffle, static_cast<uint64_t>(epoch)), n);
    steps_per_epoch_ = (n + batch_size_ - 1) / batch_size_;
    return steps_per_epoch_;
  }

  StepPlan prepare_step(const StepContext& ctx) override {
    const int64_t n = shard_.train.size(), begin = ctx.step * batch_size_, end = std::min(n, begin + batch_size_);
    std::vector<int64_t> ids(order_.begin() + begin, order_.begin() + end);
    mine_ = deal_by_tokens(shard_.train, ids, data_ranks_, data_rank_);
    // A group's sequences are counted once, by its first rank.
    const auto counted = sequence_group_->is_root() ? static_cast<int64_t>(mine_.size()) : 0;
    return StepPlan{{counted}, counted};
  }

  StepOutcome run_step(const StepContext& ctx, const std::vector<int64_t>& global_counts) override {
    const int64_t global = global_counts[0];
    store_->zero_grad();
    if (global == 0) return {};
    double loss_value = 0.0;
    if (!mine_.empty()) {
      std::vector<int32_t> labels;
      const SequenceBatch batch = batch_of(shard_.train, mine_, &labels);
      Tape<float> tape;
      if (ctx.profile) tape.set_profile(ctx.profile);
      const CounterRng rng = dropout_base_.derive(static_cast<uint64_t>(ctx.run_step)).derive(static_cast<uint64_t>(data_rank_));
      const auto share = share_of(batch);
      const double counted = sequence_group_->is_root() ? 1.0 : 0.0;  // the group's logits are on all its ranks
      Var<float> loss = scale(cross_entropy(model_->forward(tape, batch, true, rng, nullptr, share.get()), labels),
                              float(counted * static_cast<double>(mine_.size()) / static_cast<double>(global)));
      loss_value = loss.value()(0, 0);
      tape.backward(loss);
    }
    reducer_->allreduce(1.0f);
    loss_value = comm_->sum(loss_value);
    const int64_t run_step = ctx.epoch * steps_per_epoch_ + ctx.step;
    optimizer_->set_learning_rate(warmup_ > 0 && run_step < warmup_ ? base_lr_ * static_cast<double>(run_step + 1) / static_cast<double>(warmup_)
                                                                    : base_lr_);
    if (std::isfinite(loss_value)) optimizer_->step();
    return {true, loss_value};
  }

  std::map<std::string, double> evaluate() override {
    std::map<std::string, double> out = {{"valid_accuracy", accuracy(shard_.valid)}, {"test_accuracy", accuracy(shard_.test)}};
    if (encoder_.attention == "diffuser") {
      const std::vector<double> beyond = attention_beyond_one_hop_by_layer();
      for (size_t l = 0; l < beyond.size(); ++l) out[fmt::format("beyond_one_hop_layer{}", l)] = beyond[l];
    }
    return out;
  }

  // `relfm eval`: the accuracy of the loaded model on one split, and, given a path, every sequence's logits
  // written as a relfm.predictions file (rows in sequence order).
  double score_split(const std::string& split, const std::string& predictions, const std::string& checkpoint) {
    const SequenceSet& set = split == "train" ? shard_.train : split == "valid" ? shard_.valid : shard_.test;
    Scored scored;
    const double value = accuracy(set, predictions.empty() ? nullptr : &scored);
    if (predictions.empty()) return value;
    const std::vector<int64_t> ids = comm_->allgatherv(scored.ids);
    const std::vector<float> logits = comm_->allgatherv(scored.logits);
    std::vector<int64_t> order(ids.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ids[a] < ids[b]; });
    const auto classes = static_cast<size_t>(shard_.num_classes);
    Predictions p{.dataset = shard_.dataset, .split = split, .metric = "accuracy", .checkpoint = checkpoint, .value = value};
    p.prediction_columns = shard_.num_classes;
    if (!comm_->is_root()) order.clear();  // the file's rows are written collectively: rank 0 holds them all
    for (size_t k : order) {
      p.ids.push_back(ids[k]);
      p.predictions.insert(p.predictions.end(), logits.begin() + k * classes, logits.begin() + (k + 1) * classes);
      p.labels.push_back(static_cast<float>(set.labels[static_cast<size_t>(ids[k])]));
    }
    write_predictions(predictions, *comm_, p);
    return value;
  }
  int64_t split_size(const std::string& split) const {
    return split == "train" ? shard_.train.size() : split == "valid" ? shard_.valid.size() : shard_.test.size();
  }
  const std::string& dataset() const { return shard_.dataset; }

  const ParamStore<float>* replicated_params() const override { return store_.get(); }
  void save(CheckpointWriter& writer) override { save_model_sections(writer, *store_, *optimizer_); }
  void load(CheckpointReader& reader) override { load_model_sections(reader, *store_, *optimizer_); }

 private:
  // The batch of set's sequences `ids` (a CLS token first when pooling it), and their labels.
  SequenceBatch batch_of(const SequenceSet& set, const std::vector<int64_t>& ids, std::vector<int32_t>* labels) {
    std::vector<std::vector<int32_t>> with_cls;
    std::vector<std::span<const int32_t>> spans;
    const bool cls = encoder_.pooling == "cls";
    with_cls.reserve(ids.size());
    for (int64_t i : ids) {
      const auto s = set.sequence(i);
      if (cls) {
        with_cls.emplace_back();
        with_cls.back().reserve(s.size() + 1);
        with_cls.back().push_back(static_cast<int32_t>(shard_.vocab_size));
        with_cls.back().insert(with_cls.back().end(), s.begin(), s.end());
        spans.emplace_back(with_cls.back());
      } else {
        spans.push_back(s);
      }
      labels->push_back(set.labels[static_cast<size_t>(i)]);
    }
    return make_sequence_batch(spans, encoder_.attention == "dense" ? nullptr : graphs_.get());
  }

  // Per layer, the share of the diffused attention that arrives from beyond one hop (outside the query's
  // keys): validation sequence 0, 16 queries spread over it, every head; the same on every rank.
  std::vector<double> attention_beyond_one_hop_by_layer() {
    std::vector<int32_t> labels;
    const SequenceBatch batch = batch_of(shard_.valid, {0}, &labels);
    Tape<float> tape;
    tape.set_grad_enabled(false);
    std::vector<MatF> weights;
    model_->forward(tape, batch, false, dropout_base_, &weights);
    const Csr& pattern = *batch.pattern.by_query;
    const int64_t n = pattern.num_rows, samples = std::min<int64_t>(16, n);
    std::vector<double> out;
    for (const MatF& a : weights) {
      double sum = 0.0;
      for (int64_t s = 0; s < samples; ++s)
        for (int64_t h = 0; h < a.cols(); ++h) sum += attention_beyond_one_hop(pattern, a, h, s * n / samples, encoder_.diffusion);
      out.push_back(sum / static_cast<double>(samples * a.cols()));
    }
    return out;
  }

  // This rank's share of a batch under sequence parallelism (null without it).
  std::shared_ptr<const SequenceShare> share_of(const SequenceBatch& batch) const {
    if (sequence_ranks_ == 1) return nullptr;
    const AttentionGraph graph = batch_attention_graph(batch);
    const int parts = static_cast<int>(sequence_ranks_);
    SequenceSplit split = SequenceSplit::contiguous(graph.length, parts);
    if (split_mode_ == "metis") {
      std::vector<int64_t> work(static_cast<size_t>(graph.length));
      for (int64_t t = 0; t < graph.length; ++t) work[static_cast<size_t>(t)] = 1 + graph.by_query->row_ptr[t + 1] - graph.by_query->row_ptr[t];
      split = SequenceSplit::from_parts(dist::partition_graph(*graph.by_query, work, parts), parts);
    }
    return share_sequence(graph, split, *sequence_group_);
  }

  // Accuracy over the whole set: each data-parallel group scores every D-th sequence (split over the
  // group's ranks), hits summed over ranks (counted by each group's first rank). With `scored`, the group's
  // first rank also keeps the ids and logits of the sequences it scored.
  struct Scored {
    std::vector<int64_t> ids;
    std::vector<float> logits;  // row-major [ids, classes]
  };
  double accuracy(const SequenceSet& set, Scored* scored = nullptr) {
    std::vector<int64_t> ids;
    for (int64_t i = data_rank_; i < set.size(); i += data_ranks_) ids.push_back(i);
    int64_t hits = 0;
    for (size_t b = 0; b < ids.size(); b += static_cast<size_t>(eval_batch_)) {
      const std::vector<int64_t> chunk(ids.begin() + static_cast<std::ptrdiff_t>(b),
                                       ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), b + static_cast<size_t>(eval_batch_))));
      std::vector<int32_t> labels;
      const SequenceBatch batch = batch_of(set, chunk, &labels);
      Tape<float> tape;
      tape.set_grad_enabled(false);
      const auto share = share_of(batch);
      const MatF logits = model_->forward(tape, batch, false, dropout_base_, nullptr, share.get()).value();
      if (!sequence_group_->is_root()) continue;
      hits += count_correct(logits, labels);
      if (scored) {
        scored->ids.insert(scored->ids.end(), chunk.begin(), chunk.end());
        scored->logits.insert(scored->logits.end(), logits.data(), logits.data() + logits.size());
      }
    }
    return static_cast<double>(comm_->sum(hits)) / static_cast<double>(set.size());
  }

  const dist::Comm* comm_ = nullptr;
  const JobConfig* config_ = nullptr;
  SequenceShard shard_;
  DiffuserEncoderConfig encoder_;
  std::unique_ptr<AttentionGraphCache> graphs_;
  int64_t batch_size_ = 0, eval_batch_ = 0, warmup_ = 0, steps_per_epoch_ = 0, sequence_ranks_ = 1;
  std::string split_mode_;
  int data_rank_ = 0, data_ranks_ = 1;
  std::unique_ptr<Communicator> sequence_group_;
  double base_lr_ = 0;
  std::unique_ptr<ParamStore<float>> store_;
  std::unique_ptr<DiffuserEncoder<float>> model_;
  std::unique_ptr<Optimizer<float>> optimizer_;
  std::unique_ptr<dist::GradientAllReducer> reducer_;
  CounterRng dropout_base_{0, RngPurpose::kDropout};
  std::vector<int64_t> order_, mine_;
};

// `relfm eval CHECKPOINT [--shard S] [--split test] [--predictions P.h5]`: the checkpoint's model (its last
// run's) scored on a split of its shard or another one, with the job's own data-parallel and sequence-
// parallel evaluation (parallel.sequence from the checkpoint's configuration where the rank count allows).
int run_diffuser_eval(const dist::Comm& comm, const JobConfig& config, const EvalOptions& options) {
  check_eval_split(comm, options);
  // A model trained with its sequences split over S ranks scores the same unsplit (float rounding aside):
  // on a rank count S does not divide, it is evaluated data-parallel only.
  const int64_t split = config.get_int("parallel.sequence");
  const JobConfig fitted = comm.collective([&] {
    if (comm.size() % split == 0) return config;
    logging::info("relfm eval: parallel.sequence = {} does not divide the {} ranks; evaluating without splitting sequences",
                  split, comm.size());
    return JobConfig::parse(config.to_toml(), config.source(), {"parallel.sequence=1"}, config.schema());
  });
  DiffuserJob job;
  load_job_for_eval(comm, fitted, job, options.checkpoint);
  const double value = job.score_split(options.split, options.predictions, options.checkpoint);
  if (comm.is_root()) {
    std::printf("%s %s accuracy = %.4f (%lld sequences)\n", job.dataset().c_str(), options.split.c_str(), value,
                static_cast<long long>(job.split_size(options.split)));
    std::fflush(stdout);
  }
  return dist::kExitOk;
}

}  // namespace

RELFM_REGISTER_JOB_KIND(JobKind{
    .name = "diffuser",
    .doc = "Sequence classification with Diffuser attention (or dense attention) on a sequence shard: ListOps or text.",
    .keys = diffuser_keys,
    .make_epoch_job = [] { return std::make_unique<DiffuserJob>(); },
    .eval = run_diffuser_eval});

}  // namespace relfm::jobs
