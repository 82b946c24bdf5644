// The group training job (MolGroup's evaluation, research/molgroup.md §1.6, the official app/train.py):
// one GIN encoder shared by the target and its auxiliary data sets, a linear decoder per data set
// (SharedGin), MolGroup's balanced sampling, the loss the plain mean of the data sets' losses in the step
// (the auxiliary regression sets' labels raw, as the official code, or standardised: DatasetGroup),
// batch-norm running statistics moved by target batches only, the target's test score at its best
// validation epoch over train.seeds. With data.datasets = [target, aux] it is one cell of the pairwise
// study (slurm/molgroup_pairs.sbatch), with [target] alone its baseline.
//
// Across ranks each data set's sub-batches live on one rank (placed by cost, the target's on rank 0);
// every data set's gradient is a block of an ordered sum (src/nn/gradient_sum.hpp), so a run gives the
// same numbers at any rank count.
#include "dist/runtime.hpp"
#include "io/checkpoint.hpp"
#include "jobs/job_kinds.hpp"
#include "jobs/molecule_groups.hpp"
#include "src/models/shared_gin.hpp"
#include "src/nn/gradient_sum.hpp"
#include "src/tensor/ops.hpp"

#include <cmath>
#include <numeric>

namespace relfm::jobs {
namespace {

std::vector<KeySpec> gin_group_keys() {
  std::vector<KeySpec> keys = dataset_group_keys(64);
  for (auto& k : gin_model_keys()) keys.push_back(k);
  for (auto& k : optimizer_keys("train", "the shared GIN and the decoders")) keys.push_back(k);
  return keys;
}

class GinGroupJob final : public EpochJob {
 public:
  void setup(const dist::Comm& comm, const JobConfig& config) override {
    comm_ = &comm;
    config_ = &config;
    features_ = comm.collective([&] { return feature_layout(config.get_string("model.features")); });
    group_.load(comm, config, features_, /*with_smiles=*/false, /*min_members=*/1);
    all_.resize(group_.size());
    std::iota(all_.begin(), all_.end(), 0);
    batch_size_ = config.get_int("train.batch_size");
    // Every data set runs one forward/backward pass; the target's is no dearer than another's.
    owner_ = group_.place(all_, 1.0, 1.0, comm.size());
  }

  JobDescription describe() const override {
    const std::vector<std::string> aux = group_.names(all_, /*skip_target=*/true);
    JobDescription d = group_.describe(all_, fmt::format("{} ({}) trained with {}", group_.target().name, group_.metric_label(),
                                                         aux.empty() ? std::string("no auxiliary data set") : joined(aux)));
    d.summary_label = group_.target().name + " test " + group_.metric_label() + " at the best validation epoch";
    d.attrs["auxiliary"] = joined(aux);
    return d;
  }

  void build(uint64_t seed) override {
    seed_ = seed;
    optimizer_.reset();
    store_ = std::make_unique<ParamStore<float>>();
    std::vector<int64_t> tasks;
    for (size_t m = 0; m < group_.size(); ++m) tasks.push_back(group_[m].shard.molecules.labels.cols());
    model_ = std::make_unique<SharedGin<float>>(*store_, gin_config(*config_, features_, 1), tasks, seed);
    optimizer_ = make_optimizer(*store_, optimizer_config(*config_));
    group_.reset_state();
  }

  void start_seed(bool) override {}

  int64_t plan_epoch(uint64_t seed, int64_t epoch) override { return group_.plan_epoch(all_, seed, epoch, batch_size_); }

  StepPlan prepare_step(const StepContext& ctx) override {
    const std::vector<std::vector<int64_t>> rows = group_.step_rows(ctx.step);
    batches_.clear();
    present_ = 0;
    int64_t items = 0;
    for (size_t m = 0; m < rows.size(); ++m) {
      if (rows[m].empty()) continue;
      ++present_;
      if (owner_[m] != comm_->rank()) continue;
      batches_.push_back({static_cast<int64_t>(m), group_.collate_rows(m, rows[m])});
      items += static_cast<int64_t>(rows[m].size());
    }
    return StepPlan{{}, items};
  }

