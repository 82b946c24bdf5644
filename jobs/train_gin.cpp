// The GIN job: a GIN on a molecule shard, data-parallel over MPI ranks, reporting the test score at the
// best validation epoch (MolGroup's "only-target" protocol, research/molgroup.md §1.6). Everything about
// seeds, epochs, resume, stops and results is the Trainer's (jobs/trainer.hpp); this file is the task.
//
// Data parallelism: METIS splits each split's molecules over the ranks with balanced atoms and molecule
// counts. Every epoch visits the training molecules in a global order keyed by (seed, epoch); each rank
// walks its own molecules in that order, cut into ceil(train / batch_size) local batches of equal atom
// counts, so every step costs every rank the same. A step's loss is the mean over the labelled entries
// of the global batch (the per-rank counts travel in the step agreement and normalise the loss), so the
// gradient equals the single-process gradient of the same global batch, up to BatchNorm, whose
// statistics are per rank (as PyTorch DDP without SyncBN).
//
// `relfm eval` predictions file (format "relfm.predictions", format_version 1), rows stacked rank by rank:
//   /            attributes: format, format_version, dataset, split, metric, value (the split's score),
//                checkpoint (path it came from)
//   /ids         int64 [n]        shard row of each molecule
//   /predictions float32 [n, T]   logits (classification) or values (regression)
//   /labels      float32 [n, T]   NaN = missing
#include "dist/data_parallel.hpp"
#include "dist/partition.hpp"
#include "dist/runtime.hpp"
#include "io/checkpoint.hpp"
#include "io/predictions.hpp"
#include "io/shard.hpp"
#include "jobs/job_kinds.hpp"
#include "jobs/molecule_common.hpp"
#include "src/metrics/metrics.hpp"
#include "src/models/gin.hpp"
#include "src/mol/featurize.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

