#include "src/sampler/walk_batches.hpp"

#include "src/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace relfm::sampler {
namespace {

constexpr uint64_t kWalkBatchStream = 0x5752'4252;  // "WRBR": the streams of walk batches

}  // namespace

EpochMode parse_epoch_mode(const std::string& text) {
  if (text == "official") return EpochMode::kOfficial;
  if (text == "strict") return EpochMode::kStrict;
  if (text == "fixed") return EpochMode::kFixed;
  fail_input("epoch mode '{}': expected official, strict or fixed", text);
}

std::string to_string(EpochMode mode) {
  switch (mode) {
    case EpochMode::kOfficial: return "official";
    case EpochMode::kStrict: return "strict";
    case EpochMode::kFixed: return "fixed";
  }
  return "?";
}

void WalkBatchConfig::validate() const {
  if (batch_size < 1) fail_input("batch size {} must be at least 1", batch_size);
  if (!(restart >= 0 && restart < 1)) fail_input("restart probability {} must be in [0, 1)", restart);
  if (official_schedule && !(schedule_floor >= 0 && schedule_floor < 1 && schedule_decay >= 0))
    fail_input("restart schedule: floor {} must be in [0, 1) and decay {} >= 0", schedule_floor, schedule_decay);
  if (mode == EpochMode::kFixed && batches_per_epoch < 1)
    fail_input("epoch mode fixed needs batches per epoch >= 1 (got {})", batches_per_epoch);
  if (step_cap < 0 || step_cap > int64_t{1} << 31) fail_input("step cap {} must be in [0, 2^31]", step_cap);
}

double WalkBatchConfig::restart_at(int64_t epoch) const {
  if (!official_schedule) return restart;
  return std::max(schedule_floor, restart - schedule_decay * static_cast<double>(epoch));
}

uint32_t WalkBatchConfig::step_cap_or_default() const {
  const int64_t cap = step_cap > 0 ? step_cap : std::min<int64_t>(100 * batch_size, int64_t{1} << 31);
  return static_cast<uint32_t>(cap);
}

Coverage::Coverage(int64_t n) : covered_(static_cast<size_t>(n)), position_(static_cast<size_t>(n)) { reset(); }

void Coverage::cover(VertexId v) {
  const int64_t p = position_[static_cast<size_t>(v)];
  if (p < 0) return;
  const VertexId last = uncovered_.back();
  uncovered_[static_cast<size_t>(p)] = last;
  position_[static_cast<size_t>(last)] = p;
  uncovered_.pop_back();
  position_[static_cast<size_t>(v)] = -1;
  covered_[static_cast<size_t>(v)] = 1;
}

void Coverage::reset() {
  const auto n = static_cast<VertexId>(covered_.size());
  std::fill(covered_.begin(), covered_.end(), 0);
  uncovered_.resize(static_cast<size_t>(n));
  for (VertexId v = 0; v < n; ++v) {
    uncovered_[static_cast<size_t>(v)] = v;
    position_[static_cast<size_t>(v)] = v;
  }
}

void Coverage::restore(const std::vector<VertexId>& uncovered) {
  std::fill(covered_.begin(), covered_.end(), 1);
  std::fill(position_.begin(), position_.end(), -1);
  uncovered_ = uncovered;
  for (size_t i = 0; i < uncovered_.size(); ++i) {
    const VertexId v = uncovered_[i];
    if (v < 0 || v >= size() || position_[static_cast<size_t>(v)] >= 0)
      fail_input("walk batches: a saved coverage lists vertex {} out of range or twice", v);
    position_[static_cast<size_t>(v)] = static_cast<int64_t>(i);
    covered_[static_cast<size_t>(v)] = 0;
  }
}

WalkBatchPlanner::WalkBatchPlanner(int64_t num_vertices, WalkBatchConfig config, uint64_t seed, RunWalks run_walks)
    : n_(num_vertices), config_(config), seed_(seed), run_walks_(std::move(run_walks)), coverage_(num_vertices) {
  config_.validate();
  if (n_ < 1) fail_input("walk batches over an empty graph");
}

