// The engine's inner loop (a template over the visitor, so that a no-op visitor costs nothing).
// Included by walk_engine.hpp only.
#pragma once

#include <algorithm>

namespace relfm::sampler {

inline WalkEngine::WalkEngine(const WalkGraph& graph, WalkRule rule, CounterRng rng)
    : graph_(graph), rule_(rule), rng_(rng) {
  if (!(rule.alpha >= 0.0 && rule.alpha <= 1.0)) fail_input("random walk: alpha = {} is not in [0, 1]", rule.alpha);
  // A restart walk ends only by its distinct target, which a small component may never reach.
  RELFM_CHECK(rule.action != AlphaAction::kRestart || rule.max_steps > 0, "a restart walk needs a step cap");
  alpha_always_ = rule.alpha >= 1.0;
  alpha_threshold_ = static_cast<uint32_t>(std::min(rule.alpha * 0x1.0p32, 0x1.0p32 - 1.0));
}

inline uint32_t WalkEngine::uniform_slot(const uint32_t* words, const Walker& w, uint32_t degree) const {
  // words[0] and words[1]: the first and the retry draw. Accepting a draw only outside the rejection band
  // makes each accepted value exactly uniform. The band lies below `degree`, so its size (a division,
  // as slow as the rest of the step) is computed only in the rare case that the low word is that small.
  for (int attempt = 0; attempt < 2; ++attempt) {
    const uint64_t m = static_cast<uint64_t>(words[attempt]) * degree;
    const auto low = static_cast<uint32_t>(m);
    if (low >= degree || low >= (0u - degree) % degree) return static_cast<uint32_t>(m >> 32);
  }
  return static_cast<uint32_t>(rng_.with_stream(w.id).derive(w.steps).below(0, degree));
}

template <class Visitor>
AdvanceCounts WalkEngine::advance(std::vector<Walker>& walkers, std::vector<Walker>& departed,
                                  Visitor& visitor) const {
  std::vector<uint8_t> leaves(walkers.size(), 0);
  const size_t before = departed.size();
  auto sink = [&](const Walker& w) {
    leaves[static_cast<size_t>(&w - walkers.data())] = 1;
    departed.push_back(w);
  };
  AdvanceCounts counts = advance_into(walkers, visitor, sink);
  if (departed.size() > before) {
    size_t out = 0;
    for (size_t i = 0; i < walkers.size(); ++i)
      if (!leaves[i]) walkers[out++] = walkers[i];
    walkers.resize(out);
  }
  return counts;
}

template <class Visitor, class Sink>
AdvanceCounts WalkEngine::advance_into(std::vector<Walker>& walkers, Visitor& visitor, Sink& sink) const {
  AdvanceCounts counts;
  const VertexId first = graph_.first();
  const int64_t* row_ptr = graph_.row_ptr();
  const WalkEdge* edges = graph_.edges();
  const float* alias_probability = graph_.alias_probability();
  const int32_t* alias_slot = graph_.alias_slot();
  const bool weighted = graph_.weighted();
  const uint32_t target = rule_.distinct_target;
  const bool restart = rule_.action == AlphaAction::kRestart;

  // A walker on an owned vertex it has not visited yet: visit it; false when that ends the walk.
  auto land = [&](Walker& w) {
    w.arriving = false;
    if (visitor.arrive(w, w.cur) && ++w.distinct >= target && target > 0) {
      w.status = WalkStatus::kReachedTarget;
      return false;
    }
    return true;
  };
  auto leave = [&](uint32_t i) {
    walkers[i].arriving = true;  // row_begin/row_degree: the row on the new owner (-1 when unknown)
    sink(walkers[i]);
    ++counts.departed;
  };

  std::vector<uint32_t> queue;
  queue.reserve(walkers.size());
  for (uint32_t i = 0; i < walkers.size(); ++i) {
    Walker& w = walkers[i];
    if (w.status != WalkStatus::kRunning) continue;
    if (!graph_.owns(w.cur)) {
      leave(i);
      continue;
    }
    if (w.arriving && !land(w)) continue;
    queue.push_back(i);
  }

  enum : uint8_t { kMove, kJumpToStart, kDone, kLeft };
  // A lane knows the row of its walker's vertex and of its start (begin -1: another process owns the
  // start), so the only random read of a step is the chosen edge, which carries the next row.
  uint32_t lane_walker[kLanes];
  int64_t lane_begin[kLanes];
  uint32_t lane_degree[kLanes];
  uint8_t action[kLanes];
  int64_t entry[kLanes];
  uint64_t blocks[kLanes], streams[kLanes];
  alignas(64) uint32_t words[4][kLanes];
  auto row_of = [&](VertexId v, int64_t& begin, uint32_t& degree) {
    if (!graph_.owns(v)) {
      begin = -1;
      degree = 0;
      return;
    }
    begin = row_ptr[v - first];
    degree = static_cast<uint32_t>(row_ptr[v - first + 1] - begin);
  };
  size_t next = 0;
  int active = 0;
  while (true) {
    while (active < kLanes && next < queue.size()) {
      const uint32_t i = queue[next++];
      Walker& w = walkers[i];
      lane_walker[active] = i;
      if (w.row_begin < 0) row_of(w.cur, w.row_begin, w.row_degree);
      lane_begin[active] = w.row_begin;
      lane_degree[active] = w.row_degree;
      ++active;
    }
    if (active == 0) break;

    if (active == 1) {
      // One walk in flight (a batch's single walk with restart): a scalar block, not sixteen lanes of
      // which fifteen would be thrown away.
      const Walker& w = walkers[lane_walker[0]];
      uint32_t block[4];
      rng_.with_stream(w.id).block(w.steps, block);
      for (int k = 0; k < 4; ++k) words[k][0] = block[k];
    } else {
      const int filled = (active + 15) / 16 * 16;  // whole groups of 16 lanes; spare lanes repeat the last
      for (int l = 0; l < filled; ++l) {
        const Walker& w = walkers[lane_walker[std::min(l, active - 1)]];
        blocks[l] = w.steps;
        streams[l] = w.id;
      }
      for (int g = 0; g < active; g += 16) {
        uint32_t lanes[4][16];
        rng_.blocks16(blocks + g, streams + g, lanes);
        for (int k = 0; k < 4; ++k) std::copy(lanes[k], lanes[k] + 16, words[k] + g);
      }
    }

    // Pass 1: the alpha coin and the slot; prefetch the chosen edge.
    for (int l = 0; l < active; ++l) {
      Walker& w = walkers[lane_walker[l]];
      if (rule_.max_steps > 0 && w.steps >= rule_.max_steps) {
        w.status = WalkStatus::kStepCap;
        action[l] = kDone;
        continue;
      }
      if (alpha_always_ || words[0][l] < alpha_threshold_) {
        action[l] = restart ? kJumpToStart : kDone;
        if (!restart) w.status = WalkStatus::kTerminated;
        continue;
      }
      const uint32_t degree = lane_degree[l];
      if (degree == 0) {  // a dead end: the alpha action by force
        if (!restart) {
          w.status = WalkStatus::kTerminated;
          action[l] = kDone;
        } else if (w.cur == w.start) {
          w.status = WalkStatus::kStuck;
          action[l] = kDone;
        } else {
          action[l] = kJumpToStart;
        }
        continue;
      }
      const uint32_t draws[2] = {words[1][l], words[3][l]};
      entry[l] = lane_begin[l] + uniform_slot(draws, w, degree);
      __builtin_prefetch(edges + entry[l]);
      if (weighted) {
        __builtin_prefetch(alias_probability + entry[l]);
        __builtin_prefetch(alias_slot + entry[l]);
      }
      action[l] = kMove;
    }

    // Pass 2: take the step; visit the new vertex or hand the walker over.
    for (int l = 0; l < active; ++l) {
      if (action[l] == kDone) continue;
      Walker& w = walkers[lane_walker[l]];
      VertexId to = w.start;
      int64_t begin;
      uint32_t degree;
      if (action[l] == kJumpToStart) {
        row_of(to, begin, degree);  // rare (probability alpha): a lookup, not a lane field
      } else {
        int64_t e = entry[l];
        if (weighted && !(static_cast<float>(words[2][l] >> 8) * 0x1.0p-24f < alias_probability[e]))
          e = lane_begin[l] + alias_slot[e];
        const WalkEdge& edge = edges[e];
        to = edge.to;
        begin = edge.to_begin;
        degree = edge.to_degree;
      }
      ++w.steps;
      ++counts.steps;
      w.cur = to;
      if (!graph_.owns(to)) {
        w.row_begin = begin;
        w.row_degree = degree;
        leave(lane_walker[l]);
        action[l] = kLeft;
        continue;
      }
      lane_begin[l] = begin;
      lane_degree[l] = degree;
      if (!land(w)) action[l] = kDone;
    }

    // Lanes whose walker finished or left take the next queued walker.
    int kept = 0;
    for (int l = 0; l < active; ++l) {
      if (action[l] == kDone || action[l] == kLeft) continue;
      lane_walker[kept] = lane_walker[l];
      lane_begin[kept] = lane_begin[l];
      lane_degree[kept] = lane_degree[l];
      ++kept;
    }
    active = kept;
  }

  for (const Walker& w : walkers) counts.finished += w.status != WalkStatus::kRunning;
  return counts;
}

}  // namespace relfm::sampler
