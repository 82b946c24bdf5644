#include "jobs/train_gin.hpp"

#include "dist/data_parallel.hpp"
#include "dist/partition.hpp"
#include "dist/runtime.hpp"
#include "io/checkpoint.hpp"
#include "io/results.hpp"
#include "io/shard.hpp"
#include "jobs/progress.hpp"
#include "src/metrics/metrics.hpp"
#include "src/models/gin.hpp"
#include "src/mol/featurize.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <numeric>

namespace relfm::jobs {

const Schema& train_schema() {
  static const Schema schema({
      {"job.name", ValueKind::kString, "\"\"", "Name shown in logs and stored in results; empty = the job file's stem.", {}},
      {"data.shard", ValueKind::kString, "", "Molecule shard (HDF5) written by `relfm shard`; relative paths are from the working directory.", {}},
      {"model.name", ValueKind::kString, "\"gin\"", "Model family.", {"gin"}},
      {"model.layers", ValueKind::kInt, "5", "Number of GIN layers.", {}},
      {"model.hidden", ValueKind::kInt, "300", "Hidden width (the GIN MLP is hidden -> 2*hidden -> hidden).", {}},
      {"model.dropout", ValueKind::kReal, "0.5", "Dropout after every layer.", {}},
      {"model.pool", ValueKind::kString, "\"mean\"", "Graph readout.", {"mean", "sum"}},
      {"model.features", ValueKind::kString, "\"simple\"",
       "Atom/bond features: `simple` = atomic number + chirality, bond type + stereo (MolGroup's default); `full` = all 9 + 3 OGB features.",
       {"simple", "full"}},
      {"train.epochs", ValueKind::kInt, "50", "Epochs per seed.", {}},
      {"train.batch_size", ValueKind::kInt, "64", "Global batch size (molecules per step, summed over ranks).", {}},
      {"train.seeds", ValueKind::kIntList, "[0]", "Seeds; each is an independent run (initialisation, order, dropout).", {}},
      {"train.optimizer", ValueKind::kString, "\"adam\"", "Optimiser.", {"adam", "adamw", "sgd"}},
      {"train.lr", ValueKind::kReal, "1e-3", "Learning rate.", {}},
      {"train.weight_decay", ValueKind::kReal, "0.0", "Weight decay (L2 for adam/sgd, decoupled for adamw).", {}},
      {"train.momentum", ValueKind::kReal, "0.0", "Momentum (sgd only).", {}},
      {"eval.batch_size", ValueKind::kInt, "1024", "Molecules per forward pass when evaluating.", {}},
      {"output.dir", ValueKind::kString, "", "Directory for results.h5 and checkpoint.h5 (created if missing).", {}},
      {"output.progress", ValueKind::kString, "\"auto\"",
       "Rank 0's progress display: `bar` redraws in place, `lines` prints a line per epoch, `auto` picks bar on a terminal.",
       {"auto", "bar", "lines", "none"}},
      {"checkpoint.every_epochs", ValueKind::kInt, "1", "Checkpoint after every N epochs (and always at the end); 0 disables periodic checkpoints.", {}},
      {"debug.stop_after_steps", ValueKind::kInt, "0", "Testing aid: behave as if SIGUSR1 arrived after this many global steps (0 = never).", {}},
      {"debug.crash_in_checkpoint", ValueKind::kInt, "0", "Testing aid: SIGKILL rank 0 in the middle of writing the N-th checkpoint (0 = never).", {}},
      {"debug.nan_loss_at_step", ValueKind::kInt, "0", "Testing aid: make the loss NaN at this global step (0 = never), to exercise the divergence stop.", {}},
      {"debug.check_replicas", ValueKind::kBool, "false", "Verify after every epoch that all ranks hold bit-identical parameters.", {}},
      {"debug.profile", ValueKind::kBool, "false", "Print time per op kind (rank 0) at the end.", {}},
  });
  return schema;
}

namespace {

struct FeatureLayout {
  std::vector<int> atom_columns, bond_columns;
  std::vector<int32_t> atom_sizes, bond_sizes;
};

FeatureLayout feature_layout(const std::string& name) {
  const FeatureSet set = parse_feature_set(name);
  FeatureLayout f;
  for (int c : atom_feature_columns(set)) f.atom_columns.push_back(c);
  for (int c : bond_feature_columns(set)) f.bond_columns.push_back(c);
  for (int32_t s : atom_feature_dims(set)) f.atom_sizes.push_back(s);
  for (int32_t s : bond_feature_dims(set)) f.bond_sizes.push_back(s);
  return f;
}

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
    const ShardInfo& info = d.shard.info;
    if (info.task_type != "classification" && info.task_type != "regression")
      fail_input("'{}': unknown task_type '{}'", path, info.task_type);
    d.classification = info.task_type == "classification";
    d.metric = parse_metric(info.metric);
    const MoleculeSet& set = d.shard.molecules;
    // Feature values must fit the embedding tables; say so once, naming the shard, rather than mid-training.
    auto check = [&](const FeatureMat& m, const std::vector<int>& cols, const std::vector<int32_t>& sizes, const char* what) {
      for (size_t c = 0; c < cols.size(); ++c) {
        if (cols[c] >= m.cols()) fail_input("'{}': {} features have {} columns, model needs column {}", path, what, m.cols(), cols[c]);
        for (int64_t i = 0; i < m.rows(); ++i)
          if (m(i, cols[c]) >= sizes[c])
            fail_input("'{}': {} {} has feature {} = {}, outside the model's table of {}", path, what, i, cols[c],
                       static_cast<int>(m(i, cols[c])), sizes[c]);
      }
    };
    check(set.atom_features, features.atom_columns, features.atom_sizes, "atom");
    check(set.edge_features, features.bond_columns, features.bond_sizes, "edge");
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
std::vector<std::vector<int64_t>> plan_epoch(const Data& d, int64_t batch_size, uint64_t seed, int64_t epoch) {
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

MatF predict(const Gin<float>& model, const MoleculeSet& set, const FeatureLayout& f, int64_t eval_batch) {
  MatF out(set.size(), model.config().num_tasks);
  for (int64_t begin = 0; begin < set.size(); begin += eval_batch) {
    const int64_t end = std::min(set.size(), begin + eval_batch);
    std::vector<int64_t> positions(static_cast<size_t>(end - begin));
    std::iota(positions.begin(), positions.end(), begin);
    GraphBatch batch = collate(set, positions, f.atom_columns, f.bond_columns);
    Tape<float> tape;
    tape.set_grad_enabled(false);
    ForwardOptions options;
    options.training = false;
    out.middleRows(begin, end - begin) = model.forward(tape, batch, options).value();
  }
  return out;
}

// The split's metric over all ranks' predictions (every rank computes the same value).
double evaluate(const dist::Comm& comm, const Gin<float>& model, const Data& d, const SplitPart& part,
                const FeatureLayout& f, int64_t eval_batch) {
  const MatF local = predict(model, part.local, f, eval_batch);
  const std::vector<int64_t> ids = comm.allgatherv(part.local.ids);
  const std::vector<float> values = comm.allgatherv(std::vector<float>(local.data(), local.data() + local.size()));
  const int64_t t = local.cols();
  std::vector<size_t> order(ids.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ids[a] < ids[b]; });
  MatF pred(static_cast<int64_t>(ids.size()), t), labels(static_cast<int64_t>(ids.size()), t);
  for (size_t r = 0; r < order.size(); ++r) {
    const size_t k = order[r];
    for (int64_t j = 0; j < t; ++j) pred(static_cast<int64_t>(r), j) = values[k * static_cast<size_t>(t) + static_cast<size_t>(j)];
    labels.row(static_cast<int64_t>(r)) = d.shard.molecules.labels.row(ids[k]);
  }
  return evaluate_metric(d.metric, pred, labels).value;
}

bool is_better(double candidate, double best, bool higher) {
  if (std::isnan(candidate)) return false;
  if (std::isnan(best)) return true;
  return higher ? candidate > best : candidate < best;
}

// ---- checkpoint <-> results history ----------------------------------------------------------------

void save_history(const ResultsDocument& doc, TrainerState& st) {
  st.ints["num_seed_records"] = static_cast<int64_t>(doc.seeds.size());
  for (size_t i = 0; i < doc.seeds.size(); ++i) {
    const SeedResults& s = doc.seeds[i];
    const std::string p = "seed" + std::to_string(i) + "_";
    st.ints[p + "seed"] = s.seed;
    st.ints[p + "completed"] = s.completed;
    st.ints[p + "best_epoch"] = s.best_epoch;
    st.reals[p + "best_valid"] = s.best_valid;
    st.reals[p + "test_at_best"] = s.test_at_best;
    st.arrays[p + "epoch"] = std::vector<double>(s.epoch.begin(), s.epoch.end());
    st.arrays[p + "train_loss"] = s.train_loss;
    st.arrays[p + "valid_metric"] = s.valid_metric;
    st.arrays[p + "test_metric"] = s.test_metric;
    st.arrays[p + "train_seconds"] = s.train_seconds;
    st.arrays[p + "eval_seconds"] = s.eval_seconds;
    st.arrays[p + "molecules_per_second"] = s.molecules_per_second;
    st.arrays[p + "rank_train_seconds"] = s.rank_train_seconds;
    st.arrays[p + "rank_allreduce_seconds"] = s.rank_allreduce_seconds;
  }
}

void load_history(const TrainerState& st, ResultsDocument& doc) {
  doc.seeds.clear();
  const int64_t n = st.get_int("num_seed_records");
  for (int64_t i = 0; i < n; ++i) {
    const std::string p = "seed" + std::to_string(i) + "_";
    SeedResults s;
    s.seed = st.get_int(p + "seed");
    s.completed = st.get_int(p + "completed") != 0;
    s.best_epoch = st.get_int(p + "best_epoch");
    s.best_valid = st.get_real(p + "best_valid");
    s.test_at_best = st.get_real(p + "test_at_best");
    for (double e : st.get_array(p + "epoch")) s.epoch.push_back(static_cast<int64_t>(e));
    s.train_loss = st.get_array(p + "train_loss");
    s.valid_metric = st.get_array(p + "valid_metric");
    s.test_metric = st.get_array(p + "test_metric");
    s.train_seconds = st.get_array(p + "train_seconds");
    s.eval_seconds = st.get_array(p + "eval_seconds");
    s.molecules_per_second = st.get_array(p + "molecules_per_second");
    s.rank_train_seconds = st.get_array(p + "rank_train_seconds");
    s.rank_allreduce_seconds = st.get_array(p + "rank_allreduce_seconds");
    doc.seeds.push_back(std::move(s));
  }
}

// Keys whose change makes a checkpoint meaningless for this job.
void check_resumable(const std::string& checkpoint_path, const std::string& saved_config, const JobConfig& now) {
  const JobConfig saved = JobConfig::parse(saved_config, checkpoint_path + " /config", {}, train_schema());
  for (const KeySpec& spec : train_schema().keys()) {
    const std::string& k = spec.key;
    const bool relevant = k.rfind("data.", 0) == 0 || k.rfind("model.", 0) == 0 ||
                          (k.rfind("train.", 0) == 0 && k != "train.epochs");
    if (!relevant) continue;
    auto text = [&](const JobConfig& c) {
      switch (spec.kind) {
        case ValueKind::kBool: return std::string(c.get_bool(k) ? "true" : "false");
        case ValueKind::kInt: return std::to_string(c.get_int(k));
        case ValueKind::kReal: return fmt::format("{}", c.get_real(k));
        case ValueKind::kString: return c.get_string(k);
        case ValueKind::kIntList: {
          std::string s;
          for (int64_t v : c.get_int_list(k)) s += std::to_string(v) + " ";
          return s;
        }
      }
      return std::string();
    };
    if (text(saved) != text(now))
      fail_input("'{}' was written with {} = {}, but the job now has {}: resume with the same settings, "
                 "or start afresh with --resume never (or another output.dir)",
                 checkpoint_path, k, text(saved), text(now));
  }
}

std::unique_ptr<Gin<float>> build_gin(ParamStore<float>& store, const JobConfig& config, const FeatureLayout& features,
                                     int64_t num_tasks, uint64_t seed) {
  GinConfig gc;
  gc.num_layers = config.get_int("model.layers");
  gc.hidden = config.get_int("model.hidden");
  gc.dropout = config.get_real("model.dropout");
  gc.pool = config.get_string("model.pool");
  gc.atom_table_sizes = features.atom_sizes;
  gc.bond_table_sizes = features.bond_sizes;
  gc.num_tasks = num_tasks;
  return std::make_unique<Gin<float>>(store, gc, seed);
}

OptimizerConfig optimizer_config(const JobConfig& config) {
  OptimizerConfig oc;
  oc.name = config.get_string("train.optimizer");
  oc.lr = config.get_real("train.lr");
  oc.weight_decay = config.get_real("train.weight_decay");
  oc.momentum = config.get_real("train.momentum");
  return oc;
}

}  // namespace

int run_train(const dist::Comm& comm, const JobConfig& config, const TrainOptions& options) {
  const auto job_start = std::chrono::steady_clock::now();
  const FeatureLayout features = comm.collective([&] { return feature_layout(config.get_string("model.features")); });
  const int64_t epochs = config.get_int("train.epochs");
  const int64_t batch_size = config.get_int("train.batch_size");
  const int64_t eval_batch = config.get_int("eval.batch_size");
  const std::vector<int64_t> seeds = config.get_int_list("train.seeds");
  const std::string out_dir = config.get_string("output.dir");
  const std::string checkpoint_path = out_dir + "/checkpoint.h5";
  const std::string results_path = out_dir + "/results.h5";
  comm.collective([&] {
    if (epochs < 1) fail_input("{}: train.epochs must be at least 1", config.source());
    if (batch_size < 1) fail_input("{}: train.batch_size must be at least 1", config.source());
    if (eval_batch < 1) fail_input("{}: eval.batch_size must be at least 1", config.source());
    if (seeds.empty()) fail_input("{}: train.seeds is empty", config.source());
    if (config.get_int("checkpoint.every_epochs") < 0) fail_input("{}: checkpoint.every_epochs must be >= 0", config.source());
    if (comm.is_root()) {
      std::error_code ec;
      std::filesystem::create_directories(out_dir, ec);
      if (ec) fail_input("cannot create output.dir '{}': {}", out_dir, ec.message());
    }
  });
  comm.barrier();

  const ProgressMode mode =
      options.quiet ? ProgressMode::kNone
                    : parse_progress_mode(config.get_string("output.progress"), comm.is_root(), dist::stderr_is_terminal());
  Progress progress(mode, epochs, static_cast<int64_t>(seeds.size()));
  const std::string job_name = config.get_string("job.name").empty()
                                   ? std::filesystem::path(config.source()).stem().string()
                                   : config.get_string("job.name");

  Data data = load_data(comm, config, features);
  const bool higher = higher_is_better(data.metric);
  const std::string metric_label(metric_name(data.metric));
  progress.message(fmt::format("relfm train '{}': {} ({}, {} molecules: {} train / {} valid / {} test), {} rank{}, "
                               "{} seed{}, {} epochs",
                               job_name, data.shard.info.dataset, metric_label, data.shard.molecules.size(),
                               data.train.global_count, data.valid.global_count, data.test.global_count, comm.size(),
                               comm.size() > 1 ? "s" : "", seeds.size(), seeds.size() > 1 ? "s" : "", epochs));

  ResultsDocument doc;
  doc.job = job_name;
  doc.dataset = data.shard.info.dataset;
  doc.task_type = data.shard.info.task_type;
  doc.metric = metric_label;
  doc.higher_is_better = higher;
  doc.world_size = comm.size();
  doc.config = config.to_toml();

  // ---- resume? ----
  TrainerState resume_state;
  CheckpointMeta resume_meta;
  bool resuming = false;
  const bool checkpoint_exists = comm.collective([&] { return std::filesystem::exists(checkpoint_path); });
  if (options.resume == ResumeMode::kRequire && !checkpoint_exists)
    throw dist::CollectiveError(fmt::format("--resume require: no checkpoint at '{}'", checkpoint_path),
                                dist::CollectiveError::Kind::kInput, 0);
  if (options.resume != ResumeMode::kNever && checkpoint_exists) {
    read_checkpoint_header(checkpoint_path, comm, resume_state, resume_meta);
    comm.collective([&] {
      check_resumable(checkpoint_path, resume_meta.config, config);
      const int64_t saved_world = resume_meta.world_size;
      if (saved_world != comm.size() && resume_state.get_int("step_in_epoch") != 0)
        fail_input("'{}' was written by {} ranks in the middle of an epoch; this run has {}. The data partition and "
                   "batch order depend on the rank count, so resume with {} ranks (or from an epoch-boundary "
                   "checkpoint, or start afresh with --resume never)",
                   checkpoint_path, saved_world, comm.size(), saved_world);
    });
    if (resume_meta.world_size != comm.size())
      progress.message(fmt::format("note: '{}' was written by {} ranks; continuing on {} from an epoch boundary "
                                   "(results are valid but not bit-identical to an uninterrupted run)",
                                   checkpoint_path, resume_meta.world_size, comm.size()));
    load_history(resume_state, doc);
    resuming = true;
  }

  int64_t checkpoints_written = 0;
  int64_t global_step_total = resuming ? resume_state.get_int("global_step") : 0;
  OpProfile profile;
  const bool profiling = config.get_bool("debug.profile");
  const int64_t start_seed_index = resuming ? resume_state.get_int("seed_index") : 0;
  if (resuming)
    progress.set_epochs_left((static_cast<int64_t>(seeds.size()) - start_seed_index) * epochs -
                             (resume_state.get_int("seed_started") ? resume_state.get_int("epoch") : 0));

  for (int64_t si = start_seed_index; si < static_cast<int64_t>(seeds.size()); ++si) {
    const uint64_t seed = static_cast<uint64_t>(seeds[si]);
    ParamStore<float> store;
    const std::unique_ptr<Gin<float>> model_ptr = comm.collective(
        [&] { return build_gin(store, config, features, data.shard.molecules.labels.cols(), seed); });
    const Gin<float>& model = *model_ptr;
    auto optimizer = comm.collective([&] { return make_optimizer(store, optimizer_config(config)); });

    int64_t start_epoch = 0, start_step = 0;
    double epoch_loss_sum = 0.0;
    int64_t epoch_loss_steps = 0;
    bool seed_resumed = false;
    if (resuming && si == start_seed_index && resume_state.get_int("seed_started") != 0) {
      TrainerState st;
      CheckpointMeta meta;
      read_checkpoint(checkpoint_path, comm, store, *optimizer, st, meta);
      start_epoch = st.get_int("epoch");
      start_step = st.get_int("step_in_epoch");
      epoch_loss_sum = st.get_real("epoch_loss_sum");
      epoch_loss_steps = st.get_int("epoch_loss_steps");
      if (meta.world_size != comm.size()) start_step = 0;  // only allowed at an epoch boundary (checked above)
      seed_resumed = true;
    }
    if (!seed_resumed) {
      doc.seeds.resize(static_cast<size_t>(si));
      SeedResults fresh;
      fresh.seed = seeds[si];
      fresh.best_valid = std::nan("");
      doc.seeds.push_back(fresh);
    }
    SeedResults& rec = doc.seeds[static_cast<size_t>(si)];
    rec.rank_molecules = data.rank_train_molecules;
    rec.rank_atoms = data.rank_train_atoms;
    dist::broadcast_parameters(comm, store, 0, /*include_buffers=*/!seed_resumed);
    dist::GradientAllReducer reducer(comm, store.trainable());

    const CounterRng dropout_base(seed, RngPurpose::kDropout);
    const auto checkpoint_state = [&](int64_t epoch, int64_t step_in_epoch) {
      TrainerState st;
      st.ints["seed_index"] = si;
      st.ints["seed_started"] = 1;
      st.ints["epoch"] = epoch;
      st.ints["step_in_epoch"] = step_in_epoch;
      st.ints["global_step"] = global_step_total;
      st.ints["epoch_loss_steps"] = epoch_loss_steps;
      st.reals["epoch_loss_sum"] = epoch_loss_sum;
      save_history(doc, st);
      return st;
    };
    const auto save_checkpoint = [&](int64_t epoch, int64_t step_in_epoch) {
      ++checkpoints_written;
      std::function<void()> crash;
      if (config.get_int("debug.crash_in_checkpoint") == checkpoints_written && comm.is_root())
        crash = [] { std::raise(SIGKILL); };
      write_checkpoint(checkpoint_path, comm, store, *optimizer, checkpoint_state(epoch, step_in_epoch),
                       CheckpointMeta{comm.size(), config.to_toml()}, crash);
    };

    for (int64_t epoch = start_epoch; epoch < epochs; ++epoch) {
      const auto batches = plan_epoch(data, batch_size, seed, epoch);
      const int64_t steps = static_cast<int64_t>(batches.size());
      progress.begin_epoch(seeds[si], epoch + 1, steps, data.train.global_count);
      const double reduce_before = reducer.total_seconds();
      double train_seconds = 0.0;
      int64_t molecules_seen = 0;
      const int64_t first_step = epoch == start_epoch ? start_step : 0;
      bool stop_at_epoch_end = false;
      if (first_step == 0) {
        epoch_loss_sum = 0.0;
        epoch_loss_steps = 0;
      }
      for (int64_t step = first_step; step < steps; ++step) {
        const auto t0 = std::chrono::steady_clock::now();
        const std::vector<int64_t>& local = batches[static_cast<size_t>(step)];
        GraphBatch batch;
        int64_t local_labelled = 0;
        if (!local.empty()) {
          batch = collate(data.train.local, local, features.atom_columns, features.bond_columns);
          local_labelled = count_labelled(*batch.labels);
        }
        const int64_t debug_stop = config.get_int("debug.stop_after_steps");
        const bool stop_here = dist::stop_requested() || (debug_stop > 0 && global_step_total + 1 == debug_stop);
        int64_t agree[3] = {local_labelled, stop_here ? 1 : 0, static_cast<int64_t>(local.size())};
        comm.allreduce_sum(agree, 3);
        const int64_t labelled = agree[0];
        double loss_value = 0.0;
        store.zero_grad();
        if (labelled > 0) {
          if (!local.empty()) {
            Tape<float> tape;
            if (profiling) tape.set_profile(&profile);
            ForwardOptions fo;
            fo.training = true;
            fo.dropout_rng = dropout_base.derive(static_cast<uint64_t>(global_step_total)).derive(static_cast<uint64_t>(comm.rank()));
            Var<float> logits = model.forward(tape, batch, fo);
            Var<float> loss = data.classification ? bce_with_logits(logits, batch.labels, static_cast<double>(labelled))
                                                  : mse(logits, batch.labels, static_cast<double>(labelled));
            loss_value = loss.value()(0, 0);
            tape.backward(loss);
          }
          reducer.allreduce(1.0f);
          loss_value = comm.sum(loss_value);
          if (config.get_int("debug.nan_loss_at_step") == global_step_total + 1) loss_value = std::nan("");
          if (!std::isfinite(loss_value))
            throw dist::CollectiveError(
                fmt::format("training diverged: the loss is {} at seed {}, epoch {}, step {}. Nothing was written "
                            "after the last good checkpoint{}; lower train.lr or check the labels",
                            loss_value, seeds[si], epoch + 1, step + 1,
                            checkpoints_written > 0 || resuming ? " ('" + checkpoint_path + "')" : " (none yet)"),
                dist::CollectiveError::Kind::kDiverged, 0);
          optimizer->step();
          epoch_loss_sum += loss_value;
          ++epoch_loss_steps;
        }
        ++global_step_total;
        train_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        molecules_seen += agree[2];
        progress.update(step + 1, molecules_seen, epoch_loss_steps > 0 ? epoch_loss_sum / epoch_loss_steps : 0.0);
        if (agree[1] > 0 && step + 1 == steps) {
          stop_at_epoch_end = true;  // finish this epoch (evaluation, epoch-boundary checkpoint) first
          break;
        }
        if (agree[1] > 0) {
          // Stop requested (signal or debug): checkpoint after this step and leave for a requeue.
          save_checkpoint(epoch, step + 1);
          write_results(results_path, comm, doc);
          progress.end_epoch(fmt::format("stopped after global step {} (seed {}, epoch {}, step {}/{}); checkpoint "
                                         "'{}'; run the same command again to resume",
                                         global_step_total, seeds[si], epoch + 1, step + 1, steps, checkpoint_path));
          return dist::kExitCheckpointed;
        }
      }
      dist::average_buffers(comm, store);  // one set of BatchNorm statistics for evaluation and checkpoints
      const auto e0 = std::chrono::steady_clock::now();
      const double valid = evaluate(comm, model, data, data.valid, features, eval_batch);
      const double test = evaluate(comm, model, data, data.test, features, eval_batch);
      const double eval_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - e0).count();
      const std::vector<double> rank_train = comm.allgather(train_seconds);
      const std::vector<double> rank_reduce = comm.allgather(reducer.total_seconds() - reduce_before);
      const double slowest = *std::max_element(rank_train.begin(), rank_train.end());

      rec.epoch.push_back(epoch + 1);
      rec.train_loss.push_back(epoch_loss_steps > 0 ? epoch_loss_sum / static_cast<double>(epoch_loss_steps) : std::nan(""));
      rec.valid_metric.push_back(valid);
      rec.test_metric.push_back(test);
      rec.train_seconds.push_back(slowest);
      rec.eval_seconds.push_back(eval_seconds);
      rec.molecules_per_second.push_back(slowest > 0 ? static_cast<double>(molecules_seen) / slowest : 0.0);
      rec.rank_train_seconds.insert(rec.rank_train_seconds.end(), rank_train.begin(), rank_train.end());
      rec.rank_allreduce_seconds.insert(rec.rank_allreduce_seconds.end(), rank_reduce.begin(), rank_reduce.end());
      if (is_better(valid, rec.best_valid, higher)) {
        rec.best_valid = valid;
        rec.best_epoch = epoch + 1;
        rec.test_at_best = test;
      }
      if (epoch + 1 == epochs) rec.completed = true;
      progress.end_epoch(fmt::format("seed {} epoch {:>3}/{}  loss {:.4f}  valid {} {:.4f}  test {:.4f}  ({:.0f} mol/s, "
                                     "all-reduce {:.1f}%)",
                                     seeds[si], epoch + 1, epochs, rec.train_loss.back(), metric_label, valid, test,
                                     rec.molecules_per_second.back(),
                                     slowest > 0 ? 100.0 * rank_reduce[0] / rank_train[0] : 0.0));
      if (config.get_bool("debug.check_replicas")) {
        const std::vector<uint64_t> prints = comm.allgather(dist::parameter_fingerprint(store));
        if (std::adjacent_find(prints.begin(), prints.end(), std::not_equal_to<>()) != prints.end())
          throw dist::CollectiveError("replicas diverged: ranks hold different parameters after epoch " +
                                          std::to_string(epoch + 1),
                                      dist::CollectiveError::Kind::kInternal, 0);
      }
      epoch_loss_sum = 0.0;
      epoch_loss_steps = 0;
      const int64_t every = config.get_int("checkpoint.every_epochs");
      const bool last_of_job = epoch + 1 == epochs && si + 1 == static_cast<int64_t>(seeds.size());
      if ((every > 0 && (epoch + 1) % every == 0) || last_of_job || stop_at_epoch_end) {
        // Position after this epoch: the next epoch of this seed, or the first epoch of the next seed.
        if (epoch + 1 == epochs) {
          TrainerState st = checkpoint_state(0, 0);
          st.ints["seed_index"] = si + 1;
          st.ints["seed_started"] = 0;  // the next seed starts from a fresh initialisation
          ++checkpoints_written;
          std::function<void()> crash;
          if (config.get_int("debug.crash_in_checkpoint") == checkpoints_written && comm.is_root())
            crash = [] { std::raise(SIGKILL); };
          write_checkpoint(checkpoint_path, comm, store, *optimizer, st, CheckpointMeta{comm.size(), config.to_toml()}, crash);
        } else {
          save_checkpoint(epoch + 1, 0);
        }
      }
      write_results(results_path, comm, doc);
      if (stop_at_epoch_end && !last_of_job) {
        progress.message(fmt::format("stopped at the end of epoch {} of seed {}; checkpoint '{}'; run the same command "
                                     "again to resume",
                                     epoch + 1, seeds[si], checkpoint_path));
        return dist::kExitCheckpointed;
      }
    }
    resuming = false;
  }

