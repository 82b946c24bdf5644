#include "io/results.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace relfm {

SummaryStats summarize(const std::vector<double>& values) {
  SummaryStats s;
  s.count = static_cast<int64_t>(values.size());
  if (values.empty()) return s;
  for (double v : values) s.mean += v;
  s.mean /= static_cast<double>(values.size());
  for (double v : values) s.std += (v - s.mean) * (v - s.mean);
  s.std = std::sqrt(s.std / static_cast<double>(values.size()));
  return s;
}

SummaryStats summarize_report(const ResultsDocument& doc) {
  std::vector<double> done;
  for (const auto& s : doc.seeds)
    if (s.completed) done.push_back(s.report_at_best);
  return summarize(done);
}

void SeedResults::add_epoch(int64_t number, const std::map<std::string, double>& values,
                            const std::map<std::string, std::vector<double>>& per_rank, const SummaryRule& rule) {
  epoch.push_back(number);
  for (const auto& [name, v] : values) series[name].push_back(v);
  for (const auto& [name, v] : per_rank) {
    // A run resumed on another number of ranks (at an epoch boundary) has rows of another width: the
    // series keeps the widest, NaN where a rank did not exist.
    std::vector<double>& rows = rank_series[name];
    const size_t earlier = epoch.size() - 1;
    // (Histories written before rows were padded may be ragged: refuse them rather than misalign.)
    RELFM_CHECK(earlier == 0 || rows.size() % earlier == 0,
                "per-rank series '{}': {} values for {} epochs (a history of rows of different widths)", name, rows.size(),
                earlier);
    const size_t width = earlier > 0 ? rows.size() / earlier : v.size();
    if (v.size() > width) {
      std::vector<double> wider(earlier * v.size(), std::nan(""));
      for (size_t e = 0; e < earlier; ++e) std::copy_n(rows.begin() + e * width, width, wider.begin() + e * v.size());
      rows = std::move(wider);
    }
    rows.insert(rows.end(), v.begin(), v.end());
    rows.resize(epoch.size() * std::max(width, v.size()), std::nan(""));
  }
  const auto pick = values.find(rule.select);
  const auto report = values.find(rule.report);
  if (pick == values.end() || report == values.end()) return;
  const double candidate = pick->second;
  const bool better = !std::isnan(candidate) &&
                      (best_epoch == 0 || std::isnan(best_select) ||
                       (rule.higher_is_better ? candidate > best_select : candidate < best_select));
  if (better) {
    best_select = candidate;
    best_epoch = number;
    report_at_best = report->second;
  }
}

void SeedResults::add_table_rows(const std::string& table, int64_t number, const ResultsTable& rows) {
  ResultsTable& t = tables[table];
  if (t.columns.empty()) t.columns = rows.columns;
  RELFM_CHECK(t.columns == rows.columns, "results table '{}': the columns changed between epochs", table);
  RELFM_CHECK(rows.values.size() % std::max<size_t>(1, rows.columns.size()) == 0, "results table '{}': ragged rows", table);
  const size_t n = rows.columns.empty() ? 0 : rows.values.size() / rows.columns.size();
  t.values.insert(t.values.end(), rows.values.begin(), rows.values.end());
  t.epochs.insert(t.epochs.end(), n, number);
}