void WalkBatchPlanner::begin_epoch(int64_t epoch) {
  epoch_ = epoch;
  batch_index_ = 0;
  alpha_ = config_.restart_at(epoch);
  coverage_.reset();
  const CounterRng base = CounterRng(seed_, RngPurpose::kSampler, kWalkBatchStream).derive(static_cast<uint64_t>(epoch));
  walk_rng_ = base.derive(1);
  start_rng_ = base.derive(2);
  fill_rng_ = base.derive(3);
  leftover_started_ = false;
  leftover_.clear();
  leftover_next_ = 0;
}

// Layout: [n, epoch, batch_index, leftover_started, leftover_next, u, uncovered (u), l, leftover (l)].
std::vector<int64_t> WalkBatchPlanner::save_state() const {
  std::vector<int64_t> out = {n_, epoch_, batch_index_, leftover_started_ ? 1 : 0, static_cast<int64_t>(leftover_next_)};
  out.push_back(coverage_.uncovered_count());
  out.insert(out.end(), coverage_.uncovered().begin(), coverage_.uncovered().end());
  out.push_back(static_cast<int64_t>(leftover_.size()));
  out.insert(out.end(), leftover_.begin(), leftover_.end());
  return out;
}

void WalkBatchPlanner::restore_state(const std::vector<int64_t>& state) {
  auto bad = [&] { fail_input("walk batches: the saved planner state does not fit a graph of {} vertices", n_); };
  if (state.size() < 7 || state[0] != n_) bad();
  const auto u = static_cast<size_t>(state[5]);
  if (state[5] < 0 || 6 + u >= state.size()) bad();
  const auto l = static_cast<size_t>(state[6 + u]);
  if (state[6 + u] < 0 || 7 + u + l != state.size()) bad();
  begin_epoch(state[1]);  // the epoch's alpha and streams
  batch_index_ = state[2];
  leftover_started_ = state[3] != 0;
  leftover_next_ = static_cast<size_t>(state[4]);
  coverage_.restore(std::vector<VertexId>(state.begin() + 6, state.begin() + 6 + static_cast<std::ptrdiff_t>(u)));
  leftover_.assign(state.begin() + 7 + static_cast<std::ptrdiff_t>(u), state.end());
  if (leftover_next_ > leftover_.size()) bad();
}

bool WalkBatchPlanner::epoch_done() const {
  RELFM_CHECK(epoch_ >= 0, "walk batches: begin_epoch was not called");
  switch (config_.mode) {
    case EpochMode::kOfficial:
    case EpochMode::kStrict:
      if (!leftover_started_) return coverage_.uncovered_count() == 0;
      return leftover_next_ >= leftover_.size();
    case EpochMode::kFixed: return batch_index_ >= config_.batches_per_epoch;
  }
  return true;
}

WalkBatch WalkBatchPlanner::next_batch() {
  RELFM_CHECK(!epoch_done(), "walk batches: epoch {} has no batch left", epoch_);
  WalkBatch batch;
  switch (config_.mode) {
    case EpochMode::kOfficial: {
      const int64_t whole = n_ / config_.batch_size * config_.batch_size;
      batch = (!leftover_started_ && coverage_.covered_count() < whole) ? walk_batch() : leftover_batch();
      break;
    }
    case EpochMode::kStrict:
      batch = (!leftover_started_ && coverage_.uncovered_count() > config_.batch_size) ? walk_batch() : leftover_batch();
      break;
    case EpochMode::kFixed:
      if (coverage_.uncovered_count() == 0) coverage_.reset();
      batch = walk_batch();
      break;
  }
  ++batch_index_;
  return batch;
}

