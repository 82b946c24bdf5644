// The GraphCL job: unsupervised graph-level contrastive learning (GraphCL's unsupervised_TU, research/
// batchsampler.md §4) on a TU data set, with the mini-batches from a sampler picked by sampler.kind
// (src/sampler/batch_source.hpp: uniform, batchsampler, knn, communities), scored by GraphCL's SVM
// protocol on the frozen embeddings. Seeds, epochs, resume and results are the Trainer's.
//
// A step: the sampler gives the global batch (the same ids on every rank); each rank takes its contiguous
// slice, builds the original and one augmented view of each graph, and runs the GIN on both (two
// forward passes, as gsimclr.py does). The normalised projections of the augmented views are all-gathered,
// so every rank's anchors (its original views) see the whole batch's candidates; the loss is GraphCL's
// loss_cal, -log(pos / (sum - pos)) at tau, summed over ranks into the mean over the global batch. The
// parameter gradients are all-reduced; BatchNorm statistics are per rank (as DDP without SyncBN).
// The bank rows BatchSampler builds its graph from are the two views' normalised projections side by
// side, renormalised (the official code's "both views concatenated"), gathered so every rank holds them.
//
// results.h5, per seed, beside the trainer's series:
//   series      svm_accuracy, svm_std (over the folds; NaN at epochs not in eval.epochs), eval_epoch (the
//               select series: the epoch number where evaluated), sample_seconds, rebuild_seconds,
//               background_seconds, sampler_share (= (sample + rebuild) / train seconds), rebuilds,
//               walk_steps, mean_cosine, same_label_share, skipped_batches, population_cosine (the mean
//               cosine of all pairs of instances' latest rows at the epoch's end: a uniform batch's,
//               src/sampler/population_cosine.hpp)
//   tables      batch_stats [global_step, size, from_graph, mean_cosine, same_label_share, loss] per step;
//               batches [global_step, instance] per member (output.batches); visits [instance, count] per
//               epoch (times the instance was in a batch that epoch)
#include "dist/data_parallel.hpp"
#include "dist/partition.hpp"
#include "dist/runtime.hpp"
#include "io/checkpoint.hpp"
#include "io/predictions.hpp"
#include "io/tu_files.hpp"
#include "jobs/job_kinds.hpp"
#include "src/eval/svm_protocol.hpp"
#include "src/graph/graphcl_views.hpp"
#include "src/models/graphcl_gin.hpp"
#include "src/sampler/batch_source.hpp"
#include "src/sampler/population_cosine.hpp"
#include "src/tensor/ops.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace relfm::jobs {

std::vector<KeySpec> graphcl_keys();  // jobs/graphcl_keys.cpp

namespace {

// Values of a row-split matrix gathered on every rank (no gradient).
MatF gather_rows(const dist::Comm& comm, const MatF& local) {
  const std::vector<int64_t> rows = comm.allgather(local.rows());
  std::vector<int64_t> counts(rows.size());
  int64_t total = 0;
  for (size_t r = 0; r < rows.size(); ++r) {
    counts[r] = rows[r] * local.cols();
    total += rows[r];
  }
  MatF all(total, local.cols());
  comm.allgatherv(local.data(), all.data(), counts);
  return all;
}

class GraphClJob final : public EpochJob {
 public:
  void setup(const dist::Comm& comm, const JobConfig& config) override {
    comm_ = &comm;
    config_ = &config;
    const std::string path = config.get_string("data.tu");
    comm.collective([&] {
      set_ = read_tu_dataset(path, config.get_string("data.name"));
      features_ = parse_node_features(config.get_string("data.node_features"));
      policy_ = parse_augmentation_policy(config.get_string("augment.policy"), config.get_bool("augment.graphcl_quirks"));
      if (set_.size() < 2) fail_input("'{}': {} graph(s); contrastive learning needs at least two", path, set_.size());
      originals_.reserve(static_cast<size_t>(set_.size()));
      for (int64_t g = 0; g < set_.size(); ++g) originals_.push_back(original_view(graph_view(set_, g, features_), policy_));
      in_features_ = originals_.front().features.cols();
      for (const int64_t e : config.get_int_list("eval.epochs"))
        if (e > config.get_int("train.epochs"))
          fail_input("{}: eval.epochs lists epoch {}, after the last (train.epochs = {})", config.source(), e, config.get_int("train.epochs"));
      protocol_.kernel = config.get_string("eval.kernel");
      protocol_.standardize = config.get_bool("eval.standardize");
      protocol_.outer_folds = static_cast<int>(config.get_int("eval.folds"));
      std::vector<int64_t> per_class(static_cast<size_t>(set_.num_classes), 0);
      for (int32_t y : set_.graph_labels) ++per_class[static_cast<size_t>(y)];
      for (int32_t c = 0; c < set_.num_classes; ++c)
        if (per_class[static_cast<size_t>(c)] < protocol_.outer_folds)
          fail_input("'{}': class '{}' has {} graphs, fewer than eval.folds = {}", path, set_.class_values[static_cast<size_t>(c)],
                     per_class[static_cast<size_t>(c)], protocol_.outer_folds);
      make_sampler_config(config);
      sampler::make_batch_source(LocalCommunicator(), sampler_config_);  // validates the sampler keys now, on every rank
    });
    batch_size_ = config.get_int("train.batch_size");
    eval_epochs_ = config.get_int_list("eval.epochs");
    tau_ = config.get_real("loss.temperature");
    denominator_ = config.get_string("loss.denominator") == "all" ? InfoNceDenominator::kAll : InfoNceDenominator::kNegatives;
    keep_batches_ = config.get_bool("output.batches");
  }

