#include "jobs/progress.hpp"

#include "src/core/log.hpp"

#include "src/core/error.hpp"

#include <algorithm>
#include <cstdio>

namespace relfm::jobs {
namespace {

std::string format_duration(double seconds) {
  const auto s = static_cast<long long>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

}  // namespace

ProgressMode parse_progress_mode(const std::string& name, bool is_root, bool stderr_is_terminal) {
  if (!is_root || name == "none") return ProgressMode::kNone;
  if (name == "bar") return ProgressMode::kBar;
  if (name == "lines") return ProgressMode::kLines;
  return stderr_is_terminal ? ProgressMode::kBar : ProgressMode::kLines;  // "auto"
}

void Progress::begin_epoch(const std::string& run, int64_t epoch, int64_t steps, int64_t molecules_per_epoch) {
  run_ = run;
  epoch_ = epoch;
  steps_ = steps;
  step_ = 0;
  molecules_ = 0;
  molecules_total_ = molecules_per_epoch;
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

void Progress::update(int64_t step_done, int64_t molecules_done, double loss) {
  step_ = step_done;
  molecules_ = molecules_done;
  loss_ = loss;
  if (mode_ != ProgressMode::kBar) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < std::chrono::milliseconds(200) && step_ < steps_) return;
  last_draw_ = now;
  draw(false);
}

void Progress::draw(bool final_draw) {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(molecules_) / elapsed : 0.0;
  const double remaining = rate > 0 ? static_cast<double>(molecules_total_ - molecules_) / rate : 0.0;
  // Job ETA: this epoch's rest, then the later epochs at the mean epoch time so far (this one's estimate
  // until one has finished).
  const double per_epoch = epochs_timed_ > 0 ? epoch_seconds_total_ / static_cast<double>(epochs_timed_) : elapsed + remaining;
  const double job_remaining = remaining + per_epoch * static_cast<double>(std::max<int64_t>(epochs_left_ - 1, 0));
  constexpr int kWidth = 24;
  const int filled = steps_ > 0 ? static_cast<int>(kWidth * step_ / steps_) : kWidth;
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kWidth, '.');
  std::fprintf(stderr, "\r  run %s epoch %lld/%lld [%s] %3lld%% %7.0f mol/s  ETA %4.0fs (job %s)  loss %.4f%s",
               run_.c_str(), static_cast<long long>(epoch_), static_cast<long long>(total_epochs_),
               bar.c_str(), static_cast<long long>(steps_ > 0 ? 100 * step_ / steps_ : 100), rate, remaining,
               format_duration(job_remaining).c_str(), loss_, final_draw ? "" : "   ");
  std::fflush(stderr);
}

void Progress::end_epoch(const std::string& summary) {
  epoch_seconds_total_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  ++epochs_timed_;
  if (epochs_left_ > 0) --epochs_left_;
  if (mode_ == ProgressMode::kNone) return;
  if (mode_ == ProgressMode::kBar) std::fprintf(stderr, "\r\033[K");
  std::fprintf(stderr, "  %s\n", summary.c_str());
  std::fflush(stderr);
}

void Progress::message(const std::string& text) {
  if (mode_ == ProgressMode::kNone) return;
  logging::info("{}", text);
}

}  // namespace relfm::jobs
