// The MolGroup grouping job (research/molgroup.md §1.4–1.6): MetaGIN and the router trained with the
// bi-level meta-gradient over rounds; each round re-initialises everything with the same seed on the
// data sets the previous round kept, scores each auxiliary data set by its mean gate over the round's
// last epoch, keeps those at most grouping.threshold and always drops at least one (grouping.forced_drop;
// without it a round that keeps everyone ends the grouping). What survives the rounds (optionally only
// its grouping.top_k best by the last round's score) is the selected group, written to output.dir/group.toml for the evaluation job.
//
// Data: one shard per data set (`relfm shard`), every rank reads all of them. Each epoch is the balanced
// plan of molgroup_plan.hpp (|target train| x #data sets slots, cut into train.batch_size steps); a step's
// slots split into one sub-batch per data set. The auxiliary data sets are placed on ranks by cost
// (place_datasets; the target stays on rank 0) and the meta step runs across ranks as molgroup.hpp says.
// Molecules without any label are left out of the sampling pools (they cannot contribute a loss).
//
// Results (results.h5, on top of the trainer's): per round /seeds/round<r>/ with the series
// valid_<metric>/test_<metric> (the target branch), gate_<name> (mean gate per epoch, NaN in warm-up),
// aux_loss, meta_loss; the table `gates` (one row per step, one column per data set of data.datasets,
// NaN where a data set is not in the step or the round); attributes datasets, scores, kept, dropped,
// forced_drop, converged. Root attributes target, survivors (what the rounds kept), selected_group (the
// survivors, or their grouping.top_k best by the last round's score), rounds_run.
#include "dist/partition.hpp"
#include "io/checkpoint.hpp"
#include "io/shard.hpp"
#include "jobs/job_kinds.hpp"
#include "jobs/molecule_groups.hpp"
#include "src/models/molgroup.hpp"
#include "src/models/molgroup_plan.hpp"
#include "src/mol/fingerprints.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <unordered_map>