  JobDescription describe() const override {
    JobDescription d;
    d.item_unit = "graphs";
    d.items_per_epoch = set_.size();
    d.step_counts = 0;
    d.headline = fmt::format("{} ({} graphs, {} classes, {} node feature column(s)); sampler {}, augmentation {}", set_.name,
                             set_.size(), set_.num_classes, in_features_, sampler_config_.kind, policy_.name);
    d.rule = {"eval_epoch", "svm_accuracy", true};  // the last evaluated epoch
    d.summary_label = fmt::format("SVM accuracy ({}-fold) at the last evaluated epoch", protocol_.outer_folds);
    d.summary_scale = 100.0;
    d.attrs = {{"dataset", set_.name}, {"sampler", sampler_config_.kind}, {"augmentation", policy_.name},
               {"metric", "svm_accuracy"}};
    return d;
  }

  void build(uint64_t seed) override {
    reducer_.reset();
    optimizer_.reset();
    model_.reset();
    store_ = std::make_unique<ParamStore<float>>();
    GraphClConfig mc;
    mc.in_features = in_features_;
    mc.hidden = config_->get_int("model.hidden");
    mc.num_layers = config_->get_int("model.layers");
    model_ = std::make_unique<GraphClGin<float>>(*store_, mc, seed);
    optimizer_ = make_optimizer(*store_, optimizer_config(*config_));
    seed_ = seed;
    sampler_config_.seed = seed;
    sampler_config_.bank_dim = 2 * model_->embedding_dim();
    sampler_ = sampler::make_batch_source(*comm_, sampler_config_);
    population_ = std::make_unique<sampler::PopulationCosine>(set_.size(), sampler_config_.bank_dim);
    epoch_rows_ = {};
    visits_.assign(static_cast<size_t>(set_.size()), 0);
    epoch_start_ = {};
  }

  void start_seed(bool resumed) override {
    dist::broadcast_parameters(*comm_, *store_, 0, /*include_buffers=*/!resumed);
    reducer_ = std::make_unique<dist::GradientAllReducer>(*comm_, store_->trainable());
  }

  int64_t plan_epoch(uint64_t /*seed*/, int64_t epoch) override {
    epoch_ = epoch;
    reduce_before_ = reducer_->total_seconds();
    return sampler_->begin_epoch(epoch);
  }

  StepPlan prepare_step(const StepContext& ctx) override {
    // The sampler is collective and replicated: every rank draws the same batch here.
    batch_ = sampler_->next_batch();
    from_graph_ = sampler_->last_from_graph();
    const int64_t n = static_cast<int64_t>(batch_.size()), p = comm_->size(), r = comm_->rank();
    skip_ = n < std::max<int64_t>(2, p);  // InfoNCE needs a negative, and every rank a row
    first_ = n * r / p;
    last_ = n * (r + 1) / p;
    if (skip_) return {{}, 0};
    originals_batch_.clear();
    augmented_batch_.clear();
    const CounterRng step_rng = CounterRng(seed_, RngPurpose::kAugment).derive(static_cast<uint64_t>(ctx.run_step));
    for (int64_t i = first_; i < last_; ++i) {
      const GraphView& g = originals_[static_cast<size_t>(batch_[i])];
      originals_batch_.push_back(g);
      augmented_batch_.push_back(augmented_view(g, policy_, step_rng.derive(static_cast<uint64_t>(batch_[i]))));
    }
    return {{}, last_ - first_};
  }