void write_results(const std::string& path, const dist::Comm& comm, const ResultsDocument& doc) {
  std::vector<int64_t> seeds, best_epoch, completed;
  std::vector<double> best_select, report_at_best, done_report, done_select;
  std::vector<std::string> runs;
  for (const auto& s : doc.seeds) {
    seeds.push_back(s.seed);
    runs.push_back(s.name());
    best_epoch.push_back(s.best_epoch);
    completed.push_back(s.completed ? 1 : 0);
    best_select.push_back(s.best_select);
    report_at_best.push_back(s.report_at_best);
    if (s.completed) {
      done_report.push_back(s.report_at_best);
      done_select.push_back(s.best_select);
    }
  }
  const SummaryStats report = summarize(done_report), select = summarize(done_select);
  h5::write_on_root(path, comm, [&](h5::File& f) {
    f.set_attr("/", "format", std::string(kResultsFormat));
    f.set_attr("/", "format_version", kResultsFormatVersion);
    f.set_attr("/", "job", doc.job);
    f.set_attr("/", "job_kind", doc.job_kind);
    f.set_attr("/", "world_size", doc.world_size);
    f.set_attr("/", "num_seeds", static_cast<int64_t>(doc.seeds.size()));
    f.set_attr("/", "seeds_completed", report.count);
    f.set_attr("/", "select_series", doc.rule.select);
    f.set_attr("/", "report_series", doc.rule.report);
    f.set_attr("/", "higher_is_better", static_cast<int64_t>(doc.rule.higher_is_better));
    f.set_attr("/", "summary_mean", report.mean);
    f.set_attr("/", "summary_std", report.std);
    f.set_attr("/", "select_mean", select.mean);
    f.set_attr("/", "select_std", select.std);
    for (const auto& [k, v] : doc.attrs) f.set_attr("/", k, v);
    for (const auto& [k, v] : doc.number_attrs) f.set_attr("/", k, v);
    for (const auto& [k, v] : doc.integer_attrs) f.set_attr("/", k, v);
    f.write_text("/config", doc.config);
    f.write_strings("/summary/run", runs);
    f.write_replicated("/summary/seed", seeds);
    f.write_replicated("/summary/best_epoch", best_epoch);
    f.write_replicated("/summary/best_select", best_select);
    f.write_replicated("/summary/report_at_best", report_at_best);
    f.write_replicated("/summary/completed", completed);
    for (const auto& s : doc.seeds) {
      const std::string g = "/seeds/" + s.name();
      const int64_t e = static_cast<int64_t>(s.epoch.size());
      f.write_replicated(g + "/epoch", s.epoch);
      for (const auto& [name, v] : s.series) f.write_replicated(g + "/" + name, v);
      // Columns from the data: a run kept from an earlier job (resume) may have run on another number of ranks.
      for (const auto& [name, v] : s.rank_series)
        f.write_replicated(g + "/" + name, v.data(), {e, e > 0 ? static_cast<int64_t>(v.size()) / e : doc.world_size});
      for (const auto& [name, v] : s.rank_counts) f.write_replicated(g + "/" + name, v);
      f.set_attr(g, "best_epoch", s.best_epoch);
      f.set_attr(g, "best_select", s.best_select);
      f.set_attr(g, "report_at_best", s.report_at_best);
      f.set_attr(g, "completed", static_cast<int64_t>(s.completed));
      f.set_attr(g, "seed", s.seed);
      for (const auto& [k, v] : s.attrs) f.set_attr(g, k, v);
      for (const auto& [name, t] : s.tables) {
        f.write_replicated(g + "/" + name, t.values.data(), {t.rows(), static_cast<int64_t>(t.columns.size())});
        f.set_attr(g + "/" + name, "columns", t.columns);
        f.write_replicated(g + "/" + name + "_epoch", t.epochs);
      }
    }
  });
}

namespace {

// The attributes write_results sets itself (the rest are the job's and the run's).
constexpr const char* kFixedRootAttrs[] = {"format", "format_version", "job", "job_kind", "world_size", "num_seeds",
                                           "seeds_completed", "select_series", "report_series", "higher_is_better",
                                           "summary_mean", "summary_std", "select_mean", "select_std"};
constexpr const char* kFixedRunAttrs[] = {"best_epoch", "best_select", "report_at_best", "completed", "seed"};

template <size_t N>
bool is_one_of(const std::string& name, const char* const (&names)[N]) {
  for (const char* k : names)
    if (name == k) return true;
  return false;
}

// The runs' group names in run order (format_version 2 had no /summary/run: the seeds name them).
std::vector<std::string> run_names(const h5::File& f, const std::vector<int64_t>& seeds) {
  if (f.exists("/summary/run")) return f.read_strings("/summary/run");
  std::vector<std::string> runs;
  for (int64_t s : seeds) runs.push_back(std::to_string(s));
  return runs;
}

}  // namespace

ResultsDocument read_results(const h5::File& f) {
  f.expect_format(kResultsFormat, kResultsFormatVersion);
  ResultsDocument doc;
  doc.job = f.attr_string("/", "job");
  doc.job_kind = f.attr_string("/", "job_kind");
  doc.world_size = f.attr_int("/", "world_size");
  doc.config = f.read_text("/config");
  doc.rule.select = f.attr_string("/", "select_series");
  doc.rule.report = f.attr_string("/", "report_series");
  doc.rule.higher_is_better = f.attr_int("/", "higher_is_better") != 0;
  for (const std::string& name : f.attr_names("/")) {
    if (is_one_of(name, kFixedRootAttrs)) continue;
    if (f.attr_is_string("/", name)) doc.attrs[name] = f.attr_string("/", name);
    else if (f.attr_is_integer("/", name)) doc.integer_attrs[name] = f.attr_int("/", name);
    else doc.number_attrs[name] = f.attr_double("/", name);
  }
  const auto seeds = f.read_rows<int64_t>("/summary/seed");
  const auto runs = run_names(f, seeds);
  if (runs.size() != seeds.size())
    fail_input("'{}': /summary/run names {} runs, /summary/seed {}", f.path(), runs.size(), seeds.size());
  for (size_t i = 0; i < seeds.size(); ++i) {
    const std::string g = "/seeds/" + runs[i];
    SeedResults s;
    s.seed = seeds[i];
    if (runs[i] != std::to_string(seeds[i])) s.label = runs[i];
    s.completed = f.attr_int(g, "completed") != 0;
    s.best_epoch = f.attr_int(g, "best_epoch");
    s.best_select = f.attr_double(g, "best_select");
    s.report_at_best = f.attr_double(g, "report_at_best");
    for (const std::string& name : f.attr_names(g))
      if (!is_one_of(name, kFixedRunAttrs) && f.attr_is_string(g, name)) s.attrs[name] = f.attr_string(g, name);
    s.epoch = f.read_rows<int64_t>(g + "/epoch");
    const std::vector<std::string> names = f.list(g);
    std::vector<std::string> table_epochs;  // "<table>_epoch": read with their table
    for (const std::string& name : names)
      if (f.has_attr(g + "/" + name, "columns")) table_epochs.push_back(name + "_epoch");
    for (const std::string& name : names) {
      const std::string d = g + "/" + name;
      if (name == "epoch" || std::find(table_epochs.begin(), table_epochs.end(), name) != table_epochs.end()) continue;
      if (f.has_attr(d, "columns")) {
        ResultsTable& t = s.tables[name];
        t.columns = f.attr_strings(d, "columns");
        t.values = f.read_rows<double>(d);
        t.epochs = f.read_rows<int64_t>(d + "_epoch");
      } else if (f.is_integer(d)) {
        s.rank_counts[name] = f.read_rows<int64_t>(d);  // [P]
      } else if (f.dims(d).size() == 2) {
        s.rank_series[name] = f.read_rows<double>(d);  // [E, P]
      } else {
        s.series[name] = f.read_rows<double>(d);
      }
    }
    doc.seeds.push_back(std::move(s));
  }
  return doc;
}

