// A second job kind, for tests only: linear regression on synthetic data, data-parallel on the Trainer.
// It exists to prove that a job is one file (its data, model, step and metrics) plus one job file
// (tests/jobs/synthetic_regression.toml), and to exercise the trainer with a job that is not the GIN:
// a rank may hold no rows of a batch (the global batch is dealt round-robin, so with more ranks than
// rows left some ranks sit a step out) and must still take part in every collective of the step.
//
// Data: x ~ N(0, 1)^d, y = x . w* + noise * N(0, 1), every value a pure function of (data seed, row), so
// every rank generates the same set; rows [0, n_train) train, then valid, then test.
#include "dist/data_parallel.hpp"
#include "jobs/job_kinds.hpp"
#include "src/nn/layers.hpp"
#include "src/nn/optim.hpp"

#include <cmath>

namespace relfm::jobs {
namespace {

std::vector<KeySpec> regression_keys() {
  std::vector<KeySpec> keys = {
      {"data.rows", ValueKind::kInt, "600", "Rows generated (60% train, 20% valid, 20% test).", {}, 10, {}, Resume::kBlocks},
      {"data.features", ValueKind::kInt, "8", "Input features.", {}, 1, 1024, Resume::kBlocks},
      {"data.noise", ValueKind::kReal, "0.1", "Standard deviation of the label noise.", {}, 0.0, {}, Resume::kBlocks},
      {"data.seed", ValueKind::kInt, "7", "Seed of the synthetic data (not of training).", {}, 0, {}, Resume::kBlocks},
      {"train.batch_size", ValueKind::kInt, "32", "Global batch size (rows per step).", {}, 1, {}, Resume::kBlocks},
  };
  for (auto& k : optimizer_keys("train", "the regression weights")) keys.push_back(k);
  return keys;
}

class SyntheticRegressionJob final : public EpochJob {
 public:
  void setup(const dist::Comm& comm, const JobConfig& config) override {
    comm_ = &comm;
    config_ = &config;
    const int64_t n = config.get_int("data.rows"), d = config.get_int("data.features");
    const CounterRng rng(static_cast<uint64_t>(config.get_int("data.seed")), RngPurpose::kTest);
    x_.resize(n, d);
    y_.resize(n, 1);
    for (int64_t i = 0; i < n; ++i) {
      double target = 0.0;
      for (int64_t j = 0; j < d; ++j) {
        x_(i, j) = static_cast<float>(rng.normal(static_cast<uint64_t>(i * (d + 1) + j)));
        target += x_(i, j) * (0.5 + static_cast<double>(j) / static_cast<double>(d));  // w*_j
      }
      y_(i, 0) = static_cast<float>(target + config.get_real("data.noise") * rng.normal(static_cast<uint64_t>(i * (d + 1) + d)));
    }
    n_train_ = n * 6 / 10;
    n_valid_ = n * 2 / 10;
  }

  JobDescription describe() const override {
    JobDescription d;
    d.item_unit = "rows";
    d.items_per_epoch = n_train_;
    d.step_counts = 1;  // rows in the global batch
    d.headline = fmt::format("synthetic regression ({} train / {} valid / {} test rows, {} features)", n_train_,
                             n_valid_, x_.rows() - n_train_ - n_valid_, x_.cols());
    d.rule = {"valid_rmse", "test_rmse", false};
    d.summary_label = "test rmse at the best validation epoch";
    d.attrs = {{"dataset", "synthetic"}, {"metric", "rmse"}};
    return d;
  }

  void build(uint64_t seed) override {
    optimizer_.reset();
    store_ = std::make_unique<ParamStore<float>>();
    model_ = Linear<float>(*store_, "regression", x_.cols(), 1, seed);
    optimizer_ = make_optimizer(*store_, optimizer_config(*config_));
  }

  void start_seed(bool) override {
    dist::broadcast_parameters(*comm_, *store_);
    reducer_ = std::make_unique<dist::GradientAllReducer>(*comm_, store_->trainable());
  }