  StepOutcome run_step(const StepContext& ctx, const std::vector<int64_t>& /*counts*/) override {
    for (VertexId v : batch_) ++visits_[static_cast<size_t>(v)];
    if (keep_batches_)
      for (VertexId v : batch_) epoch_rows_.batches.insert(epoch_rows_.batches.end(), {static_cast<double>(ctx.global_step), static_cast<double>(v)});
    if (skip_) {
      ++skipped_;
      epoch_rows_.stats.insert(epoch_rows_.stats.end(), {static_cast<double>(ctx.global_step), static_cast<double>(batch_.size()),
                                                          from_graph_ ? 1.0 : 0.0, std::nan(""), std::nan(""), std::nan("")});
      return {};
    }
    store_->zero_grad();
    Tape<float> tape;
    if (ctx.profile) tape.set_profile(ctx.profile);
    const FeatureGraphBatch a = collate_views(originals_batch_), b = collate_views(augmented_batch_);
    Var<float> za = l2_normalize_rows(model_->project(tape, model_->embed(tape, a, true)));
    Var<float> zb = l2_normalize_rows(model_->project(tape, model_->embed(tape, b, true)));
    Var<float> candidates = all_gather_rows(zb, *comm_);
    auto positive = std::make_shared<std::vector<int64_t>>();
    for (int64_t i = first_; i < last_; ++i) positive->push_back(i);
    const auto global = static_cast<double>(batch_.size());
    Var<float> loss = info_nce(za, candidates, positive, tau_, global, denominator_);
    tape.backward(loss);
    reducer_->allreduce(1.0f);
    const double loss_value = comm_->sum(static_cast<double>(loss.value()(0, 0)));
    if (std::isfinite(loss_value)) optimizer_->step();

    // The bank rows of the whole batch, the same on every rank.
    MatF rows(za.rows(), za.cols() + zb.cols());
    rows << za.value(), zb.value();
    MatF all = gather_rows(*comm_, rows);
    sampler::normalise_rows(all);
    const auto [cosine, same] = sampler::batch_hardness(all, batch_, &set_.graph_labels);
    if (sampler_->bank_dim() > 0) sampler_->record(batch_, all);
    population_->update(batch_, all);
    cosine_sum_ += cosine;
    same_sum_ += same;
    ++hardness_steps_;
    epoch_rows_.stats.insert(epoch_rows_.stats.end(), {static_cast<double>(ctx.global_step), global, from_graph_ ? 1.0 : 0.0,
                                                        cosine, same, loss_value});
    return {true, loss_value};
  }

  std::map<std::string, double> evaluate() override {
    // This epoch's share of the sampler's running totals (which a checkpoint keeps, with the epoch's start).
    const sampler::BatchSourceStats s = sampler_->stats();
    std::map<std::string, double> v;
    v["sample_seconds"] = s.sample_seconds - epoch_start_.sample_seconds;
    v["rebuild_seconds"] = s.rebuild_seconds - epoch_start_.rebuild_seconds;
    v["background_seconds"] = s.background_seconds - epoch_start_.background_seconds;
    v["rebuilds"] = static_cast<double>(s.rebuilds - epoch_start_.rebuilds);
    v["walk_steps"] = static_cast<double>(s.walk_steps - epoch_start_.walk_steps);
    epoch_start_ = s;
    v["coverage_epochs"] = static_cast<double>(s.coverage_epochs);
    v["mean_cosine"] = hardness_steps_ > 0 ? cosine_sum_ / static_cast<double>(hardness_steps_) : std::nan("");
    v["same_label_share"] = hardness_steps_ > 0 ? same_sum_ / static_cast<double>(hardness_steps_) : std::nan("");
    v["population_cosine"] = population_->mean_pair_cosine();
    v["skipped_batches"] = static_cast<double>(skipped_);
    cosine_sum_ = same_sum_ = 0;
    hardness_steps_ = skipped_ = 0;
    v["svm_accuracy"] = v["svm_std"] = v["eval_epoch"] = std::nan("");
    if (std::find(eval_epochs_.begin(), eval_epochs_.end(), epoch_ + 1) != eval_epochs_.end()) {
      dist::average_buffers(*comm_, *store_);  // one set of BatchNorm statistics, as a checkpoint holds
      const auto [mean, std] = svm_score(embeddings());
      v["svm_accuracy"] = mean;
      v["svm_std"] = std;
      v["eval_epoch"] = static_cast<double>(epoch_ + 1);
    }
    return v;
  }

