#include "jobs/results_history.hpp"

#include "dist/runtime.hpp"

#include <string>
#include <utility>

namespace relfm::jobs {

void save_history(const ResultsDocument& doc, StateSection& st) {
  st.ints["num_seed_records"] = static_cast<int64_t>(doc.seeds.size());
  for (size_t i = 0; i < doc.seeds.size(); ++i) {
    const SeedResults& s = doc.seeds[i];
    const std::string p = "seed" + std::to_string(i) + ".";
    st.ints[p + "seed"] = s.seed;
    st.texts[p + "label"] = s.label;
    for (const auto& [k, v] : s.attrs) st.texts[p + "attr." + k] = v;
    for (const auto& [name, t] : s.tables) {
      std::string columns;
      for (const std::string& c : t.columns) columns += c + "\n";
      st.texts[p + "table." + name] = columns;
      st.arrays[p + "table." + name] = t.values;
      st.arrays[p + "table_epoch." + name] = std::vector<double>(t.epochs.begin(), t.epochs.end());
    }
    st.ints[p + "completed"] = s.completed;
    st.ints[p + "best_epoch"] = s.best_epoch;
    st.reals[p + "best_select"] = s.best_select;
    st.reals[p + "report_at_best"] = s.report_at_best;
    st.arrays[p + "epoch"] = std::vector<double>(s.epoch.begin(), s.epoch.end());
    for (const auto& [name, v] : s.series) st.arrays[p + "series." + name] = v;
    for (const auto& [name, v] : s.rank_series) st.arrays[p + "rank_series." + name] = v;
    for (const auto& [name, v] : s.rank_counts) st.arrays[p + "rank_counts." + name] = std::vector<double>(v.begin(), v.end());
  }
}

void load_history(const StateSection& st, ResultsDocument& doc) {
  doc.seeds.clear();
  const int64_t n = st.get_int("num_seed_records");
  for (int64_t i = 0; i < n; ++i) {
    const std::string p = "seed" + std::to_string(i) + ".";
    SeedResults s;
    s.seed = st.get_int(p + "seed");
    s.label = st.get_text(p + "label");
    for (const auto& [key, v] : st.texts) {
      if (key.rfind(p + "attr.", 0) == 0) s.attrs[key.substr(p.size() + 5)] = v;
      if (key.rfind(p + "table.", 0) == 0) {
        const std::string name = key.substr(p.size() + 6);
        ResultsTable& t = s.tables[name];
        for (size_t at = 0, next; (next = v.find('\n', at)) != std::string::npos; at = next + 1)
          t.columns.push_back(v.substr(at, next - at));
        t.values = st.get_array(key);
        for (double e : st.get_array(p + "table_epoch." + name)) t.epochs.push_back(static_cast<int64_t>(e));
      }
    }
    s.completed = st.get_int(p + "completed") != 0;
    s.best_epoch = st.get_int(p + "best_epoch");
    s.best_select = st.get_real(p + "best_select");
    s.report_at_best = st.get_real(p + "report_at_best");
    for (double e : st.get_array(p + "epoch")) s.epoch.push_back(static_cast<int64_t>(e));
    for (const auto& [key, v] : st.arrays) {
      if (key.rfind(p + "series.", 0) == 0) s.series[key.substr(p.size() + 7)] = v;
      if (key.rfind(p + "rank_series.", 0) == 0) s.rank_series[key.substr(p.size() + 12)] = v;
      if (key.rfind(p + "rank_counts.", 0) == 0)
        s.rank_counts[key.substr(p.size() + 12)] = std::vector<int64_t>(v.begin(), v.end());
    }
    doc.seeds.push_back(std::move(s));
  }
}

void append_distinct(std::string& list, const std::string& value) {
  if (list.empty()) {
    list = value;
    return;
  }
  if (("; " + list + "; ").find("; " + value + "; ") == std::string::npos) {
    list += "; ";
    list += value;
  }
}

void note_run_environment(SeedResults& run, const std::map<std::string, std::string>& environment) {
  for (const auto& [key, value] : environment) append_distinct(run.attrs[key], value);
}

int64_t keep_completed_runs(const dist::Comm& comm, const JobConfig& config, const EpochJob& job,
                            const std::string& results_path, ResultsDocument& doc) {
  const std::string how =
      "restore the checkpoint, or start afresh with --resume never (which overwrites these results), or use "
      "another output.dir";
  ResultsDocument prior;
  comm.collective([&] {  // every rank reads the same file: an unreadable one fails them all alike
    h5::File f = h5::File::open(results_path, comm);
    if (!f.has_attr("/", "format") || f.attr_string("/", "format") != kResultsFormat)
      fail_input("'{}' is not the results of an epoch-based job (format '{}'), and there is no checkpoint: {}", results_path,
                 f.has_attr("/", "format") ? f.attr_string("/", "format") : std::string("none"), how);
    prior = read_results(f);
    f.close();
  });
  return comm.collective([&]() -> int64_t {
    int64_t completed = 0;
    for (const SeedResults& s : prior.seeds) completed += s.completed ? 1 : 0;
    if (completed == 0) return 0;  // only a run's first epochs: nothing worth keeping
    if (prior.job_kind != config.get_string("job.kind"))
      fail_input("'{}' holds {} completed run(s) of a '{}' job; this job is '{}': {}", results_path, completed,
                 prior.job_kind, config.get_string("job.kind"), how);
    if (!job.runs_independent())
      fail_input("'{}' holds {} completed run(s) but there is no checkpoint to resume from, and this job's runs "
                 "depend on each other: {}", results_path, completed, how);
    const JobConfig saved = JobConfig::parse(prior.config, results_path + " /config", {}, config.schema());
    const std::vector<std::string> conflicts = config.resume_conflicts(saved, "the results");
    if (!conflicts.empty())
      fail_input("'{}' holds {} completed run(s) written with {}: resume with the same settings, or {}", results_path,
                 completed, conflicts.front(), how);
    if (saved.get_int("train.epochs") != config.get_int("train.epochs"))
      fail_input("'{}' holds {} completed run(s) of train.epochs = {}; this job has {}: the runs would not be "
                 "comparable; {}", results_path, completed, saved.get_int("train.epochs"),
                 config.get_int("train.epochs"), how);
    const std::vector<int64_t> seeds = config.get_int_list("train.seeds");
    int64_t kept = 0;
    while (kept < static_cast<int64_t>(prior.seeds.size()) && kept < job.num_runs(seeds)) {
      const SeedResults& s = prior.seeds[static_cast<size_t>(kept)];
      const RunSpec spec = job.run_spec(kept, seeds);
      if (!s.completed || static_cast<uint64_t>(s.seed) != spec.seed || s.name() != spec.label) break;
      ++kept;
    }
    if (kept != completed)
      fail_input("'{}' holds {} completed run(s), of which only the first {} are this job's first runs: {}",
                 results_path, completed, kept, how);
    doc.seeds.assign(prior.seeds.begin(), prior.seeds.begin() + kept);
    return kept;
  });
}

int64_t recorded_steps(const ResultsDocument& doc) {
  int64_t total = 0;
  for (const SeedResults& run : doc.seeds) {
    const auto it = run.series.find("steps");
    if (it == run.series.end() || it->second.size() != run.epoch.size()) return -1;
    for (double steps : it->second) total += static_cast<int64_t>(steps);
  }
  return total;
}

}  // namespace relfm::jobs