void inspect_results(const h5::File& f) {
  const std::string select = f.attr_string("/", "select_series"), report = f.attr_string("/", "report_series");
  std::printf("results of job '%s' (kind %s, format_version %lld), %lld rank(s)\n", f.attr_string("/", "job").c_str(),
              f.attr_string("/", "job_kind").c_str(), static_cast<long long>(f.attr_int("/", "format_version")),
              static_cast<long long>(f.attr_int("/", "world_size")));
  for (const std::string& name : f.attr_names("/")) {
    if (is_one_of(name, kFixedRootAttrs)) continue;
    if (f.attr_is_string("/", name)) std::printf("  %-22s %s\n", name.c_str(), f.attr_string("/", name).c_str());
    else if (f.attr_is_integer("/", name)) std::printf("  %-22s %lld\n", name.c_str(), static_cast<long long>(f.attr_int("/", name)));
    else std::printf("  %-22s %g\n", name.c_str(), f.attr_double("/", name));
  }
  const auto seeds = f.read_rows<int64_t>("/summary/seed");
  const std::vector<std::string> runs = run_names(f, seeds);
  const auto best = f.read_rows<int64_t>("/summary/best_epoch");
  const auto best_select = f.read_rows<double>("/summary/best_select");
  const auto at_best = f.read_rows<double>("/summary/report_at_best");
  const auto done = f.read_rows<int64_t>("/summary/completed");
  std::printf("  %8s %6s %8s %10s %16s %16s %14s\n", "run", "seed", "epochs", "best epoch", select.c_str(), report.c_str(),
              "items/s (mean)");
  for (size_t i = 0; i < seeds.size(); ++i) {
    const std::string g = "/seeds/" + runs[i];
    double mean_rate = 0;
    size_t epochs = f.dims(g + "/epoch")[0];
    for (const std::string& name : f.list(g)) {
      if (name.size() < 11 || name.compare(name.size() - 11, 11, "_per_second") != 0) continue;
      const auto rate = f.read_rows<double>(g + "/" + name);
      for (double r : rate) mean_rate += r;
      if (!rate.empty()) mean_rate /= static_cast<double>(rate.size());
      break;
    }
    std::printf("  %8s %6lld %8zu %10lld %16.4f %16.4f %14.0f%s\n", runs[i].c_str(), static_cast<long long>(seeds[i]), epochs,
                static_cast<long long>(best[i]), best_select[i], at_best[i], mean_rate, done[i] ? "" : "  (incomplete)");
    for (const std::string& name : f.attr_names(g)) {
      if (is_one_of(name, kFixedRunAttrs) || !f.attr_is_string(g, name)) continue;
      // Where the run trained (cpu, gemm_*) is shown only when it is not where the file's last session ran.
      const std::string value = f.attr_string(g, name);
      if (f.has_attr("/", name) && f.attr_is_string("/", name) && f.attr_string("/", name) == value) continue;
      std::printf("           %-14s %s\n", name.c_str(), value.c_str());
    }
    for (const std::string& name : f.list(g))
      if (f.has_attr(g + "/" + name, "columns")) {
        const auto d = f.dims(g + "/" + name);
        std::printf("           table %-8s [%lld rows x %lld columns]\n", name.c_str(), static_cast<long long>(d[0]),
                    static_cast<long long>(d.size() > 1 ? d[1] : 1));
      }
  }
  std::printf("  %s at the best %s: %.4f +/- %.4f over %lld completed seed(s)\n", report.c_str(), select.c_str(),
              f.attr_double("/", "summary_mean"), f.attr_double("/", "summary_std"),
              static_cast<long long>(f.attr_int("/", "seeds_completed")));
}

}  // namespace relfm