namespace relfm::jobs {
namespace {

std::vector<KeySpec> molgroup_keys() {
  std::vector<KeySpec> keys = {
      {"train.rounds", ValueKind::kInt, "3", "Grouping rounds (each train.epochs long; the official code's iter_steps).", {}, 1, {},
       Resume::kBlocks},
      {"train.warmup_epochs", ValueKind::kInt, "1",
       "Epochs at the start of each round without gates: every data set trains its own branch alone.", {}, 0, {}, Resume::kBlocks},
      {"router.fingerprint", ValueKind::kString, "\"maccs\"", "Structure input of the router: MACCS keys (167 bits) or Morgan bits.",
       {"maccs", "morgan"}, {}, {}, Resume::kBlocks},
      {"router.morgan_radius", ValueKind::kInt, "2", "Morgan radius (router.fingerprint = morgan).", {}, 1, {}, Resume::kBlocks},
      {"router.morgan_bits", ValueKind::kInt, "2048", "Morgan bits (router.fingerprint = morgan).", {}, 8, {}, Resume::kBlocks},
      {"router.dim", ValueKind::kInt, "16", "Size of the task and structure embeddings (gate_emb_dim).", {}, 1, {}, Resume::kBlocks},
      {"router.mix_lambda", ValueKind::kReal, "0.1", "Weight of the structure affinity in the gate (gate_mix_alpha).", {}, 0.0, 1.0,
       Resume::kBlocks},
      {"router.temperature", ValueKind::kReal, "0.1", "Gate temperature tau.", {}, 1e-6, {}, Resume::kBlocks},
      {"router.set2set_steps", ValueKind::kInt, "1", "Set2Set processing steps.", {}, 1, {}, Resume::kBlocks},
      {"meta.method", ValueKind::kString, "\"central\"",
       "Mixed Hessian-vector product of the meta-gradient: `central` (difference of gate gradients along v, float, two extra "
       "passes, with the relus frozen at theta_T: 0.02-0.13% off the exact product on the grouping model), `forward` "
       "(one-sided, one extra pass, ~2-10x the error of central) or `dual` (forward-over-reverse in double, exact, ~12x slower).",
       {"central", "forward", "dual"}, {}, {}, Resume::kBlocks},
      {"meta.freeze_relus", ValueKind::kBool, "true",
       "central/forward: take the differences on the network with its relus frozen at theta_T. Off, the steps cross relu kinks "
       "and the meta-gradient is mostly noise at the grouping model's size (DARTS' plain difference; kept to measure that).",
       {}, {}, {}, Resume::kBlocks},
      {"meta.virtual_lr", ValueKind::kReal, "1e-3", "SGD step of the virtual update of the target's GNN (the official --lr).", {}, 0.0,
       {}, Resume::kBlocks},
      {"meta.central_epsilon", ValueKind::kReal, "3e-3", "Central difference step, divided by the norm of v.", {}, 1e-12, {}, Resume::kBlocks},
      {"meta.forward_epsilon", ValueKind::kReal, "1e-3", "One-sided difference step (meta.method = forward), divided by the norm of v.",
       {}, 1e-12, {}, Resume::kBlocks},
      {"meta.gate_grad_scale", ValueKind::kReal, "1000", "Factor on the router's meta-gradient (hard-coded 1e3 in the official code).",
       {}, 0.0, {}, Resume::kBlocks},
      {"grouping.threshold", ValueKind::kReal, "0.4", "A data set survives a round when its score (mean gate) is at most this.", {},
       0.0, 1.0, Resume::kBlocks},
      {"grouping.forced_drop", ValueKind::kBool, "true",
       "Every round removes at least one auxiliary (the official rule: when all pass, the largest score goes). false: a round "
       "in which all pass ends the grouping with them (the next round would repeat it), so a lone strong survivor stays.",
       {}, {}, {}, Resume::kBlocks},
      {"grouping.top_k", ValueKind::kInt, "0",
       "After the rounds, keep only the k survivors with the lowest score in the last round (the project page's 'Step 4: "
       "top-k affinity', which the official code does not run). 0: every survivor (the official code). With train.rounds "
       "= 1: the k best of round 1.",
       {}, 0, {}, Resume::kBlocks},
      {"debug.nan_gate_at_step", ValueKind::kInt, "0",
       "Testing aid: poison the router so that the first auxiliary data set's gate is NaN at this global step (0 = never).", {}, 0},
  };
  for (auto& k : dataset_group_keys(128)) keys.push_back(k);
  for (auto& k : gin_model_keys()) keys.push_back(k);
  for (auto& k : optimizer_keys("train", "the GNN branches")) keys.push_back(k);
  for (auto& k : optimizer_keys("decoder", "the per-data-set decoders")) keys.push_back(k);
  for (auto& k : optimizer_keys("gate", "the router")) keys.push_back(k);
  return keys;
}

class MolGroupJob final : public EpochJob {
 public:
  void setup(const dist::Comm& comm, const JobConfig& config) override {
    comm_ = &comm;
    config_ = &config;
    comm.collective([&] {
      features_ = feature_layout(config.get_string("model.features"));
      if (config.get_int_list("train.seeds").size() != 1)
        fail_input("{}: a grouping job runs one seed (train.seeds = [s]); run one job per seed", config.source());
      if (config.get_int("train.epochs") <= config.get_int("train.warmup_epochs"))
        fail_input("{}: train.epochs ({}) must exceed train.warmup_epochs ({}): a round's score is its last epoch's mean gate",
                   config.source(), config.get_int("train.epochs"), config.get_int("train.warmup_epochs"));
      fingerprint_.kind = parse_fingerprint_kind(config.get_string("router.fingerprint"));
      fingerprint_.morgan_radius = static_cast<int>(config.get_int("router.morgan_radius"));
      fingerprint_.morgan_bits = static_cast<int>(config.get_int("router.morgan_bits"));
    });
    group_.load(comm, config, features_, /*with_smiles=*/true, /*min_members=*/2);
    fingerprint_cache_.resize(group_.size());
    active_.resize(group_.size());
    std::iota(active_.begin(), active_.end(), 0);
    batch_size_ = config.get_int("train.batch_size");
    warmup_epochs_ = config.get_int("train.warmup_epochs");
    meta_.method = parse_meta_gradient_method(config.get_string("meta.method"));
    meta_.virtual_lr = config.get_real("meta.virtual_lr");
    meta_.central_epsilon = config.get_real("meta.central_epsilon");
    meta_.freeze_relus = config.get_bool("meta.freeze_relus");
    meta_.forward_epsilon = config.get_real("meta.forward_epsilon");
    meta_.gate_grad_scale = config.get_real("meta.gate_grad_scale");
  }