namespace relfm::jobs {

std::vector<KeySpec> gin_keys() {
  std::vector<KeySpec> keys = {
      {"data.shard", ValueKind::kString, "", "Molecule shard (HDF5) written by `relfm shard`; relative paths are from the working directory.",
       {}, {}, {}, Resume::kBlocks},
      {"model.name", ValueKind::kString, "\"gin\"", "Model family.", {"gin"}, {}, {}, Resume::kBlocks},
      {"train.batch_size", ValueKind::kInt, "64", "Global batch size (molecules per step, summed over ranks).", {}, 1, {}, Resume::kBlocks},
  };
  for (auto& k : gin_model_keys()) keys.push_back(k);
  for (auto& k : optimizer_keys("train", "the model")) keys.push_back(k);
  keys.push_back({"eval.batch_size", ValueKind::kInt, "1024", "Molecules per forward pass when evaluating.", {}, 1});
  return keys;
}

namespace {

// The molecules of one split that this rank owns, and the split's global size.
struct SplitPart {
  MoleculeSet local;
  int64_t global_count = 0;
};

struct Data {
  MoleculeShard shard;
  SplitPart train, valid, test;
  std::vector<int64_t> rank_train_molecules, rank_train_atoms;
  Metric metric = Metric::kRocAuc;
  bool classification = true;
};

SplitPart partition_split(const dist::Comm& comm, const MoleculeSet& all, const std::vector<int64_t>& ids,
                          uint64_t seed) {
  std::vector<int64_t> atoms(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) atoms[i] = all.atoms_of(ids[i]);
  const std::vector<int32_t> part = dist::partition_molecules(comm, atoms, seed);
  std::vector<int64_t> mine;
  for (size_t i = 0; i < ids.size(); ++i)
    if (part[i] == comm.rank()) mine.push_back(ids[i]);
  SplitPart out;
  out.local = all.subset(mine);
  out.global_count = static_cast<int64_t>(ids.size());
  return out;
}

Data load_data(const dist::Comm& comm, const JobConfig& config, const FeatureLayout& features) {
  Data d;
  const std::string& path = config.get_string("data.shard");
  d.shard = read_molecule_shard(path, comm);
  comm.collective([&] {
    check_shard_features(path, d.shard, features);
    d.classification = d.shard.info.task_type == "classification";
    d.metric = parse_metric(d.shard.info.metric);
    if (d.shard.split.train.empty()) fail_input("'{}': the training split is empty", path);
    if (d.shard.split.valid.empty() || d.shard.split.test.empty())
      fail_input("'{}': the validation or test split is empty", path);
    if (static_cast<int64_t>(d.shard.split.train.size()) < comm.size())
      fail_input("'{}': {} training molecules cannot be spread over {} ranks", path, d.shard.split.train.size(), comm.size());
  });
  // The partition depends only on the data and the rank count (not on the training seed).
  constexpr uint64_t kPartitionSeed = 1;
  d.train = partition_split(comm, d.shard.molecules, d.shard.split.train, kPartitionSeed);
  d.valid = partition_split(comm, d.shard.molecules, d.shard.split.valid, kPartitionSeed);
  d.test = partition_split(comm, d.shard.molecules, d.shard.split.test, kPartitionSeed);
  d.rank_train_molecules = comm.allgather(d.train.local.size());
  d.rank_train_atoms = comm.allgather(d.train.local.num_atoms());
  return d;
}

// This rank's batches for one epoch, as positions into its local training set.
std::vector<std::vector<int64_t>> plan_gin_epoch(const Data& d, int64_t batch_size, uint64_t seed, int64_t epoch) {
  const std::vector<int64_t>& global_ids = d.shard.split.train;
  const int64_t n = static_cast<int64_t>(global_ids.size());
  const int64_t steps = (n + batch_size - 1) / batch_size;
  std::vector<int64_t> position_of(static_cast<size_t>(d.shard.molecules.size()), -1);
  const MoleculeSet& local = d.train.local;
  for (int64_t p = 0; p < local.size(); ++p) position_of[local.ids[p]] = p;
  // The epoch's global order, restricted to this rank's molecules.
  const std::vector<int64_t> order = random_permutation(CounterRng(seed, RngPurpose::kShuffle, static_cast<uint64_t>(epoch)), n);
  std::vector<int64_t> mine;
  mine.reserve(static_cast<size_t>(local.size()));
  for (int64_t k : order)
    if (position_of[global_ids[k]] >= 0) mine.push_back(position_of[global_ids[k]]);
  // Cut into `steps` batches of (nearly) equal atom counts: a molecule goes to the batch its middle falls in.
  std::vector<std::vector<int64_t>> batches(static_cast<size_t>(steps));
  const double total = static_cast<double>(local.num_atoms());
  double before = 0.0;
  for (int64_t p : mine) {
    const double atoms = static_cast<double>(local.atoms_of(p));
    const auto b = std::min<int64_t>(steps - 1, static_cast<int64_t>((before + 0.5 * atoms) / total * static_cast<double>(steps)));
    batches[static_cast<size_t>(b)].push_back(p);
    before += atoms;
  }
  return batches;
}

// The split's metric over all ranks' predictions (every rank computes the same value).
double evaluate_split(const dist::Comm& comm, const Gin<float>& model, const Data& d, const SplitPart& part,
                const FeatureLayout& f, int64_t eval_batch) {
  return gathered_metric(comm, d.metric, predict(model, part.local, f, eval_batch), part.local.ids, d.shard.molecules.labels);
}


std::unique_ptr<Gin<float>> build_gin(ParamStore<float>& store, const JobConfig& config, const FeatureLayout& features,
                                      int64_t num_tasks, uint64_t seed) {
  return std::make_unique<Gin<float>>(store, gin_config(config, features, num_tasks), seed);
}

// The GIN task on the trainer.
class GinJob final : public EpochJob {
 public:
  void setup(const dist::Comm& comm, const JobConfig& config) override {
    comm_ = &comm;
    config_ = &config;
    features_ = comm.collective([&] { return feature_layout(config.get_string("model.features")); });
    data_ = load_data(comm, config, features_);
    batch_size_ = config.get_int("train.batch_size");
    eval_batch_ = config.get_int("eval.batch_size");
    metric_label_ = std::string(metric_name(data_.metric));
  }

