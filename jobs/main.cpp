// The `relfm` command line. Every subcommand runs on every MPI rank (mpirun -n P relfm ...; srun relfm ...);
// errors follow dist/runtime.hpp: one message, the same non-zero exit code on every rank, no hang.
#include "dist/gemm_select.hpp"
#include "dist/runtime.hpp"
#include "jobs/config.hpp"
#include "jobs/inspect_job.hpp"
#include "jobs/merge_results.hpp"
#include "jobs/sample_job.hpp"
#include "jobs/sequences_job.hpp"
#include "jobs/shard_job.hpp"
#include "io/checkpoint.hpp"
#include "jobs/job_kinds.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace relfm;

// Whether the job of `relfm train JOB [--set K=V] ...` multiplies matrices (JobKind::uses_gemm). Read
// before MPI_Init, so anything wrong here (no such file, a bad line) answers yes: the parse after
// MPI_Init reports it, collectively.
bool train_job_uses_gemm(int first, int argc, char** argv) {
  std::string job_file;
  std::vector<std::string> overrides;
  for (int i = first; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--set" && i + 1 < argc) overrides.push_back(argv[++i]);
    else if (arg.rfind("--set=", 0) == 0) overrides.push_back(arg.substr(6));
    else if (arg == "--resume") ++i;
    else if (arg[0] != '-' && job_file.empty()) job_file = arg;
  }
  try {
    std::ifstream in(job_file);
    if (!in) return true;
    std::stringstream text;
    text << in.rdbuf();
    return jobs::job_kind(jobs::peek_job_kind(text.str(), job_file, overrides)).uses_gemm;
  } catch (...) {
    return true;
  }
}

// Whether the subcommand multiplies matrices (train, eval) and so needs the GEMM probe: the first
// argument that is not an option names it.
bool needs_gemm_probe(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (argv[i][0] == '-') continue;
    if (std::strcmp(argv[i], "train") == 0) return train_job_uses_gemm(i + 1, argc, argv);
    return std::strcmp(argv[i], "eval") == 0;
  }
  return false;
}