  JobDescription describe() const override {
    std::vector<int64_t> all(group_.size());
    std::iota(all.begin(), all.end(), 0);
    const std::vector<std::string> aux = group_.names(all, /*skip_target=*/true);
    JobDescription d = group_.describe(all, fmt::format("MolGroup grouping for {} ({}) over {} candidate{}: {}", group_.target().name,
                                                        group_.metric_label(), aux.size(), aux.size() > 1 ? "s" : "", joined(aux)));
    d.run_unit = "round";
    d.summary_label = "the target branch's test " + group_.metric_label() + " at the best validation epoch, over rounds";
    d.attrs["candidates"] = joined(aux);
    d.attrs["meta_method"] = std::string(meta_gradient_method_name(meta_.method));
    d.attrs["meta_freeze_relus"] = meta_.freeze_relus ? "true" : "false";
    return d;
  }

  int64_t num_runs(const std::vector<int64_t>&) const override { return config_->get_int("train.rounds"); }
  bool runs_independent() const override { return false; }  // each round trains the previous round's survivors
  RunSpec run_spec(int64_t index, const std::vector<int64_t>& seeds) const override {
    return {static_cast<uint64_t>(seeds.at(0)), fmt::format("round{}", index + 1)};
  }

  void build(uint64_t seed) override {
    seed_ = seed;
    gin_opt_.reset();
    decoder_opt_.reset();
    gate_opt_.reset();
    store_ = std::make_unique<ParamStore<float>>();
    router_store_ = std::make_unique<ParamStore<float>>();
    std::vector<int64_t> tasks;
    for (int64_t m : active_) tasks.push_back(group_[static_cast<size_t>(m)].shard.molecules.labels.cols());
    const GinConfig base = gin_config(*config_, features_, 1);
    model_ = std::make_unique<MetaGin<float>>(*store_, base, tasks, seed);
    if (meta_.method == MetaGradientMethod::kDual) {
      dual_store_ = std::make_unique<ParamStore<DualD>>();
      dual_model_ = std::make_unique<MetaGin<DualD>>(*dual_store_, base, tasks, seed);
    }
    RouterConfig rc;
    rc.num_datasets = static_cast<int64_t>(active_.size());
    rc.fingerprint_bits = fingerprint_.bits();
    rc.dim = config_->get_int("router.dim");
    rc.mix_lambda = config_->get_real("router.mix_lambda");
    rc.temperature = config_->get_real("router.temperature");
    rc.set2set_steps = config_->get_int("router.set2set_steps");
    router_ = std::make_unique<Router<float>>(*router_store_, rc, seed);
    std::vector<Parameter<float>*> gnn, decoders;
    for (Parameter<float>* p : store_->trainable())
      (p->name.find(".head.") != std::string::npos ? decoders : gnn).push_back(p);
    gin_opt_ = make_optimizer(gnn, optimizer_config(*config_, "train"));
    decoder_opt_ = make_optimizer(decoders, optimizer_config(*config_, "decoder"));
    gate_opt_ = make_optimizer(router_store_->trainable(), optimizer_config(*config_, "gate"));
    // A sub-batch's cost: expected atoms per step times passes (an auxiliary one runs forward/backward
    // and the gate-gradient passes; the target the virtual pass on rank 0, and L_0 where l0_rank puts it).
    const std::vector<double> cost = group_.costs(active_, 1.0, 3.0);
    owner_ = place_datasets(cost, comm_->size());
    loss_rank_ = l0_rank(cost, owner_, comm_->size());
    reset_epoch_records();
    group_.reset_state();
  }

