#include "jobs/trainer.hpp"

#include "dist/data_parallel.hpp"
#include "dist/runtime.hpp"
#include "jobs/job_kinds.hpp"
#include "jobs/results_history.hpp"
#include "src/tensor/gemm.hpp"
#include "src/core/log.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>

namespace relfm::jobs {

std::vector<KeySpec> output_keys(const std::string& contents) {
  return {
      {"output.dir", ValueKind::kString, "", "Directory for " + contents + " (created if missing)."},
      {"output.progress", ValueKind::kString, "\"auto\"",
       "Rank 0's progress display: `bar` redraws in place, `lines` prints a line per epoch or now and then, `auto` "
       "picks bar on a terminal.",
       {"auto", "bar", "lines", "none"}},
  };
}

OptimizerConfig optimizer_config(const JobConfig& config, const std::string& prefix) {
  OptimizerConfig oc;
  oc.name = config.get_string(prefix + ".optimizer");
  oc.lr = config.get_real(prefix + ".lr");
  oc.weight_decay = config.get_real(prefix + ".weight_decay");
  oc.momentum = config.get_real(prefix + ".momentum");
  return oc;
}

void save_model_sections(CheckpointWriter& writer, const ParamStore<float>& store, Optimizer<float>& optimizer) {
  writer.add_params("model", store);
  writer.add_optimizer("optimizer", optimizer);
}

void load_model_sections(CheckpointReader& reader, ParamStore<float>& store, Optimizer<float>& optimizer) {
  reader.read_params("model", store);
  reader.read_optimizer("optimizer", optimizer);
}

std::vector<KeySpec> epoch_trainer_keys() {
  std::vector<KeySpec> keys = {
      {"train.epochs", ValueKind::kInt, "50", "Epochs per seed.", {}, 1},
      {"train.seeds", ValueKind::kIntList, "[0]", "Seeds; each is an independent run (initialisation, order, dropout).",
       {}, 0, {}, Resume::kExtends},
  };
  for (auto& k : output_keys("results.h5 and checkpoint.h5")) keys.push_back(k);
  const std::vector<KeySpec> rest = {
      {"checkpoint.every_epochs", ValueKind::kInt, "1",
       "Checkpoint after every N epochs (and always at the end); 0 disables periodic checkpoints.", {}, 0},
      {"debug.stop_after_steps", ValueKind::kInt, "0",
       "Testing aid: behave as if SIGUSR1 arrived after this many global steps (0 = never).", {}, 0},
      {"debug.crash_in_checkpoint", ValueKind::kInt, "0",
       "Testing aid: SIGKILL rank 0 in the middle of writing the N-th checkpoint (0 = never).", {}, 0},
      {"debug.nan_loss_at_step", ValueKind::kInt, "0",
       "Testing aid: make the loss NaN at this global step (0 = never), to exercise the divergence stop.", {}, 0},
      {"debug.check_replicas", ValueKind::kBool, "false",
       "Verify after every epoch that all ranks hold bit-identical parameters."},
      {"debug.profile", ValueKind::kBool, "false", "Print time per op kind (rank 0) at the end."},
  };
  keys.insert(keys.end(), rest.begin(), rest.end());
  return keys;
}

std::vector<KeySpec> optimizer_keys(const std::string& prefix, const std::string& what) {
  return {
      {prefix + ".optimizer", ValueKind::kString, "\"adam\"", "Optimiser of " + what + ".", {"adam", "adamw", "sgd"},
       {}, {}, Resume::kBlocks},
      {prefix + ".lr", ValueKind::kReal, "1e-3", "Learning rate of " + what + ".", {}, 0.0, {}, Resume::kBlocks},
      {prefix + ".weight_decay", ValueKind::kReal, "0.0",
       "Weight decay of " + what + " (L2 for adam/sgd, decoupled for adamw).", {}, 0.0, {}, Resume::kBlocks},
      {prefix + ".momentum", ValueKind::kReal, "0.0", "Momentum of " + what + " (sgd only).", {}, 0.0, 1.0,
       Resume::kBlocks},
  };
}

namespace {

std::string job_name_of(const JobConfig& config) {
  return config.get_string("job.name").empty() ? std::filesystem::path(config.source()).stem().string()
                                                : config.get_string("job.name");
}

}  // namespace

int run_epochs(const dist::Comm& comm, const JobConfig& config, const RunOptions& options, EpochJob& job) {
  const int64_t epochs = config.get_int("train.epochs");
  const std::vector<int64_t> seeds = config.get_int_list("train.seeds");
  const std::string out_dir = config.get_string("output.dir");
  const std::string checkpoint_path = out_dir + "/checkpoint.h5";
  const std::string results_path = out_dir + "/results.h5";
  const std::string kind = config.get_string("job.kind");
  comm.collective([&] {
    if (seeds.empty()) fail_input("{}: train.seeds is empty", config.source());
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
  const std::string job_name = job_name_of(config);

  job.setup(comm, config);
  const JobDescription desc = job.describe();
  const int64_t runs_planned = job.num_runs(seeds);
  Progress progress(mode, epochs, runs_planned);
  progress.message(fmt::format("relfm train '{}' ({}): {}, {} rank{}, {} {}{}, {} epochs", job_name, kind,
                               desc.headline, comm.size(), comm.size() > 1 ? "s" : "", runs_planned,
                               desc.run_unit, runs_planned > 1 ? "s" : "", epochs));

  ResultsDocument doc;
  doc.job = job_name;
  doc.job_kind = kind;
  doc.world_size = comm.size();
  doc.config = config.to_toml();
  doc.rule = desc.rule;
  doc.attrs = desc.attrs;
  const std::map<std::string, std::string> environment = run_environment_attrs();
  for (const auto& [k, v] : environment) doc.attrs[k] = v;
  // Each run also records where it trained (a job's runs may come from several machines and sessions).
  std::map<std::string, std::string> run_environment;
  for (const char* key : {"cpu", "gemm_key", "gemm_kernel"}) run_environment[key] = environment.at(key);

  // ---- resume? ----
  StateSection resume_state;
  CheckpointMeta resume_meta;
  bool resuming = false;
  int64_t saved_epochs = 0;  // train.epochs of the run that wrote the checkpoint
  int64_t saved_runs = 0;    // the runs that job planned (train.seeds may have grown since)
  const bool checkpoint_exists = dist::exists_on_root(comm, checkpoint_path);
  if (options.resume == ResumeMode::kRequire && !checkpoint_exists)
    throw dist::CollectiveError(fmt::format("--resume require: no checkpoint at '{}'", checkpoint_path),
                                dist::CollectiveError::Kind::kInput, 0);
  if (options.resume != ResumeMode::kNever && checkpoint_exists) {
    CheckpointReader reader(checkpoint_path, comm);
    resume_meta = reader.meta();
    comm.collective([&] {
      if (resume_meta.job_kind != kind)
        fail_input("'{}' was written by a '{}' job; this job is '{}': use another output.dir, or --resume never",
                   checkpoint_path, resume_meta.job_kind, kind);
    });
    resume_state = reader.read_state("trainer");
    reader.close();
    comm.collective([&] {
      const JobConfig saved = JobConfig::parse(resume_meta.config, checkpoint_path + " /config", {}, config.schema());
      saved_epochs = saved.get_int("train.epochs");
      saved_runs = job.num_runs(saved.get_int_list("train.seeds"));
      const std::vector<std::string> conflicts = config.resume_conflicts(saved);
      if (!conflicts.empty())
        fail_input("'{}' was written with {}: resume with the same settings, or start afresh with --resume never "
                   "(or another output.dir)",
                   checkpoint_path, conflicts.front());
      if (config.get_int("train.epochs") < saved_epochs)
        fail_input("'{}' was written with train.epochs = {}; this job has {}: its runs would stop short of the epochs "
                   "already trained or recorded (train.epochs may only grow on resume; start afresh with --resume never, "
                   "or use another output.dir)",
                   checkpoint_path, saved_epochs, config.get_int("train.epochs"));
      if (resume_meta.world_size != comm.size() && resume_state.get_int("step_in_epoch") != 0)
        fail_input("'{}' was written by {} ranks in the middle of an epoch; this run has {}. The data partition and "
                   "batch order depend on the rank count, so resume with {} ranks (or from an epoch-boundary "
                   "checkpoint, or start afresh with --resume never)",
                   checkpoint_path, resume_meta.world_size, comm.size(), resume_meta.world_size);
    });
    if (resume_meta.world_size != comm.size())
      progress.message(fmt::format("note: '{}' was written by {} ranks; continuing on {} from an epoch boundary "
                                   "(results are valid but not bit-identical to an uninterrupted run)",
                                   checkpoint_path, resume_meta.world_size, comm.size()));
    load_history(resume_state, doc);
    for (const auto& [k, v] : resume_state.texts)
      if (k.rfind("job_attr.", 0) == 0) doc.attrs[k.substr(9)] = v;
    {
      CheckpointReader reader(checkpoint_path, comm);
      const StateSection job_state = reader.has_section("job_state") ? reader.read_state("job_state") : StateSection{};
      reader.close();
      comm.collective([&] { job.load_job_state(job_state); });
    }
    resuming = true;
  }

  int64_t kept_runs = 0;  // completed runs kept from results.h5 without a checkpoint
  int64_t kept_steps = 0;  // their steps, where they recorded them (-1: a run from before the `steps` series)
  if (!resuming && options.resume != ResumeMode::kNever && dist::exists_on_root(comm, results_path)) {
    kept_runs = keep_completed_runs(comm, config, job, results_path, doc);
    kept_steps = recorded_steps(doc);
    if (kept_runs > 0)
      progress.message(fmt::format("no checkpoint in '{}': keeping the {} completed run{} of '{}' and going on from "
                                   "the next{}",
                                   out_dir, kept_runs, kept_runs > 1 ? "s" : "", results_path,
                                   kept_steps < 0 ? " (the kept runs did not record their steps: the new runs' "
                                                    "global_step count starts at 0)"
                                                  : ""));
  }

  int64_t checkpoints_written = 0;
  int64_t global_step_total = resuming ? resume_state.get_int("global_step") : std::max<int64_t>(kept_steps, 0);
  OpProfile profile;
  const bool profiling = config.get_bool("debug.profile");
  int64_t start_seed_index = resuming ? resume_state.get_int("seed_index") : kept_runs;
  // A job that ended its runs early says so in every later checkpoint.
  int64_t num_runs = job.num_runs(seeds);
  if (resuming && resume_state.ints.count("runs_end") && resume_state.get_int("runs_end") < saved_runs)
    num_runs = std::min(num_runs, resume_state.get_int("runs_end"));
  // train.seeds grown at its end (checked against the checkpoint above): the saved runs are kept and the
  // new seeds run after them, each from its own seed-keyed streams, so the job ends as one started with
  // the longer list would. Not with another train.epochs: the runs would not be comparable.
  const bool more_seeds = resuming && num_runs > saved_runs;
  if (more_seeds && epochs != saved_epochs)
    throw dist::CollectiveError(
        fmt::format("'{}' was written with train.epochs = {}; adding seeds (train.seeds grew from {} to {} runs) needs "
                    "the same train.epochs, or the runs would not be comparable",
                    checkpoint_path, saved_epochs, saved_runs, num_runs),
        dist::CollectiveError::Kind::kInput, 0);
  if (more_seeds)
    progress.message(fmt::format("adding {} run{} to the {} in '{}'", num_runs - saved_runs, num_runs - saved_runs > 1 ? "s" : "",
                                 saved_runs, checkpoint_path));
  // A finished job rerun with a larger train.epochs trains its run further: the final checkpoint holds the
  // run's model and optimizer after its last epoch, so the result is that of a run started with the larger
  // value (bit-identical when no schedule depends on the epoch count). Only a single run can be extended:
  // the checkpoint keeps the last run's state, not the earlier ones'.
  const bool extending = resuming && start_seed_index >= num_runs && resume_state.get_int("seed_started") == 0 &&
                         epochs > saved_epochs;
  if (extending) {
    if (num_runs != 1)
      throw dist::CollectiveError(
          fmt::format("'{}' holds a finished job of {} runs; train.epochs ({} → {}) can be raised to train further only "
                      "for a job of one run (the checkpoint keeps the last run only): start afresh with --resume never",
                      checkpoint_path, num_runs, saved_epochs, epochs),
          dist::CollectiveError::Kind::kInput, 0);
    start_seed_index = num_runs - 1;
    resume_state.ints["seed_started"] = 1;
    resume_state.ints["epoch"] = saved_epochs;
    progress.message(fmt::format("extending the finished run in '{}' from {} to {} epochs", checkpoint_path,
                                 saved_epochs, epochs));
  }
  if (kept_runs > 0) progress.set_epochs_left((num_runs - kept_runs) * epochs);
  if (resuming)
    progress.set_epochs_left((num_runs - start_seed_index) * epochs -
                             (resume_state.get_int("seed_started") ? resume_state.get_int("epoch") : 0));
  const std::string per_second = desc.item_unit + "_per_second";
  std::map<std::string, std::string> job_attrs;  // what finished runs concluded about the whole job
  for (const auto& [k, v] : resume_state.texts)
    if (k.rfind("job_attr.", 0) == 0) job_attrs[k.substr(9)] = v;

  for (int64_t si = start_seed_index; si < num_runs; ++si) {
    const RunSpec spec = comm.collective([&] { return job.run_spec(si, seeds); });
    const uint64_t seed = spec.seed;
    comm.collective([&] { job.build(seed); });

    int64_t start_epoch = 0, start_step = 0;
    double epoch_loss_sum = 0.0;
    int64_t epoch_loss_steps = 0;
    // The current epoch's training time (this rank's) and items, across the sessions it was split over.
    double epoch_train_seconds = 0.0;
    int64_t epoch_items = 0;
    bool seed_resumed = false;
    int64_t run_first_step = global_step_total;
    if (resuming && si == start_seed_index && resume_state.get_int("seed_started") != 0) {
      CheckpointReader reader(checkpoint_path, comm);
      const StateSection st = reader.read_state("trainer");
      job.load(reader);
      reader.close();
      start_epoch = extending ? saved_epochs : st.get_int("epoch");
      start_step = extending ? 0 : st.get_int("step_in_epoch");
      epoch_loss_sum = extending ? 0.0 : st.get_real("epoch_loss_sum");
      epoch_loss_steps = extending ? 0 : st.get_int("epoch_loss_steps");
      if (resume_meta.world_size != comm.size()) start_step = 0;  // only allowed at an epoch boundary (checked above)
      if (start_step > 0 && st.arrays.count("epoch_rank_train_seconds")) {  // (older checkpoints lack them)
        epoch_train_seconds = st.get_array("epoch_rank_train_seconds").at(static_cast<size_t>(comm.rank()));
        epoch_items = st.get_int("epoch_items_seen");
      }
      // Where this run began in the job's step count. Checkpoints from before run_step existed keyed a
      // run's steps by the job-wide count: such a run goes on with those keys to its end.
      run_first_step = global_step_total - (st.ints.count("run_step") ? st.get_int("run_step") : global_step_total);
      seed_resumed = true;
    }
    if (!seed_resumed) {
      doc.seeds.resize(static_cast<size_t>(si));
      SeedResults fresh;
      fresh.seed = static_cast<int64_t>(seed);
      fresh.label = spec.label;
      fresh.best_select = std::nan("");
      doc.seeds.push_back(fresh);
    }
    SeedResults& rec = doc.seeds[static_cast<size_t>(si)];
    note_run_environment(rec, run_environment);
    if (extending && si == start_seed_index) rec.completed = false;  // until its new last epoch
    for (const auto& [name, local] : job.rank_counts()) rec.rank_counts[name] = comm.allgather(local);
    job.start_seed(seed_resumed);

    // Writes a checkpoint positioned at (seed_index, epoch, step_in_epoch).
    const auto save_checkpoint = [&](int64_t seed_index, bool seed_started, int64_t epoch, int64_t step_in_epoch) {
      StateSection st;
      st.ints["seed_index"] = seed_index;
      st.ints["seed_started"] = seed_started ? 1 : 0;
      st.ints["epoch"] = epoch;
      st.ints["step_in_epoch"] = step_in_epoch;
      st.ints["global_step"] = global_step_total;
      st.ints["run_step"] = global_step_total - run_first_step;
      st.ints["epoch_loss_steps"] = epoch_loss_steps;
      st.reals["epoch_loss_sum"] = epoch_loss_sum;
      st.arrays["epoch_rank_train_seconds"] = comm.allgather(epoch_train_seconds);
      st.ints["epoch_items_seen"] = epoch_items;
      st.texts["gemm_key"] = gemm::selection().key;  // a resume asks for the same kernel (select_gemm)
      st.ints["runs_end"] = num_runs;
      for (const auto& [k, v] : job_attrs) st.texts["job_attr." + k] = v;
      save_history(doc, st);
      CheckpointWriter writer(comm, CheckpointMeta{comm.size(), config.to_toml(), kind});
      writer.add_state("trainer", std::move(st));
      StateSection job_state;
      job.save_job_state(job_state);
      writer.add_state("job_state", std::move(job_state));
      job.save(writer);
      ++checkpoints_written;
      std::function<void()> crash;
      if (config.get_int("debug.crash_in_checkpoint") == checkpoints_written && comm.is_root())
        crash = [] { std::raise(SIGKILL); };
      writer.write(checkpoint_path, crash);
      logging::debug("checkpoint {} written to '{}': seed index {}, epoch {}, step {}, global step {}", checkpoints_written,
                 checkpoint_path, seed_index, epoch, step_in_epoch, global_step_total);
    };

    for (int64_t epoch = start_epoch; epoch < epochs; ++epoch) {
      const int64_t steps = job.plan_epoch(seed, epoch);
      progress.begin_epoch(spec.label, epoch + 1, steps, desc.items_per_epoch);
      const int64_t first_step = epoch == start_epoch ? start_step : 0;
      bool stop_at_epoch_end = false;
      if (first_step == 0) {
        epoch_loss_sum = 0.0;
        epoch_loss_steps = 0;
        epoch_train_seconds = 0.0;
        epoch_items = 0;
      }
      for (int64_t step = first_step; step < steps; ++step) {
        const auto t0 = std::chrono::steady_clock::now();
        StepContext ctx{seed, epoch, step, global_step_total, global_step_total - run_first_step, profiling ? &profile : nullptr};
        StepPlan plan;
        std::exception_ptr failure;
        try {
          plan = job.prepare_step(ctx);
        } catch (...) {
          failure = std::current_exception();
        }
        const int64_t debug_stop = config.get_int("debug.stop_after_steps");
        const bool stop_here = dist::stop_requested() || (debug_stop > 0 && global_step_total + 1 == debug_stop);
        // The step's single agreement: [job counts..., items, stop, failed].
        const int64_t n_expected = desc.step_counts;
        if (!failure && static_cast<int64_t>(plan.counts.size()) != n_expected)
          failure = std::make_exception_ptr(Error(fmt::format("job '{}': a step plan has {} counts, the job declared {}",
                                                              kind, plan.counts.size(), n_expected)));
        std::vector<int64_t> agree(static_cast<size_t>(n_expected) + 3, 0);
        if (!failure) std::copy(plan.counts.begin(), plan.counts.end(), agree.begin());
        agree[static_cast<size_t>(n_expected)] = plan.items;
        agree[static_cast<size_t>(n_expected) + 1] = stop_here ? 1 : 0;
        agree[static_cast<size_t>(n_expected) + 2] = failure ? 1 : 0;
        comm.allreduce_sum(agree.data(), agree.size());
        if (agree[static_cast<size_t>(n_expected) + 2] > 0) comm.agree(failure);  // raises on every rank
        const bool stop = agree[static_cast<size_t>(n_expected) + 1] > 0;
        const int64_t items = agree[static_cast<size_t>(n_expected)];
        agree.resize(static_cast<size_t>(n_expected));

        const StepOutcome outcome = job.run_step(ctx, agree);
        if (outcome.updated) {
          double loss_value = outcome.loss;
          if (config.get_int("debug.nan_loss_at_step") == global_step_total + 1) loss_value = std::nan("");
          if (!std::isfinite(loss_value))
            throw dist::CollectiveError(
                fmt::format("training diverged: the loss is {} at run {}, epoch {}, step {}. Nothing was written "
                            "after the last good checkpoint{}; lower the learning rate or check the labels",
                            loss_value, spec.label, epoch + 1, step + 1,
                            checkpoints_written > 0 || resuming ? " ('" + checkpoint_path + "')" : " (none yet)"),
                dist::CollectiveError::Kind::kDiverged, 0);
          epoch_loss_sum += loss_value;
          ++epoch_loss_steps;
        }
        ++global_step_total;
        epoch_train_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        epoch_items += items;
        progress.update(step + 1, epoch_items, epoch_loss_steps > 0 ? epoch_loss_sum / epoch_loss_steps : 0.0);
        if (stop && step + 1 == steps) {
          stop_at_epoch_end = true;  // finish this epoch (evaluation, epoch-boundary checkpoint) first
          break;
        }
        if (stop) {
          // Stop requested (signal or debug): checkpoint after this step and leave for a requeue.
          save_checkpoint(si, true, epoch, step + 1);
          write_results(results_path, comm, doc);
          progress.end_epoch(fmt::format("stopped after global step {} (run {}, epoch {}, step {}/{}); checkpoint "
                                         "'{}'; run the same command again to resume",
                                         global_step_total, spec.label, epoch + 1, step + 1, steps, checkpoint_path));
          if (profiling && comm.is_root()) std::printf("%s", profile.table().c_str());  // the steps so far
          return dist::kExitCheckpointed;
        }
      }
      const auto e0 = std::chrono::steady_clock::now();
      std::map<std::string, double> values = job.evaluate();
      const double eval_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - e0).count();
      std::map<std::string, std::vector<double>> per_rank;
      per_rank["rank_train_seconds"] = comm.allgather(epoch_train_seconds);
      for (const auto& [name, v] : job.epoch_rank_stats()) per_rank[name] = comm.allgather(v);
      const std::vector<double>& rank_train = per_rank["rank_train_seconds"];
      const double slowest = *std::max_element(rank_train.begin(), rank_train.end());
      values["train_loss"] =
          epoch_loss_steps > 0 ? epoch_loss_sum / static_cast<double>(epoch_loss_steps) : std::nan("");
      values["train_seconds"] = slowest;
      values["eval_seconds"] = eval_seconds;
      values["steps"] = static_cast<double>(steps);  // lets a rerun without the checkpoint go on counting steps
      values[per_second] = slowest > 0 ? static_cast<double>(epoch_items) / slowest : 0.0;
      rec.add_epoch(epoch + 1, values, per_rank, desc.rule);
      for (const auto& [name, rows] : job.epoch_tables()) rec.add_table_rows(name, epoch + 1, rows);
      if (epoch + 1 == epochs) rec.completed = true;

      std::string line = fmt::format("{} {} epoch {:>3}/{}  loss {:.4f}", spec.label == std::to_string(seed) ? "seed" : "run",
                                     spec.label, epoch + 1, epochs, values["train_loss"]);
      for (const auto& name : {desc.rule.select, desc.rule.report})
        if (values.count(name)) line += fmt::format("  {} {:.4f}", name, values[name]);
      line += fmt::format("  ({:.0f} {}/s", values[per_second], desc.item_unit);
      if (per_rank.count("rank_allreduce_seconds") && rank_train[0] > 0)
        line += fmt::format(", all-reduce {:.1f}%", 100.0 * per_rank["rank_allreduce_seconds"][0] / rank_train[0]);
      progress.end_epoch(line + ")");

      if (config.get_bool("debug.check_replicas") && job.replicated_params()) {
        const std::vector<uint64_t> prints = comm.allgather(dist::parameter_fingerprint(*job.replicated_params()));
        if (std::adjacent_find(prints.begin(), prints.end(), std::not_equal_to<>()) != prints.end())
          throw dist::CollectiveError("replicas diverged: ranks hold different parameters after epoch " +
                                          std::to_string(epoch + 1),
                                      dist::CollectiveError::Kind::kInternal, 0);
      }
      epoch_loss_sum = 0.0;
      epoch_loss_steps = 0;
      const int64_t every = config.get_int("checkpoint.every_epochs");
      if (epoch + 1 == epochs) {
        const RunConclusion concluded = comm.collective([&] { return job.finish_run(si); });
        for (const auto& [k, v] : concluded.run_attrs) rec.attrs[k] = v;
        for (const auto& [k, v] : concluded.job_attrs) job_attrs[k] = v;
        for (const auto& [k, v] : job_attrs) doc.attrs[k] = v;
        if (!concluded.more_runs) num_runs = si + 1;
      }
      const bool last_of_job = epoch + 1 == epochs && si + 1 == num_runs;
      if ((every > 0 && (epoch + 1) % every == 0) || last_of_job || stop_at_epoch_end) {
        // Position after this epoch: the next epoch of this seed, or the first epoch of the next seed
        // (which starts from a fresh initialisation).
        if (epoch + 1 == epochs) save_checkpoint(si + 1, false, 0, 0);
        else save_checkpoint(si, true, epoch + 1, 0);
      }
      write_results(results_path, comm, doc);
      if (stop_at_epoch_end && !last_of_job) {
        progress.message(fmt::format("stopped at the end of epoch {} of run {}; checkpoint '{}'; run the same command "
                                     "again to resume",
                                     epoch + 1, spec.label, checkpoint_path));
        return dist::kExitCheckpointed;
      }
    }
    resuming = false;
  }

  write_results(results_path, comm, doc);
  const SummaryStats stats = summarize_report(doc);
  if (comm.is_root()) {
    std::printf("%s: %s = %.2f +/- %.2f over %lld %s%s (%s)\n", job_name.c_str(), desc.summary_label.c_str(),
                desc.summary_scale * stats.mean, desc.summary_scale * stats.std, static_cast<long long>(stats.count),
                desc.run_unit.c_str(), stats.count == 1 ? "" : "s", results_path.c_str());
    if (profiling) std::printf("%s", profile.table().c_str());
    std::fflush(stdout);
  }
  return dist::kExitOk;
}

}  // namespace relfm::jobs
