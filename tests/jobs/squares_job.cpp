// A work-item job kind, for tests only: item i's record is i*i and a sentence about it, optionally after
// a pause (to be stopped or killed mid-run). Proves that a job on the work-item runner is one file and
// lets the tests check that a resumed run redoes no finished item, on any number of ranks.
#include "jobs/job_kinds.hpp"

#include <chrono>
#include <thread>

namespace relfm::jobs {
namespace {

class SquaresJob final : public WorkItemJob {
 public:
  void setup(const dist::Comm&, const JobConfig& config) override {
    n_ = config.get_int("work.items");
    pause_ms_ = config.get_int("work.pause_ms");
    pause_even_ms_ = config.get_int("work.pause_even_ms");
    fail_at_ = config.get_int("work.fail_at_item");
  }
  int64_t num_items() const override { return n_; }
  std::string item_unit() const override { return "squares"; }
  ItemRecord process(int64_t item) override {
    if (pause_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms_));
    if (pause_even_ms_ > 0 && item % 2 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(pause_even_ms_));
    if (fail_at_ >= 0 && item == fail_at_) fail_input("squares: item {} is the configured failure (work.fail_at_item)", item);
    ItemRecord r;
    r.numbers["square"] = static_cast<double>(item * item);
    r.texts["sentence"] = fmt::format("{} squared is {} — «ok»", item, item * item);  // UTF-8 on purpose
    return r;
  }
  std::map<std::string, double> summarize(const std::map<int64_t, ItemRecord>& records) const override {
    double sum = 0.0;
    for (const auto& [i, r] : records) sum += r.numbers.at("square");
    return {{"sum_of_squares", sum}};
  }

 private:
  int64_t n_ = 0, pause_ms_ = 0, pause_even_ms_ = 0, fail_at_ = -1;
};

std::vector<KeySpec> squares_keys() {
  return {
      {"work.items", ValueKind::kInt, "100", "Number of items.", {}, 0, {}, Resume::kBlocks},
      {"work.pause_ms", ValueKind::kInt, "0", "Pause before each item (milliseconds).", {}, 0},
      {"work.pause_even_ms", ValueKind::kInt, "0", "Pause before each even item (milliseconds): items of uneven cost.", {}, 0},
      {"work.fail_at_item", ValueKind::kInt, "-1", "Testing aid: processing this item fails (-1 = none).", {}, -1},
  };
}

}  // namespace

RELFM_REGISTER_JOB_KIND(JobKind{.name = "squares",
                                .doc = "Tests only: squares of 0..n-1 on the work-item runner.",
                                .keys = squares_keys,
                                .make_work_job = [] { return std::make_unique<SquaresJob>(); }});

}  // namespace relfm::jobs