  void start_seed(bool) override {}

  int64_t plan_epoch(uint64_t seed, int64_t epoch) override {
    epoch_ = epoch;
    return group_.plan_epoch(active_, seed, epoch, batch_size_);
  }

  StepPlan prepare_step(const StepContext& ctx) override {
    const std::vector<std::vector<int64_t>> rows = group_.step_rows(ctx.step);
    step_ = Step{};
    if (rows[0].empty()) return StepPlan{{}, 0};
    int64_t items = 0;
    step_.num_aux = 0;
    for (size_t a = 0; a < active_.size(); ++a) {
      if (rows[a].empty()) continue;
      if (a > 0) ++step_.num_aux;
      const bool mine = owner_[a] == comm_->rank() || (a == 0 && loss_rank_ == comm_->rank());
      if (!mine && a > 0) continue;
      const auto m = static_cast<size_t>(active_[a]);
      const GroupMember& d = group_[m];
      // Every rank needs the target's fingerprints (every gate compares with them); only its owner the batch.
      step_.fingerprints.push_back(std::make_unique<MatF>(fingerprints_of(m, rows[a])));
      if (!mine) continue;
      step_.batches.push_back(std::make_unique<GraphBatch>(group_.collate_rows(m, rows[a])));
      SubBatch b{static_cast<int64_t>(a), step_.batches.back().get(), d.regression, d.name};
      if (a == 0) {
        step_.target = b;
        step_.has_target = true;
      } else {
        step_.aux.push_back(b);
        step_.aux_fingerprints.push_back(step_.fingerprints.back().get());
      }
      items += static_cast<int64_t>(rows[a].size());
    }
    step_.target_fingerprints = step_.fingerprints.front().get();
    step_.ready = true;
    return StepPlan{{}, items};
  }

  StepOutcome run_step(const StepContext& ctx, const std::vector<int64_t>&) override {
    if (!step_.ready) return {};  // the same on every rank: the plan is global
    const int64_t nan_at = config_->get_int("debug.nan_gate_at_step");
    if (nan_at > 0 && ctx.global_step + 1 == nan_at && active_.size() > 1)
      router_store_->get("gate.task_embeddings").value.row(1).setConstant(std::nanf(""));
    MetaStepInputs<float> in;
    in.target = step_.has_target ? step_.target : SubBatch{0, nullptr, group_.target().regression, group_.target().name};
    in.target_fingerprints = step_.target_fingerprints;
    in.aux = step_.aux;
    in.aux_fingerprints = step_.aux_fingerprints;
    in.target_rank = 0;
    in.loss_rank = loss_rank_;
    in.num_aux = step_.num_aux;
    ForwardOptions fo;
    fo.training = true;
    fo.dropout_rng = CounterRng(seed_, RngPurpose::kDropout).derive(static_cast<uint64_t>(ctx.run_step));
    double loss = 0;
    std::vector<double> row(group_.size(), std::nan(""));
    if (epoch_ < warmup_epochs_ || step_.num_aux == 0) {
      loss = molgroup_warmup_step(*comm_, *store_, *model_, in, fo);
    } else {
      const MetaStepResult r =
          molgroup_meta_step(*comm_, *store_, *model_, *router_store_, *router_, in, meta_, fo, dual_store_.get(), dual_model_.get());
      const double m = static_cast<double>(r.datasets.size());
      loss = (r.target_loss + m * r.aux_loss) / (1 + m);
      for (size_t k = 0; k < r.datasets.size(); ++k) {
        const size_t a = static_cast<size_t>(r.datasets[k]);
        row[static_cast<size_t>(active_[a])] = r.gates[k];
        gate_sum_[a] += r.gates[k];
        gate_count_[a] += 1;
      }
      aux_loss_sum_ += r.aux_loss;
      meta_loss_sum_ += r.meta_loss;
      meta_steps_ += 1;
      if (std::isfinite(loss)) gate_opt_->step();
    }
    if (std::isfinite(loss)) {
      gin_opt_->step();
      decoder_opt_->step();
    }
    gate_rows_.insert(gate_rows_.end(), row.begin(), row.end());
    return {true, loss};
  }

