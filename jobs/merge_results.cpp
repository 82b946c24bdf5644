#include "jobs/merge_results.hpp"

#include "io/results.hpp"
#include "jobs/job_kinds.hpp"
#include "jobs/results_history.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>

namespace relfm::jobs {
namespace {

ResultsDocument read_input(const dist::Comm& comm, const std::string& path) {
  h5::File f = h5::File::open(path, comm);
  const std::string format = f.has_attr("/", "format") ? f.attr_string("/", "format") : std::string("none");
  if (format != kResultsFormat)
    fail_input("relfm merge: '{}' is not the results of an epoch-based job (format '{}')", path, format);
  ResultsDocument doc = read_results(f);
  f.close();
  return doc;
}

// A --set override of train.seeds.
std::string seed_list(const std::vector<int64_t>& seeds) {
  std::string out = "train.seeds=[";
  for (size_t k = 0; k < seeds.size(); ++k) {
    if (k > 0) out += ",";
    out += std::to_string(seeds[k]);
  }
  return out + "]";
}

}  // namespace

int run_merge(const dist::Comm& comm, const MergeOptions& options) {
  const ResultsDocument merged = comm.collective([&] {
    if (options.inputs.size() < 2) fail_input("relfm merge: give at least two results files to merge");
    for (const std::string& in : options.inputs) {
      if (!std::filesystem::exists(in)) fail_input("relfm merge: no results file '{}'", in);
      if (std::filesystem::exists(options.out) && std::filesystem::equivalent(in, options.out))
        fail_input("relfm merge: --out '{}' is one of the inputs; write the merged file elsewhere", options.out);
    }
    std::vector<ResultsDocument> docs;
    for (const std::string& in : options.inputs) docs.push_back(read_input(comm, in));
    const ResultsDocument& first = docs.front();
    const std::string& kind = first.job_kind;
    const JobKind& job_kind_entry = job_kind(kind);  // an InputError if this build does not know the kind
    if (!job_kind_entry.make_epoch_job || !job_kind_entry.make_epoch_job()->runs_independent())
      fail_input("relfm merge: '{}' holds runs of a '{}' job, whose runs depend on each other (they cannot be merged)",
                 options.inputs.front(), kind);
    const JobConfig reference = JobConfig::parse(first.config, options.inputs.front() + " /config", {}, job_schema(kind));

    ResultsDocument out;
    out.job = first.job;
    out.job_kind = kind;
    out.rule = first.rule;
    out.attrs = first.attrs;
    out.number_attrs = first.number_attrs;
    out.integer_attrs = first.integer_attrs;
    std::map<std::string, std::vector<std::string>> environment;  // cpu, gemm_*: every input's, in order
    std::map<std::string, std::string> run_from;                   // run name -> the file it came from
    for (size_t i = 0; i < docs.size(); ++i) {
      const ResultsDocument& d = docs[i];
      const std::string& path = options.inputs[i];
      if (d.job_kind != kind)
        fail_input("relfm merge: '{}' holds a '{}' job, '{}' a '{}' job", path, d.job_kind, options.inputs.front(), kind);
      // Compared with the reference's seeds: the inputs' seed lists differ by design.
      const JobConfig config = JobConfig::parse(d.config, path + " /config", {seed_list(reference.get_int_list("train.seeds"))},
                                                job_schema(kind));
      const std::vector<std::string> conflicts = reference.resume_conflicts(config, "'" + path + "'");
      if (!conflicts.empty())
        fail_input("relfm merge: the runs of '{}' and '{}' are not comparable: {}", options.inputs.front(), path,
                   conflicts.front());
      if (config.get_int("train.epochs") != reference.get_int("train.epochs"))
        fail_input("relfm merge: '{}' has train.epochs = {}, '{}' {}: the runs are not comparable", path,
                   config.get_int("train.epochs"), options.inputs.front(), reference.get_int("train.epochs"));
      out.world_size = std::max(out.world_size, d.world_size);
      for (const char* key : {"cpu", "gemm_key", "gemm_kernel"})
        if (d.attrs.count(key)) environment[key].push_back(d.attrs.at(key));
      for (SeedResults run : d.seeds) {
        const auto [it, fresh] = run_from.emplace(run.name(), path);
        if (!fresh) fail_input("relfm merge: run '{}' is in both '{}' and '{}'", run.name(), it->second, path);
        // Files from before runs recorded their machine: the file's own (its last session's) stands for it.
        for (const char* key : {"cpu", "gemm_key", "gemm_kernel"})
          if (!run.attrs.count(key) && d.attrs.count(key)) run.attrs[key] = d.attrs.at(key);
        out.seeds.push_back(std::move(run));
      }
    }
    std::stable_sort(out.seeds.begin(), out.seeds.end(), [](const SeedResults& a, const SeedResults& b) { return a.seed < b.seed; });
    for (const auto& [key, values] : environment) {
      out.attrs[key].clear();
      for (const std::string& v : values) append_distinct(out.attrs[key], v);
    }
    std::vector<int64_t> seeds;
    for (const SeedResults& run : out.seeds) seeds.push_back(run.seed);
    out.config = JobConfig::parse(first.config, options.inputs.front() + " /config", {seed_list(seeds)}, job_schema(kind)).to_toml();
    return out;
  });
  write_results(options.out, comm, merged);
  if (comm.is_root()) {
    const SummaryStats s = summarize_report(merged);
    int64_t incomplete = 0;
    for (const SeedResults& run : merged.seeds) incomplete += run.completed ? 0 : 1;
    std::printf("%s: %zu runs of job '%s' from %zu files; %s at the best %s: %.4f +/- %.4f over %lld completed run(s)%s\n",
                options.out.c_str(), merged.seeds.size(), merged.job.c_str(), options.inputs.size(), merged.rule.report.c_str(),
                merged.rule.select.c_str(), s.mean, s.std, static_cast<long long>(s.count),
                incomplete ? fmt::format(" ({} incomplete)", incomplete).c_str() : "");
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace relfm::jobs