  std::map<std::string, double> epoch_rank_stats() override {
    return {{"rank_allreduce_seconds", reducer_->total_seconds() - reduce_before_}};
  }
  const ParamStore<float>* replicated_params() const override { return store_.get(); }
  // `relfm eval`: the loaded model's embeddings (rank 0 holds them in `p`) and their SVM accuracy.
  void score(Predictions& p) {
    dist::average_buffers(*comm_, *store_);
    const MatF all = embeddings();
    p.value = svm_score(all).first;
    p.dataset = set_.name, p.metric = "svm_accuracy", p.prediction_columns = all.cols();
    if (!comm_->is_root()) return;  // the file's rows are written collectively: rank 0 holds them all
    p.predictions.assign(all.data(), all.data() + all.size());
    for (int64_t g = 0; g < set_.size(); ++g) p.ids.push_back(g), p.labels.push_back(static_cast<float>(set_.graph_labels[static_cast<size_t>(g)]));
  }

  std::map<std::string, ResultsTable> epoch_tables() override {
    std::map<std::string, ResultsTable> t;
    t["batch_stats"] = table({"global_step", "size", "from_graph", "mean_cosine", "same_label_share", "loss"}, epoch_rows_.stats);
    if (keep_batches_) t["batches"] = table({"global_step", "instance"}, epoch_rows_.batches);
    std::vector<double> visits;
    for (int64_t i = 0; i < set_.size(); ++i) visits.insert(visits.end(), {static_cast<double>(i), static_cast<double>(visits_[i])});
    t["visits"] = table({"instance", "count"}, visits);
    epoch_rows_ = {};
    std::fill(visits_.begin(), visits_.end(), 0);
    return t;
  }

  void save(CheckpointWriter& writer) override {
    save_model_sections(writer, *store_, *optimizer_);
    StateSection st;
    st.arrays = sampler_->save();
    st.arrays["job.visits"].assign(visits_.begin(), visits_.end());
    st.arrays["job.population"] = population_->save();
    st.arrays["job.stats_rows"] = epoch_rows_.stats;
    st.arrays["job.batch_rows"] = epoch_rows_.batches;
    st.arrays["job.hardness"] = {cosine_sum_, same_sum_, static_cast<double>(hardness_steps_), static_cast<double>(skipped_)};
    const sampler::BatchSourceStats& e = epoch_start_;
    st.arrays["job.epoch_start"] = {static_cast<double>(e.rebuilds), static_cast<double>(e.walk_steps)};
    st.arrays["job.epoch_start_seconds"] = {e.sample_seconds, e.rebuild_seconds, e.background_seconds};
    writer.add_state("sampler", std::move(st));
  }
  void load(CheckpointReader& reader) override {
    load_model_sections(reader, *store_, *optimizer_);
    StateSection st = reader.read_state("sampler");
    comm_->collective([&] {
      const std::vector<double>& visits = st.get_array("job.visits");
      if (visits.size() != visits_.size()) fail_input("'{}': the sampler state is for another data set", reader.path());
      std::copy(visits.begin(), visits.end(), visits_.begin());
      epoch_rows_.stats = st.get_array("job.stats_rows");
      epoch_rows_.batches = st.get_array("job.batch_rows");
      const std::vector<double>& h = st.get_array("job.hardness");
      cosine_sum_ = h.at(0), same_sum_ = h.at(1), hardness_steps_ = static_cast<int64_t>(h.at(2)), skipped_ = static_cast<int64_t>(h.at(3));
      const std::vector<double>& e = st.get_array("job.epoch_start");
      const std::vector<double>& t = st.get_array("job.epoch_start_seconds");
      epoch_start_.rebuilds = static_cast<int64_t>(e.at(0)), epoch_start_.walk_steps = static_cast<int64_t>(e.at(1));
      epoch_start_.sample_seconds = t.at(0), epoch_start_.rebuild_seconds = t.at(1), epoch_start_.background_seconds = t.at(2);
      if (st.arrays.count("job.population")) population_->restore(st.arrays.at("job.population"), reader.path());  // (older: none)
      for (const char* k : {"job.visits", "job.stats_rows", "job.batch_rows", "job.hardness", "job.epoch_start",
                            "job.epoch_start_seconds", "job.population"})
        st.arrays.erase(k);
    });
    sampler_->restore(st.arrays);  // collective (the walk graph is placed again)
  }