  std::map<std::string, double> evaluate() override {
    sync_buffers();
    std::map<std::string, double> out = group_.evaluate_target(model_->branch(0), config_->get_int("eval.batch_size"));
    for (size_t m = 1; m < group_.size(); ++m) out["gate_" + group_[m].name] = std::nan("");
    for (size_t a = 1; a < active_.size(); ++a)
      out["gate_" + group_[static_cast<size_t>(active_[a])].name] = gate_count_[a] > 0 ? gate_sum_[a] / gate_count_[a] : std::nan("");
    out["aux_loss"] = meta_steps_ > 0 ? aux_loss_sum_ / meta_steps_ : std::nan("");
    out["meta_loss"] = meta_steps_ > 0 ? meta_loss_sum_ / meta_steps_ : std::nan("");
    last_scores_.assign(active_.size(), 0.0);
    for (size_t a = 1; a < active_.size(); ++a) last_scores_[a] = gate_count_[a] > 0 ? gate_sum_[a] / gate_count_[a] : std::nan("");
    const std::vector<double> rows = std::move(gate_rows_);
    reset_epoch_records();  // an epoch-boundary checkpoint holds no partial epoch
    gate_rows_ = rows;      // until epoch_tables() takes them
    return out;
  }

  std::map<std::string, ResultsTable> epoch_tables() override {
    ResultsTable t;
    for (size_t m = 0; m < group_.size(); ++m) t.columns.push_back(group_[m].name);
    t.values = std::move(gate_rows_);
    gate_rows_.clear();
    return {{"gates", std::move(t)}};
  }

  RunConclusion finish_run(int64_t index) override {
    std::vector<std::string> scores;
    const std::vector<std::string> names = group_.names(active_);
    const RoundDecision d = filter_round(active_, last_scores_, names, config_->get_real("grouping.threshold"),
                                         config_->get_bool("grouping.forced_drop"));
    const bool converged = d.dropped.empty();  // only without the forced drop (or with no auxiliary left)
    for (size_t a = 1; a < active_.size(); ++a) scores.push_back(fmt::format("{}={:.4f}", names[a], last_scores_[a]));
    auto names_of = [&](const std::vector<int64_t>& ids, bool skip_target) { return group_.names(ids, skip_target); };
    RunConclusion c;
    c.run_attrs = {{"datasets", joined(names)},
                   {"scores", joined(scores)},
                   {"kept", joined(names_of(d.keep, true))},
                   {"dropped", joined(names_of(d.dropped, false))},
                   {"forced_drop", d.forced_drop ? "yes" : "no"},
                   {"converged", converged ? "yes" : "no"}};
    const std::vector<int64_t> round = active_;
    active_ = d.keep;
    c.more_runs = !converged && active_.size() > 1 && index + 1 < config_->get_int("train.rounds");
    c.job_attrs["survivors"] = joined(names_of(active_, true));
    if (!c.more_runs) active_ = top_k_affinity(round, last_scores_, active_, config_->get_int("grouping.top_k"));
    c.job_attrs["selected_group"] = joined(names_of(active_, true));
    c.job_attrs["rounds_run"] = std::to_string(index + 1);
    if (!c.more_runs && comm_->is_root()) write_group_file(names_of(active_, false), index + 1);
    return c;
  }

