#include "jobs/results_history.hpp"

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

}  // namespace relfm::jobs