 private:
  struct EpochRows {
    std::vector<double> stats, batches;
  };

  static ResultsTable table(std::vector<std::string> columns, const std::vector<double>& values) {
    ResultsTable t;
    t.columns = std::move(columns);
    t.values = values;
    // The rows carry their own step; the trainer fills in the epoch.
    t.epochs.assign(values.size() / t.columns.size(), 0);
    return t;
  }

  void make_sampler_config(const JobConfig& c) {
    sampler::BatchSourceConfig& s = sampler_config_;
    s.kind = c.get_string("sampler.kind");
    s.num_instances = set_.size();
    s.batch_size = c.get_int("train.batch_size");
    s.reshuffle = c.get_bool("sampler.reshuffle");
    s.warmup_epochs = c.get_int("sampler.warmup_epochs");
    s.refresh_every = c.get_int("sampler.refresh_every");
    s.overlap = c.get_bool("sampler.overlap");
    s.bank_dim = 1;  // set per seed from the model's width
    const int64_t n = set_.size();
    int64_t k = c.get_int("sampler.neighbours");
    if (k == 0) k = std::clamp<int64_t>(n / 50, 5, 100);
    k = std::min(k, n - 1);
    int64_t m = c.get_int("sampler.candidates");
    if (m == 0) m = std::min(10 * k, n - 1);
    s.proximity.neighbours = k;
    s.proximity.candidates = m;
    s.proximity.block = c.get_int("sampler.block");
    if (s.kind == "batchsampler" || s.kind == "communities") s.proximity.validate(n);
    s.walks.restart = c.get_real("sampler.restart");
    s.walks.official_schedule = c.get_string("sampler.restart_schedule") == "official";
    s.walks.mode = sampler::parse_epoch_mode(c.get_string("sampler.epoch_mode"));
    s.walks.batches_per_epoch = c.get_int("sampler.batches_per_coverage_epoch");
    if (s.walks.mode == sampler::EpochMode::kFixed && s.walks.batches_per_epoch == 0)
      s.walks.batches_per_epoch = (n + s.batch_size - 1) / s.batch_size;
    s.walks.step_cap = c.get_int("sampler.step_cap");
    s.walks.batch_size = s.batch_size;
    s.walks.validate();
    s.walk_engine = c.get_string("sampler.walk_engine");
    // METIS on every rank (a pure function of the graph and seed, so the ranks agree without a broadcast).
    s.partition = [](const Csr& graph, int parts, uint64_t seed) {
      if (parts <= 1) return std::vector<int32_t>(static_cast<size_t>(graph.num_rows), 0);
      return dist::partition_graph(graph, {}, parts, seed);
    };
  }

  // Embeddings of every graph (original views, BatchNorm in evaluation mode) on every rank, then the SVM
  // protocol with its outer folds spread over the ranks. Returns (mean, std) of the fold accuracies.
  // Every graph's embedding (the original view, evaluation mode), the same on every rank.
  MatF embeddings() {
    const int64_t n = set_.size(), p = comm_->size(), r = comm_->rank();
    const int64_t first = n * r / p, last = n * (r + 1) / p, chunk = config_->get_int("eval.batch_size");
    MatF local(last - first, model_->embedding_dim());
    for (int64_t begin = first; begin < last; begin += chunk) {
      const int64_t end = std::min(last, begin + chunk);
      const std::vector<GraphView> views(originals_.begin() + begin, originals_.begin() + end);
      Tape<float> tape;
      local.middleRows(begin - first, end - begin) = model_->embed(tape, collate_views(views), false).value();
    }
    return gather_rows(*comm_, local);
  }
  // GraphCL's protocol on those embeddings: the mean and std of the outer folds' accuracy.
  std::pair<double, double> svm_score(const MatF& all) {
    const int64_t p = comm_->size(), r = comm_->rank();
    std::vector<double> folds(static_cast<size_t>(protocol_.outer_folds), 0.0);
    comm_->collective([&] {
      for (int f = static_cast<int>(r); f < protocol_.outer_folds; f += static_cast<int>(p))
        folds[static_cast<size_t>(f)] = eval::svm_fold(all, set_.graph_labels, protocol_, seed_, f).accuracy;
    });
    comm_->allreduce_sum(folds.data(), folds.size());
    const double mean = std::accumulate(folds.begin(), folds.end(), 0.0) / static_cast<double>(folds.size());
    double var = 0;
    for (double a : folds) var += (a - mean) * (a - mean);
    return {mean, std::sqrt(var / static_cast<double>(folds.size()))};
  }