  void save_job_state(StateSection& st) const override {
    st.arrays["active"] = std::vector<double>(active_.begin(), active_.end());
  }
  void load_job_state(const StateSection& st) override {
    if (!st.arrays.count("active")) return;
    active_.clear();
    for (double m : st.get_array("active")) active_.push_back(static_cast<int64_t>(m));
  }

  void save(CheckpointWriter& writer) override {
    sync_buffers();
    writer.add_params("model", *store_);
    writer.add_params("router", *router_store_);
    writer.add_optimizer("optimizer.gnn", *gin_opt_);
    writer.add_optimizer("optimizer.decoder", *decoder_opt_);
    writer.add_optimizer("optimizer.gate", *gate_opt_);
    StateSection st;  // the epoch so far, for a resume in the middle of it
    st.arrays["gate_rows"] = gate_rows_;
    st.arrays["gate_sum"] = gate_sum_;
    st.arrays["gate_count"] = gate_count_;
    group_.save_state(st);
    st.reals["aux_loss_sum"] = aux_loss_sum_;
    st.reals["meta_loss_sum"] = meta_loss_sum_;
    st.ints["meta_steps"] = meta_steps_;
    writer.add_state("molgroup", std::move(st));
  }
  void load(CheckpointReader& reader) override {
    reader.read_params("model", *store_);
    reader.read_params("router", *router_store_);
    reader.read_optimizer("optimizer.gnn", *gin_opt_);
    reader.read_optimizer("optimizer.decoder", *decoder_opt_);
    reader.read_optimizer("optimizer.gate", *gate_opt_);
    const StateSection st = reader.read_state("molgroup");
    gate_rows_ = st.get_array("gate_rows");
    gate_sum_ = st.get_array("gate_sum");
    gate_count_ = st.get_array("gate_count");
    group_.load_state(st);
    aux_loss_sum_ = st.get_real("aux_loss_sum");
    meta_loss_sum_ = st.get_real("meta_loss_sum");
    meta_steps_ = st.get_int("meta_steps");
  }

  std::map<std::string, int64_t> rank_counts() const override {
    int64_t held = 0;
    for (int o : owner_) held += o == comm_->rank() ? 1 : 0;
    return {{"rank_datasets", held}};
  }

 private:
  struct Step {
    bool ready = false, has_target = false;
    int64_t num_aux = 0;
    SubBatch target;
    std::vector<SubBatch> aux;
    std::vector<const MatF*> aux_fingerprints;
    const MatF* target_fingerprints = nullptr;
    std::vector<std::unique_ptr<GraphBatch>> batches;
    std::vector<std::unique_ptr<MatF>> fingerprints;
  };

  // The fingerprints of the given shard rows, computed once per molecule and kept.
  MatF fingerprints_of(size_t member, const std::vector<int64_t>& rows) {
    const GroupMember& d = group_[member];
    auto& cache = fingerprint_cache_[member];
    std::vector<std::string> missing;
    std::vector<int64_t> missing_rows;
    for (int64_t r : rows)
      if (!cache.count(r) && std::find(missing_rows.begin(), missing_rows.end(), r) == missing_rows.end()) {
        missing.push_back(d.shard.smiles[static_cast<size_t>(r)]);
        missing_rows.push_back(r);
      }
    if (!missing.empty()) {
      const MatF fresh = fingerprints(missing, fingerprint_);
      for (size_t i = 0; i < missing_rows.size(); ++i)
        cache[missing_rows[i]] = std::vector<float>(fresh.row(static_cast<int64_t>(i)).data(),
                                                                  fresh.row(static_cast<int64_t>(i)).data() + fresh.cols());
    }
    MatF out(static_cast<int64_t>(rows.size()), fingerprint_.bits());
    for (size_t i = 0; i < rows.size(); ++i) {
      const std::vector<float>& bits = cache.at(rows[i]);
      std::copy(bits.begin(), bits.end(), out.row(static_cast<int64_t>(i)).data());
    }
    return out;
  }