  write_results(results_path, comm, doc);

  // ---- summary ----
  std::vector<double> tests;
  for (const auto& s : doc.seeds)
    if (s.completed) tests.push_back(s.test_at_best);
  const SummaryStats stats = summarize(tests);
  if (comm.is_root()) {
    const double scale = data.metric == Metric::kRocAuc || data.metric == Metric::kAveragePrecision ? 100.0 : 1.0;
    std::printf("%s: test %s at the best validation epoch = %.2f +/- %.2f over %lld seed%s (%s)\n", job_name.c_str(),
                metric_label.c_str(), scale * stats.mean, scale * stats.std, static_cast<long long>(stats.count),
                stats.count == 1 ? "" : "s", results_path.c_str());
    if (profiling) std::printf("%s", profile.table().c_str());
    std::fflush(stdout);
  }
  (void)job_start;
  return dist::kExitOk;
}

int run_eval(const dist::Comm& comm, const EvalOptions& options) {
  TrainerState state;
  CheckpointMeta meta;
  read_checkpoint_header(options.checkpoint, comm, state, meta);
  std::vector<std::string> overrides;
  if (!options.shard.empty()) overrides.push_back("data.shard=" + options.shard);
  const JobConfig config = comm.collective(
      [&] { return JobConfig::parse(meta.config, options.checkpoint + " /config", overrides, train_schema()); });
  const FeatureLayout features = comm.collective([&] { return feature_layout(config.get_string("model.features")); });
  comm.collective([&] {
    if (options.split != "train" && options.split != "valid" && options.split != "test")
      fail_input("relfm eval: --split must be train, valid or test, not '{}'", options.split);
  });
  Data data = load_data(comm, config, features);
  ParamStore<float> store;
  const auto model = comm.collective([&] { return build_gin(store, config, features, data.shard.molecules.labels.cols(), 0); });
  auto optimizer = comm.collective([&] { return make_optimizer(store, optimizer_config(config)); });
  read_checkpoint(options.checkpoint, comm, store, *optimizer, state, meta);
  const SplitPart& part = options.split == "train" ? data.train : options.split == "valid" ? data.valid : data.test;
  const int64_t eval_batch = config.get_int("eval.batch_size");
  const double value = evaluate(comm, *model, data, part, features, eval_batch);
  if (!options.predictions.empty()) {
    const MatF local = predict(*model, part.local, features, eval_batch);
    MatF labels(part.local.size(), local.cols());
    for (int64_t i = 0; i < part.local.size(); ++i) labels.row(i) = part.local.labels.row(i);
    h5::write_atomically(options.predictions, comm, [&](h5::File& f) {
      f.set_attr("/", "format", std::string("relfm.predictions"));
      f.set_attr("/", "format_version", int64_t{1});
      f.set_attr("/", "dataset", data.shard.info.dataset);
      f.set_attr("/", "split", options.split);
      f.set_attr("/", "metric", std::string(metric_name(data.metric)));
      f.set_attr("/", "value", value);
      f.set_attr("/", "checkpoint", options.checkpoint);
      f.write_rows("/ids", part.local.ids.data(), part.local.size());
      f.write_rows("/predictions", local.data(), local.rows(), local.cols());
      f.write_rows("/labels", labels.data(), labels.rows(), labels.cols());
    });
  }
  if (comm.is_root()) {
    std::printf("%s %s %s = %.4f (%lld molecules)\n", data.shard.info.dataset.c_str(), options.split.c_str(),
                std::string(metric_name(data.metric)).c_str(), value, static_cast<long long>(part.global_count));
    std::fflush(stdout);
  }
  return dist::kExitOk;
}

}  // namespace relfm::jobs