  const dist::Comm* comm_ = nullptr;
  const JobConfig* config_ = nullptr;
  GraphSet set_;
  NodeFeatures features_ = NodeFeatures::kLabelsOrConstant;
  AugmentationPolicy policy_;
  std::vector<GraphView> originals_;
  int64_t in_features_ = 1, batch_size_ = 128;
  eval::SvmProtocol protocol_;
  std::vector<int64_t> eval_epochs_;
  double tau_ = 0.2;
  InfoNceDenominator denominator_ = InfoNceDenominator::kNegatives;
  bool keep_batches_ = true;
  sampler::BatchSourceConfig sampler_config_;

  uint64_t seed_ = 0;
  int64_t epoch_ = 0;
  std::unique_ptr<ParamStore<float>> store_;
  std::unique_ptr<GraphClGin<float>> model_;
  std::unique_ptr<Optimizer<float>> optimizer_;
  std::unique_ptr<dist::GradientAllReducer> reducer_;
  std::unique_ptr<sampler::BatchSource> sampler_;
  std::unique_ptr<sampler::PopulationCosine> population_;
  sampler::BatchSourceStats epoch_start_;  // the sampler's totals when this epoch began
  double reduce_before_ = 0;

  std::vector<VertexId> batch_;
  bool from_graph_ = false, skip_ = false;
  int64_t first_ = 0, last_ = 0;
  std::vector<GraphView> originals_batch_, augmented_batch_;
  EpochRows epoch_rows_;
  std::vector<int64_t> visits_;
  double cosine_sum_ = 0, same_sum_ = 0;
  int64_t hardness_steps_ = 0, skipped_ = 0;
};

// `relfm eval CHECKPOINT [--predictions E.h5]`: GraphCL's protocol (--split does not apply: cross-validation
// over every graph) on the checkpoint's model, its run's seed keying the folds as in training; the
// predictions file holds every graph's embedding.
int run_graphcl_eval(const dist::Comm& comm, const JobConfig& config, const EvalOptions& options) {
  CheckpointReader reader(options.checkpoint, comm);
  const StateSection trainer = reader.read_state("trainer");
  reader.close();
  const uint64_t seed = comm.collective([&] {  // the run whose model the checkpoint holds
    const std::vector<int64_t>& seeds = config.get_int_list("train.seeds");
    const int64_t run = trainer.get_int("seed_index") - (trainer.get_int("seed_started") ? 0 : 1);
    if (run < 0 || run >= static_cast<int64_t>(seeds.size())) fail_input("'{}' holds no trained run", options.checkpoint);
    return static_cast<uint64_t>(seeds[static_cast<size_t>(run)]);
  });
  GraphClJob job;
  load_job_for_eval(comm, config, job, options.checkpoint, seed);  // the run's seed keys the SVM folds
  Predictions p{.split = "all", .checkpoint = options.checkpoint};
  job.score(p);
  if (!options.predictions.empty()) write_predictions(options.predictions, comm, p);
  if (comm.is_root()) std::printf("%s svm_accuracy = %.4f (%s)\n", p.dataset.c_str(), p.value, "GraphCL's protocol over every graph");
  return dist::kExitOk;
}

}  // namespace

RELFM_REGISTER_JOB_KIND(JobKind{
    .name = "graphcl",
    .doc = "GraphCL contrastive pre-training on a TU data set with a pluggable batch sampler (uniform, batchsampler, knn, communities); SVM accuracy.",
    .keys = graphcl_keys,
    .make_epoch_job = [] { return std::make_unique<GraphClJob>(); },
    .eval = run_graphcl_eval});

}  // namespace relfm::jobs