  StepOutcome run_step(const StepContext& ctx, const std::vector<int64_t>&) override {
    if (present_ == 0) return {};
    const CounterRng dropout = CounterRng(seed_, RngPurpose::kDropout).derive(static_cast<uint64_t>(ctx.run_step));
    OrderedGradientSum<float> sum(store_->trainable());
    std::vector<int64_t> ids;
    std::vector<double> losses;
    for (const auto& [m, batch] : batches_) {
      store_->zero_grad();
      Tape<float> tape;
      if (ctx.profile) tape.set_profile(ctx.profile);
      ForwardOptions fo;
      fo.training = true;
      fo.dropout_rng = dropout.derive(static_cast<uint64_t>(m));
      const GroupMember& d = group_[static_cast<size_t>(m)];
      const int64_t labelled = count_labelled(*batch.labels);
      // The pools hold labelled molecules only (DatasetGroup::load), so no sub-batch is without labels.
      RELFM_CHECK(labelled > 0, "data set '{}': a sub-batch without any labelled molecule", d.name);
      Var<float> out = model_->forward(tape, m, batch, fo);
      Var<float> loss = d.regression ? mse(out, batch.labels, static_cast<double>(labelled))
                                     : bce_with_logits(out, batch.labels, static_cast<double>(labelled));
      ids.push_back(m);
      losses.push_back(static_cast<double>(loss.value()(0, 0)));
      tape.backward(scale(loss, 1.0f / static_cast<float>(present_)));
      sum.add_block(m);
    }
    set_gradients(*store_, sum.finish(*comm_));
    // The loss in data set order, as the gradient.
    const std::vector<int64_t> all_ids = comm_->allgatherv(ids);
    const std::vector<double> all_losses = comm_->allgatherv(losses);
    std::vector<size_t> order(all_ids.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return all_ids[a] < all_ids[b]; });
    double total = 0;
    for (size_t i : order) total += all_losses[i];
    total /= static_cast<double>(present_);
    if (std::isfinite(total)) optimizer_->step();
    return {true, total};
  }

  std::map<std::string, double> evaluate() override {
    sync_statistics();
    return group_.evaluate_target(model_->encoder(), config_->get_int("eval.batch_size"));
  }

  std::map<std::string, int64_t> rank_counts() const override {
    int64_t held = 0;
    for (int o : owner_) held += o == comm_->rank() ? 1 : 0;
    return {{"rank_datasets", held}};
  }
  const ParamStore<float>* replicated_params() const override { return store_.get(); }
  // `relfm eval`: the loaded model on one split of the target.
  Predictions score(const std::string& split) const {
    return group_.score_target(model_->encoder(), split, config_->get_int("eval.batch_size"));
  }

  void save(CheckpointWriter& writer) override {
    sync_statistics();
    save_model_sections(writer, *store_, *optimizer_);
    StateSection st;
    group_.save_state(st);
    writer.add_state("group", std::move(st));
  }
  void load(CheckpointReader& reader) override {
    load_model_sections(reader, *store_, *optimizer_);
    group_.load_state(reader.read_state("group"));
  }

 private:
  // Only target batches move the running statistics, and they run on rank 0.
  void sync_statistics() {
    for (Parameter<float>* p : store_->all())
      if (!p->trainable) comm_->broadcast(p->value.data(), static_cast<size_t>(p->value.size()), owner_[0]);
  }

  const dist::Comm* comm_ = nullptr;
  const JobConfig* config_ = nullptr;
  FeatureLayout features_;
  DatasetGroup group_;
  std::vector<int64_t> all_;
  std::vector<int> owner_;
  int64_t batch_size_ = 0, present_ = 0;
  uint64_t seed_ = 0;
  std::unique_ptr<ParamStore<float>> store_;
  std::unique_ptr<SharedGin<float>> model_;
  std::unique_ptr<Optimizer<float>> optimizer_;
  std::vector<std::pair<int64_t, GraphBatch>> batches_;
};

// `relfm eval CHECKPOINT [--split test] [--predictions P.h5]`: the group-trained GIN (its last run) scored on
// a split of its target, with the job's own evaluation (the same numbers on any rank count).
int run_gin_group_eval(const dist::Comm& comm, const JobConfig& config, const EvalOptions& options) {
  check_eval_split(comm, options);
  GinGroupJob job;
  load_job_for_eval(comm, config, job, options.checkpoint);
  Predictions p = comm.collective([&] { return job.score(options.split); });
  p.checkpoint = options.checkpoint;
  if (!options.predictions.empty()) write_predictions(options.predictions, comm, p);
  if (comm.is_root()) {
    std::printf("%s %s %s = %.4f\n", p.dataset.c_str(), options.split.c_str(), p.metric.c_str(), p.value);
    std::fflush(stdout);
  }
  return dist::kExitOk;
}

}  // namespace

RELFM_REGISTER_JOB_KIND(JobKind{
    .name = "gin_group",
    .doc = "A shared GIN with per-data-set decoders on a target and its auxiliary data sets (MolGroup's evaluation of a group).",
    .keys = gin_group_keys,
    .make_epoch_job = [] { return std::make_unique<GinGroupJob>(); },
    .eval = run_gin_group_eval});

}  // namespace relfm::jobs