  // Running statistics move only on the rank that runs a data set's passes: every branch's buffers are
  // taken from there before evaluation and checkpoints, so all replicas agree.
  // The target's statistics move in L_0's pass (the virtual pass leaves them), on the loss rank.
  void sync_buffers() {
    for (size_t a = 0; a < active_.size(); ++a) {
      const std::string prefix = MetaGin<float>::prefix(static_cast<int64_t>(a)) + ".";
      const int from = a == 0 ? loss_rank_ : owner_[a];
      for (Parameter<float>* p : store_->all())
        if (!p->trainable && p->name.rfind(prefix, 0) == 0)
          comm_->broadcast(p->value.data(), static_cast<size_t>(p->value.size()), from);
    }
  }

  void reset_epoch_records() {
    gate_rows_.clear();
    gate_sum_.assign(active_.size(), 0.0);
    gate_count_.assign(active_.size(), 0.0);
    aux_loss_sum_ = meta_loss_sum_ = 0;
    meta_steps_ = 0;
  }

  void write_group_file(const std::vector<std::string>& group, int64_t rounds) const {
    const std::string dir = config_->get_string("output.dir");
    const std::string path = dir + "/group.toml", tmp = path + ".tmp";
    {
      std::ofstream f(tmp);
      const int64_t top_k = config_->get_int("grouping.top_k");
      f << "# MolGroup's selected group for target '" << group.front() << "' after " << rounds << " round(s)"
        << (top_k > 0 ? fmt::format(", at most the {} best by the last round's score", top_k) : std::string())
        << " (results.h5 has the scores). Train it with the evaluation job:\n"
        << "#   relfm train <job file> --set data.datasets='[...]'\n[data]\ndatasets = [";
      for (size_t i = 0; i < group.size(); ++i) f << (i ? ", " : "") << '"' << group[i] << '"';
      f << "]\n";
      if (!f) fail_input("cannot write '{}'", tmp);
    }
    std::filesystem::rename(tmp, path);
  }

  const dist::Comm* comm_ = nullptr;
  const JobConfig* config_ = nullptr;
  FeatureLayout features_;
  DatasetGroup group_;
  FingerprintSpec fingerprint_;
  std::vector<std::unordered_map<int64_t, std::vector<float>>> fingerprint_cache_;  // per data set: shard row -> bits
  std::vector<int64_t> active_;  // data sets (indices into group_) of the current round; [0] = target
  std::vector<int> owner_;       // per active data set
  int loss_rank_ = 0;            // computes L_0 (l0_rank)
  int64_t batch_size_ = 0, warmup_epochs_ = 0, epoch_ = 0;
  MetaStepConfig meta_;
  uint64_t seed_ = 0;
  std::unique_ptr<ParamStore<float>> store_, router_store_;
  std::unique_ptr<MetaGin<float>> model_;
  std::unique_ptr<Router<float>> router_;
  std::unique_ptr<ParamStore<DualD>> dual_store_;
  std::unique_ptr<MetaGin<DualD>> dual_model_;
  std::unique_ptr<Optimizer<float>> gin_opt_, decoder_opt_, gate_opt_;
  Step step_;
  std::vector<double> gate_rows_, gate_sum_, gate_count_, last_scores_;
  double aux_loss_sum_ = 0, meta_loss_sum_ = 0;
  int64_t meta_steps_ = 0;
};

}  // namespace

RELFM_REGISTER_JOB_KIND(JobKind{
    .name = "molgroup",
    .doc = "MolGroup grouping: MetaGIN + router with bi-level meta-gradients over rounds; writes the selected group.",
    .keys = molgroup_keys,
    .make_epoch_job = [] { return std::make_unique<MolGroupJob>(); }});

}  // namespace relfm::jobs