  JobDescription describe() const override {
    JobDescription d;
    d.item_unit = "molecules";
    d.items_per_epoch = data_.train.global_count;
    d.step_counts = 1;  // labelled entries of the global batch
    d.headline = fmt::format("{} ({}, {} molecules: {} train / {} valid / {} test)", data_.shard.info.dataset,
                             metric_label_, data_.shard.molecules.size(), data_.train.global_count,
                             data_.valid.global_count, data_.test.global_count);
    d.rule = {"valid_" + metric_label_, "test_" + metric_label_, higher_is_better(data_.metric)};
    d.summary_label = "test " + metric_label_ + " at the best validation epoch";
    d.summary_scale = data_.metric == Metric::kRocAuc || data_.metric == Metric::kAveragePrecision ? 100.0 : 1.0;
    d.attrs = {{"dataset", data_.shard.info.dataset},
               {"task_type", data_.shard.info.task_type},
               {"metric", metric_label_}};
    return d;
  }

  void build(uint64_t seed) override {
    reducer_.reset();
    optimizer_.reset();
    model_.reset();
    store_ = std::make_unique<ParamStore<float>>();
    model_ = build_gin(*store_, *config_, features_, data_.shard.molecules.labels.cols(), seed);
    optimizer_ = make_optimizer(*store_, optimizer_config(*config_));
    dropout_base_ = CounterRng(seed, RngPurpose::kDropout);
  }

  void start_seed(bool resumed) override {
    // A resumed rank keeps its own BatchNorm statistics (they follow its local batches).
    dist::broadcast_parameters(*comm_, *store_, 0, /*include_buffers=*/!resumed);
    reducer_ = std::make_unique<dist::GradientAllReducer>(*comm_, store_->trainable());
    reduce_before_ = 0.0;
  }

  int64_t plan_epoch(uint64_t seed, int64_t epoch) override {
    batches_ = plan_gin_epoch(data_, batch_size_, seed, epoch);
    reduce_before_ = reducer_->total_seconds();
    return static_cast<int64_t>(batches_.size());
  }

  StepPlan prepare_step(const StepContext& ctx) override {
    const std::vector<int64_t>& local = batches_[static_cast<size_t>(ctx.step)];
    batch_ = GraphBatch{};
    int64_t local_labelled = 0;
    if (!local.empty()) {
      batch_ = collate(data_.train.local, local, features_.atom_columns, features_.bond_columns);
      local_labelled = count_labelled(*batch_.labels);
    }
    return StepPlan{{local_labelled}, static_cast<int64_t>(local.size())};
  }

  StepOutcome run_step(const StepContext& ctx, const std::vector<int64_t>& global_counts) override {
    const int64_t labelled = global_counts[0];
    const bool has_rows = !batches_[static_cast<size_t>(ctx.step)].empty();
    double loss_value = 0.0;
    store_->zero_grad();
    if (labelled == 0) return {};
    if (has_rows) {
      Tape<float> tape;
      if (ctx.profile) tape.set_profile(ctx.profile);
      ForwardOptions fo;
      fo.training = true;
      fo.dropout_rng = dropout_base_.derive(static_cast<uint64_t>(ctx.run_step)).derive(static_cast<uint64_t>(comm_->rank()));
      Var<float> logits = model_->forward(tape, batch_, fo);
      Var<float> loss = data_.classification ? bce_with_logits(logits, batch_.labels, static_cast<double>(labelled))
                                             : mse(logits, batch_.labels, static_cast<double>(labelled));
      loss_value = loss.value()(0, 0);
      tape.backward(loss);
    }
    reducer_->allreduce(1.0f);
    loss_value = comm_->sum(loss_value);
    if (std::isfinite(loss_value)) optimizer_->step();  // a diverged step is not applied (the trainer stops)
    return {true, loss_value};
  }