WalkBatch WalkBatchPlanner::walk_batch() {
  const auto index = static_cast<uint64_t>(batch_index_);
  const auto target = static_cast<uint32_t>(std::min(config_.batch_size, n_));
  Walker walker;
  walker.id = index;
  walker.start = coverage_.uncovered_at(
      static_cast<int64_t>(start_rng_.below(index, static_cast<uint64_t>(coverage_.uncovered_count()))));
  walker.cur = walker.start;
  WalkRule rule;
  rule.alpha = alpha_;
  rule.action = AlphaAction::kRestart;
  rule.max_steps = config_.step_cap_or_default();
  rule.distinct_target = target;
  const bool strict = config_.mode == EpochMode::kStrict;
  WalkResult result = run_walks_(std::span<const Walker>(&walker, 1), rule, walk_rng_, strict ? &coverage_.flags() : nullptr);
  RELFM_CHECK(result.walkers.size() == 1 && result.walkers[0].id == index, "walk batches: walk {} did not come back",
              index);

  WalkBatch batch;
  batch.walk_steps = result.walkers[0].steps;
  batch.vertices.reserve(target);
  for (const VisitRecord& r : result.records) batch.vertices.push_back(r.vertex);
  if (batch.vertices.size() < target) {
    std::vector<uint8_t> in_batch(static_cast<size_t>(n_), 0);
    for (VertexId v : batch.vertices) in_batch[static_cast<size_t>(v)] = 1;
    fill(batch, in_batch);
  }
  for (VertexId v : batch.vertices) coverage_.cover(v);
  return batch;
}

void WalkBatchPlanner::fill(WalkBatch& batch, std::vector<uint8_t>& in_batch) {
  // Uncovered vertices first (they are what the epoch still needs), then any vertex outside the batch;
  // each pool in a random order from the batch's own fill stream.
  const auto target = static_cast<size_t>(std::min(config_.batch_size, n_));
  const CounterRng rng = fill_rng_.derive(static_cast<uint64_t>(batch_index_));
  for (int pass = 0; pass < 2 && batch.vertices.size() < target; ++pass) {
    std::vector<VertexId> pool;
    for (VertexId v = 0; v < n_; ++v)
      if (!in_batch[static_cast<size_t>(v)] && (pass == 1 || !coverage_.covered(v))) pool.push_back(v);
    for (size_t i = 0; i < pool.size() && batch.vertices.size() < target; ++i) {
      const size_t j = i + static_cast<size_t>(rng.derive(pass).below(i, pool.size() - i));
      std::swap(pool[i], pool[j]);
      in_batch[static_cast<size_t>(pool[i])] = 1;
      batch.vertices.push_back(pool[i]);
      ++batch.filled;
    }
  }
}

WalkBatch WalkBatchPlanner::leftover_batch() {
  if (!leftover_started_) {
    leftover_started_ = true;
    for (int64_t i = 0; i < coverage_.uncovered_count(); ++i) leftover_.push_back(coverage_.uncovered_at(i));
    std::sort(leftover_.begin(), leftover_.end());  // a canonical order before the shuffle
    const std::vector<int64_t> order = random_permutation(fill_rng_.derive(~0ULL), static_cast<int64_t>(leftover_.size()));
    std::vector<VertexId> shuffled(leftover_.size());
    for (size_t i = 0; i < order.size(); ++i) shuffled[i] = leftover_[static_cast<size_t>(order[i])];
    leftover_ = std::move(shuffled);
  }
  WalkBatch batch;
  batch.from_walk = false;
  const size_t end = std::min(leftover_.size(), leftover_next_ + static_cast<size_t>(config_.batch_size));
  batch.vertices.assign(leftover_.begin() + static_cast<std::ptrdiff_t>(leftover_next_),
                        leftover_.begin() + static_cast<std::ptrdiff_t>(end));
  leftover_next_ = end;
  for (VertexId v : batch.vertices) coverage_.cover(v);
  return batch;
}

RunWalks local_walk_runner(const WalkGraph& graph) {
  return [&graph](std::span<const Walker> walks, const WalkRule& rule, const CounterRng& rng,
                  const std::vector<uint8_t>* excluded) {
    WalkResult result;
    result.walkers.assign(walks.begin(), walks.end());
    FirstVisits visits(excluded);
    std::vector<Walker> departed;
    WalkEngine(graph, rule, rng).advance(result.walkers, departed, visits);
    RELFM_CHECK(departed.empty(), "local walks: {} walkers left a graph that holds every vertex", departed.size());
    result.records = visits.take_records();
    sort_records(result.records);
    std::sort(result.walkers.begin(), result.walkers.end(), [](const Walker& a, const Walker& b) { return a.id < b.id; });
    return result;
  };
}

}  // namespace relfm::sampler