int dispatch(dist::Comm& comm, int argc, char** argv) {
  CLI::App app{"relfm: graph-structured foundation-model training over MPI"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "relfm 0.1.0");
  // Read before parsing (see log_level_from); declared here so that every subcommand accepts it.
  bool verbose = false;
  app.add_flag("--verbose,-v", verbose, "Debug-level log lines (from every rank)");
  app.fallthrough();

  jobs::ShardOptions shard;
  CLI::App* shard_cmd = app.add_subcommand("shard", "Featurise a SMILES CSV into a molecule shard (HDF5)");
  shard_cmd->add_option("--dataset", shard.dataset, "MoleculeNet data set shipped in data/moleculenet (e.g. bbbp)");
  shard_cmd->add_option("--csv", shard.csv, "Any CSV (optionally .gz): a SMILES column and label columns");
  shard_cmd->add_option("--data-dir", shard.data_dir, "Folder of the MoleculeNet files (default: the repository's)");
  shard_cmd->add_option("--task-type", shard.task_type, "With --csv: classification or regression");
  shard_cmd->add_option("--metric", shard.metric, "With --csv: rocauc, ap, rmse or mae");
  shard_cmd->add_option("--smiles-column", shard.smiles_column, "With --csv: 0-based index of the SMILES column");
  shard_cmd->add_option("--split", shard.split, "auto (official files when they exist, else scaffold), official or scaffold");
  shard_cmd->add_option("--out", shard.out, "Output shard file")->required();
  shard_cmd->add_flag("--strict", shard.strict, "Fail on an unparsable SMILES instead of skipping it");
  shard_cmd->add_flag("--quiet,-q", shard.quiet, "Print nothing on success");

  std::string job_file;
  std::vector<std::string> overrides;
  std::string resume = "auto";
  bool quiet = false;
  CLI::App* train_cmd = app.add_subcommand("train", "Train the model a job file describes");
  train_cmd->add_option("job", job_file, "Job file (TOML), e.g. jobs/gin_bbbp.toml")->required();
  train_cmd->add_option("--set", overrides, "Override a job key: --set train.lr=3e-4 (repeatable)");
  train_cmd->add_option("--resume", resume, "auto: continue from output.dir/checkpoint.h5 if present; never; require")
      ->check(CLI::IsMember({"auto", "never", "require"}));
  train_cmd->add_flag("--quiet,-q", quiet, "No progress display (batch jobs); the final summary is still printed");

  jobs::SequencesOptions seq;
  CLI::App* seq_cmd = app.add_subcommand("sequences", "Make a sequence shard (HDF5) for the diffuser job: ListOps or text");
  seq_cmd->add_flag("--listops", seq.listops, "Generate LRA's ListOps (deterministic from --seed)");
  seq_cmd->add_option("--lra-dir", seq.lra_dir, "Read LRA's released ListOps files DIR/basic_{train,val,test}.tsv");
  seq_cmd->add_option("--text-tsv", seq.text_tsv, "Three 'label<TAB>text' files (train valid test): byte-level text")->expected(3);
  seq_cmd->add_option("--out", seq.out, "Output shard file")->required();
  seq_cmd->add_option("--seed", seq.seed, "ListOps: generator seed (default 0)");
  seq_cmd->add_option("--train", seq.train, "ListOps: training sequences (default 96000)");
  seq_cmd->add_option("--valid", seq.valid, "ListOps: validation sequences (default 2000)");
  seq_cmd->add_option("--test", seq.test, "ListOps: test sequences (default 2000)");
  seq_cmd->add_option("--min-length", seq.min_length, "ListOps: keep trees of more tokens than this (default 500)");
  seq_cmd->add_option("--max-length", seq.max_length, "ListOps: keep trees of fewer tokens than this (default 2000)");
  seq_cmd->add_option("--max-depth", seq.max_depth, "ListOps: tree depth limit (default 10)");
  seq_cmd->add_option("--max-args", seq.max_args, "ListOps: most arguments of an operator (default 10)");
  seq_cmd->add_option("--max-tokens", seq.max_tokens, "Readers: longest sequence accepted (default 4096)");
  seq_cmd->add_flag("--truncate", seq.truncate, "Readers: cut longer sequences to --max-tokens instead of failing");
  seq_cmd->add_flag("--quiet,-q", seq.quiet, "Print nothing on success");

  jobs::EvalOptions eval;
  CLI::App* eval_cmd = app.add_subcommand("eval", "Score a checkpoint's model on one split of a shard");
  eval_cmd->add_option("checkpoint", eval.checkpoint, "checkpoint.h5 written by relfm train")->required();
  eval_cmd->add_option("--shard", eval.shard, "Shard to score (default: the one the model was trained on)");
  eval_cmd->add_option("--split", eval.split, "train, valid or test");
  eval_cmd->add_option("--predictions", eval.predictions, "Also write per-molecule predictions to this HDF5 file");

  std::string inspect_path;
  bool inspect_all = false;
  CLI::App* inspect_cmd = app.add_subcommand("inspect", "Summarise a relfm file (shard, checkpoint, results, predictions, batches)");
  inspect_cmd->add_option("file", inspect_path, "HDF5 file")->required();
  inspect_cmd->add_flag("--all", inspect_all, "Also list every group and dataset with its shape");

  jobs::MergeOptions merge;
  CLI::App* merge_cmd = app.add_subcommand("merge", "Merge the runs of several results files of one job (e.g. a Slurm array's seeds)");
  merge_cmd->add_option("inputs", merge.inputs, "results.h5 files of the same job, different seeds")->required();
  merge_cmd->add_option("--out", merge.out, "The merged results file")->required();

  jobs::SampleOptions sample;
  CLI::App* sample_cmd = app.add_subcommand("sample", "BatchSampler for other frameworks: embeddings (HDF5) -> mini-batches (HDF5)");
  sample_cmd->add_option("--embeddings", sample.embeddings, "HDF5 file with an [N, d] dataset of instance embeddings")->required();
  sample_cmd->add_option("--dataset", sample.dataset, "The embeddings' dataset in that file (default: embeddings)");
  sample_cmd->add_option("--labels", sample.labels, "Optional [N] integer labels in the same file (hardness: same-label pairs)");
  sample_cmd->add_option("--out", sample.out, "Output batches file (format relfm.batches)")->required();
  sample_cmd->add_option("--kind", sample.kind, "batchsampler, knn, communities or uniform");
  sample_cmd->add_option("--batch-size", sample.batch_size, "B: instances per batch (default 256)");
  sample_cmd->add_option("--epochs", sample.epochs, "Epochs of ceil(N / B) batches (default 1)");
  sample_cmd->add_option("--candidates", sample.candidates, "M random candidates per anchor (default 1000; >= N: exact kNN)");
  sample_cmd->add_option("--neighbours", sample.neighbours, "K out-neighbours (default 100)");
  sample_cmd->add_option("--restart", sample.restart, "Restart probability alpha (default 0.2, the official schedule)");
  sample_cmd->add_flag("--fixed-restart", sample.fixed_restart, "Keep alpha fixed instead of the official schedule");
  sample_cmd->add_option("--epoch-mode", sample.epoch_mode, "official, strict or fixed coverage");
  sample_cmd->add_option("--walk-engine", sample.walk_engine, "auto, distributed or local");
  sample_cmd->add_option("--seed", sample.seed, "Seed (the same seed gives the same batches on any rank count)");
  sample_cmd->add_flag("--write-graph", sample.write_graph, "Also write the proximity graph (/neighbours)");
  bool reference = false;
  std::string reference_kind;
  CLI::App* config_cmd = app.add_subcommand("config", "Show a job file's effective configuration, or the key reference");
  config_cmd->add_option("job", job_file, "Job file (TOML)");
  config_cmd->add_option("--set", overrides, "Override a job key (repeatable)");
  config_cmd->add_flag("--reference", reference, "Print every job key with its type, default and meaning (Markdown)");
  config_cmd->add_option("--kind", reference_kind, "With --reference: the keys of this job kind (default: every kind)");

  // Parse errors are the same on every rank; let rank 0 print them.
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (!comm.is_root()) return e.get_exit_code() == 0 ? 0 : dist::kExitInputError;
    const int code = app.exit(e);
    return code == 0 ? 0 : dist::kExitInputError;
  }

  if (*shard_cmd) return jobs::run_shard(comm, shard);
  if (*seq_cmd) return jobs::run_sequences(comm, seq);
  if (*train_cmd) {
    const jobs::JobConfig config = comm.collective([&] { return jobs::load_job_config(job_file, overrides); });
    jobs::RunOptions options;
    options.resume = resume == "never" ? jobs::ResumeMode::kNever
                     : resume == "require" ? jobs::ResumeMode::kRequire
                                           : jobs::ResumeMode::kAuto;
    options.quiet = quiet;
    return jobs::run_job(comm, config, options);
  }
  if (*eval_cmd) {
    // The checkpoint says which job wrote it and with which configuration.
    CheckpointReader reader(eval.checkpoint, comm);
    const CheckpointMeta meta = reader.meta();
    reader.close();
    // --shard replaces the job's data file: a shard (gin, diffuser), a TU data set (graphcl) or the target's
    // shard (gin_group; its auxiliary data sets stay as trained).
    std::vector<std::string> eval_overrides;
    const std::string data_key = comm.collective([&] {
      const jobs::Schema& schema = jobs::job_schema(meta.job_kind);
      std::string key;
      for (const char* k : {"data.shard", "data.tu", "data.target_shard"})
        if (key.empty() && schema.find(k)) key = k;
      if (!eval.shard.empty() && key.empty())
        fail_input("relfm eval: a '{}' checkpoint is scored on the data sets of its job; --shard does not apply", meta.job_kind);
      return key;
    });
    if (!eval.shard.empty()) eval_overrides.push_back(data_key + "=" + eval.shard);
    const jobs::JobConfig config = comm.collective(
        [&] { return jobs::parse_job_config(meta.config, eval.checkpoint + " /config", eval_overrides); });
    comm.collective([&] {
      if (!jobs::job_kind(meta.job_kind).eval) fail_input("relfm eval: '{}' jobs have no evaluation", meta.job_kind);
    });
    jobs::select_gemm(comm, config, eval.checkpoint);
    return jobs::job_kind(meta.job_kind).eval(comm, config, eval);
  }
  if (*inspect_cmd) return jobs::run_inspect(comm, inspect_path, inspect_all);
  if (*sample_cmd) return jobs::run_sample(comm, sample);
  if (*merge_cmd) return jobs::run_merge(comm, merge);
  if (*config_cmd) {
    if (reference) {
      const std::vector<std::string> kinds = comm.collective([&] {
        if (reference_kind.empty()) return jobs::job_kind_names();
        jobs::job_kind(reference_kind);  // an InputError naming the choices if unknown
        return std::vector<std::string>{reference_kind};
      });
      if (comm.is_root())
        for (const std::string& k : kinds)
          std::printf("### job.kind = \"%s\"\n\n%s\n\n%s\n", k.c_str(), jobs::job_kind(k).doc.c_str(),
                      jobs::job_schema(k).reference_markdown().c_str());
      return 0;
    }
    const jobs::JobConfig config = comm.collective([&] {
      if (job_file.empty()) fail_input("relfm config: give a job file or --reference");
      return jobs::load_job_config(job_file, overrides);
    });
    if (comm.is_root()) std::printf("%s", config.to_toml().c_str());
    return 0;
  }
  return dist::kExitInputError;
}

}  // namespace

// The log level is needed before the command line is parsed (MPI starts first), so it is read here.
relfm::logging::Level log_level_from(int argc, char** argv) {
  relfm::logging::Level level = relfm::logging::Level::kInfo;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--verbose" || a == "-v") level = relfm::logging::Level::kDebug;
    if (a == "--quiet" || a == "-q") level = relfm::logging::Level::kWarning;
  }
  return level;
}

int main(int argc, char** argv) {
  // Before MPI_Init: the probe forks a child per OpenBLAS kernel (OpenBLAS reads OPENBLAS_CORETYPE only
  // when it loads), and fork is not safe once MPI is initialised.
  if (needs_gemm_probe(argc, argv)) relfm::gemm::probe_candidates();
  return relfm::dist::run_main(argc, argv, [&](relfm::dist::Comm& comm) { return dispatch(comm, argc, argv); },
                               log_level_from(argc, argv));
}