  std::map<std::string, double> evaluate() override {
    dist::average_buffers(*comm_, *store_);  // one set of BatchNorm statistics for evaluation and checkpoints
    const double valid = evaluate_split(*comm_, *model_, data_, data_.valid, features_, eval_batch_);
    const double test = evaluate_split(*comm_, *model_, data_, data_.test, features_, eval_batch_);
    return {{"valid_" + metric_label_, valid}, {"test_" + metric_label_, test}};
  }

  std::map<std::string, double> epoch_rank_stats() override {
    return {{"rank_allreduce_seconds", reducer_->total_seconds() - reduce_before_}};
  }
  std::map<std::string, int64_t> rank_counts() const override {
    return {{"rank_molecules", data_.train.local.size()}, {"rank_atoms", data_.train.local.num_atoms()}};
  }
  const ParamStore<float>* replicated_params() const override { return store_.get(); }

  void save(CheckpointWriter& writer) override { save_model_sections(writer, *store_, *optimizer_); }
  void load(CheckpointReader& reader) override { load_model_sections(reader, *store_, *optimizer_); }

 private:
  const dist::Comm* comm_ = nullptr;
  const JobConfig* config_ = nullptr;
  FeatureLayout features_;
  Data data_;
  int64_t batch_size_ = 0, eval_batch_ = 0;
  std::string metric_label_;
  std::unique_ptr<ParamStore<float>> store_;
  std::unique_ptr<Gin<float>> model_;
  std::unique_ptr<Optimizer<float>> optimizer_;
  std::unique_ptr<dist::GradientAllReducer> reducer_;
  CounterRng dropout_base_{0, RngPurpose::kDropout};
  std::vector<std::vector<int64_t>> batches_;
  GraphBatch batch_;
  double reduce_before_ = 0.0;
};

}  // namespace

int run_gin_eval(const dist::Comm& comm, const JobConfig& config, const EvalOptions& options) {
  const FeatureLayout features = comm.collective([&] { return feature_layout(config.get_string("model.features")); });
  check_eval_split(comm, options);
  Data data = load_data(comm, config, features);
  ParamStore<float> store;
  const auto model = comm.collective([&] { return build_gin(store, config, features, data.shard.molecules.labels.cols(), 0); });
  auto optimizer = comm.collective([&] { return make_optimizer(store, optimizer_config(config)); });
  CheckpointReader reader(options.checkpoint, comm);
  load_model_sections(reader, store, *optimizer);
  reader.close();
  const SplitPart& part = options.split == "train" ? data.train : options.split == "valid" ? data.valid : data.test;
  const int64_t eval_batch = config.get_int("eval.batch_size");
  const double value = evaluate_split(comm, *model, data, part, features, eval_batch);
  if (!options.predictions.empty()) {
    const MatF local = predict(*model, part.local, features, eval_batch);
    MatF labels(part.local.size(), local.cols());
    for (int64_t i = 0; i < part.local.size(); ++i) labels.row(i) = part.local.labels.row(i);
    Predictions p{.dataset = data.shard.info.dataset, .split = options.split, .metric = std::string(metric_name(data.metric)),
                  .checkpoint = options.checkpoint, .value = value};
    p.ids = part.local.ids;
    p.predictions.assign(local.data(), local.data() + local.size());
    p.prediction_columns = local.cols();
    p.labels.assign(labels.data(), labels.data() + labels.size());
    p.label_columns = labels.cols();
    write_predictions(options.predictions, comm, p);
  }
  if (comm.is_root()) {
    std::printf("%s %s %s = %.4f (%lld molecules)\n", data.shard.info.dataset.c_str(), options.split.c_str(),
                std::string(metric_name(data.metric)).c_str(), value, static_cast<long long>(part.global_count));
    std::fflush(stdout);
  }
  return dist::kExitOk;
}

RELFM_REGISTER_JOB_KIND(JobKind{
    .name = "gin",
    .doc = "GIN on a molecule shard, data-parallel, test metric at the best validation epoch (MolGroup's only-target).",
    .keys = gin_keys,
    .make_epoch_job = [] { return std::make_unique<GinJob>(); },
    .eval = run_gin_eval});

}  // namespace relfm::jobs
