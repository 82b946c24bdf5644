#include "io/results.hpp"

#include <cmath>

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

void write_results(const std::string& path, const dist::Comm& comm, const ResultsDocument& doc) {
  std::vector<int64_t> seeds, best_epoch, completed;
  std::vector<double> best_valid, test_at_best, done_test, done_valid;
  for (const auto& s : doc.seeds) {
    seeds.push_back(s.seed);
    best_epoch.push_back(s.best_epoch);
    completed.push_back(s.completed ? 1 : 0);
    best_valid.push_back(s.best_valid);
    test_at_best.push_back(s.test_at_best);
    if (s.completed) {
      done_test.push_back(s.test_at_best);
      done_valid.push_back(s.best_valid);
    }
  }
  const SummaryStats test = summarize(done_test), valid = summarize(done_valid);
  h5::write_atomically(path, comm, [&](h5::File& f) {
    f.set_attr("/", "format", std::string(kResultsFormat));
    f.set_attr("/", "format_version", kResultsFormatVersion);
    f.set_attr("/", "job", doc.job);
    f.set_attr("/", "dataset", doc.dataset);
    f.set_attr("/", "task_type", doc.task_type);
    f.set_attr("/", "metric", doc.metric);
    f.set_attr("/", "higher_is_better", static_cast<int64_t>(doc.higher_is_better));
    f.set_attr("/", "world_size", doc.world_size);
    f.set_attr("/", "num_seeds", static_cast<int64_t>(doc.seeds.size()));
    f.set_attr("/", "seeds_completed", test.count);
    f.set_attr("/", "test_mean", test.mean);
    f.set_attr("/", "test_std", test.std);
    f.set_attr("/", "valid_mean", valid.mean);
    f.set_attr("/", "valid_std", valid.std);
    f.write_text("/config", doc.config);
    f.write_replicated("/summary/seed", seeds);
    f.write_replicated("/summary/best_epoch", best_epoch);
    f.write_replicated("/summary/best_valid", best_valid);
    f.write_replicated("/summary/test_at_best", test_at_best);
    f.write_replicated("/summary/completed", completed);
    for (const auto& s : doc.seeds) {
      const std::string g = "/seeds/" + std::to_string(s.seed);
      const int64_t e = static_cast<int64_t>(s.epoch.size());
      f.write_replicated(g + "/epoch", s.epoch);
      f.write_replicated(g + "/train_loss", s.train_loss);
      f.write_replicated(g + "/valid_" + doc.metric, s.valid_metric);
      f.write_replicated(g + "/test_" + doc.metric, s.test_metric);
      f.write_replicated(g + "/train_seconds", s.train_seconds);
      f.write_replicated(g + "/eval_seconds", s.eval_seconds);
      f.write_replicated(g + "/molecules_per_second", s.molecules_per_second);
      f.write_replicated(g + "/rank_train_seconds", s.rank_train_seconds.data(), {e, doc.world_size});
      f.write_replicated(g + "/rank_allreduce_seconds", s.rank_allreduce_seconds.data(), {e, doc.world_size});
      f.write_replicated(g + "/rank_molecules", s.rank_molecules);
      f.write_replicated(g + "/rank_atoms", s.rank_atoms);
      f.set_attr(g, "best_epoch", s.best_epoch);
      f.set_attr(g, "best_valid", s.best_valid);
      f.set_attr(g, "test_at_best", s.test_at_best);
      f.set_attr(g, "completed", static_cast<int64_t>(s.completed));
    }
  });
}

}  // namespace relfm