  int64_t plan_epoch(uint64_t seed, int64_t epoch) override {
    order_ = random_permutation(CounterRng(seed, RngPurpose::kShuffle, static_cast<uint64_t>(epoch)), n_train_);
    const int64_t b = config_->get_int("train.batch_size");
    return (n_train_ + b - 1) / b;
  }

  StepPlan prepare_step(const StepContext& ctx) override {
    const int64_t b = config_->get_int("train.batch_size");
    rows_.clear();
    for (int64_t k = ctx.step * b; k < std::min(n_train_, (ctx.step + 1) * b); ++k)
      if ((k - ctx.step * b) % comm_->size() == comm_->rank()) rows_.push_back(order_[static_cast<size_t>(k)]);
    return StepPlan{{static_cast<int64_t>(rows_.size())}, static_cast<int64_t>(rows_.size())};
  }

  StepOutcome run_step(const StepContext&, const std::vector<int64_t>& global_counts) override {
    store_->zero_grad();
    double loss = 0.0;
    if (!rows_.empty()) {
      Tape<float> tape;
      Var<float> x = tape.input(gather(x_, rows_));
      auto labels = std::make_shared<const MatF>(gather(y_, rows_));
      Var<float> l = mse(model_(tape, x), labels, static_cast<double>(global_counts[0]));
      loss = l.value()(0, 0);
      tape.backward(l);
    }
    reducer_->allreduce(1.0f);  // every rank, rows or not
    loss = comm_->sum(loss);
    optimizer_->step();
    return {true, loss};
  }

  std::map<std::string, double> evaluate() override {
    return {{"valid_rmse", rmse(n_train_, n_train_ + n_valid_)}, {"test_rmse", rmse(n_train_ + n_valid_, x_.rows())}};
  }

  const ParamStore<float>* replicated_params() const override { return store_.get(); }
  void save(CheckpointWriter& writer) override { save_model_sections(writer, *store_, *optimizer_); }
  void load(CheckpointReader& reader) override { load_model_sections(reader, *store_, *optimizer_); }

 private:
  static MatF gather(const MatF& m, const std::vector<int64_t>& rows) {
    MatF out(static_cast<int64_t>(rows.size()), m.cols());
    for (size_t i = 0; i < rows.size(); ++i) out.row(static_cast<int64_t>(i)) = m.row(rows[i]);
    return out;
  }
  // Root-mean-square error over rows [begin, end), split over the ranks and summed.
  double rmse(int64_t begin, int64_t end) const {
    std::vector<int64_t> mine;
    for (int64_t i = begin; i < end; ++i)
      if (i % comm_->size() == comm_->rank()) mine.push_back(i);
    double sq = 0.0;
    if (!mine.empty()) {
      Tape<float> tape;
      tape.set_grad_enabled(false);
      const MatF pred = model_(tape, tape.input(gather(x_, mine))).value();
      const MatF truth = gather(y_, mine);
      for (int64_t i = 0; i < pred.rows(); ++i) sq += std::pow(static_cast<double>(pred(i, 0) - truth(i, 0)), 2);
    }
    return std::sqrt(comm_->sum(sq) / static_cast<double>(end - begin));
  }

  const dist::Comm* comm_ = nullptr;
  const JobConfig* config_ = nullptr;
  MatF x_, y_;
  int64_t n_train_ = 0, n_valid_ = 0;
  std::unique_ptr<ParamStore<float>> store_;
  Linear<float> model_;
  std::unique_ptr<Optimizer<float>> optimizer_;
  std::unique_ptr<dist::GradientAllReducer> reducer_;
  std::vector<int64_t> order_, rows_;
};

}  // namespace

RELFM_REGISTER_JOB_KIND(JobKind{
    .name = "synthetic_regression",
    .doc = "Tests only: linear regression on synthetic data (proves a job kind is one file).",
    .keys = regression_keys,
    .make_epoch_job = [] { return std::make_unique<SyntheticRegressionJob>(); }});

}  // namespace relfm::jobs
