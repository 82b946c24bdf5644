// The random-walk engine of one process: advances many walkers over the vertices this process owns,
// until each one finishes or steps onto a vertex another process owns (the caller then sends it there as
// a message: dist/walks.hpp runs the bulk-synchronous supersteps across ranks).
//
// Determinism: step s of walker w draws Philox block s of stream w.id under the engine's key, so a walk
// is a pure function of (seed, walk id, graph) — independent of how many walkers run at once, of their
// interleaving, and of how many ranks the graph is split over. One block per step: word 0 decides the
// restart (or termination) with probability alpha, word 1 (word 3 if word 1 falls in Lemire's rejection
// band, then a derived stream) picks a uniform slot of the row, word 2 is the alias coin of a weighted row.
//
// Speed: on a graph larger than the caches a step is one cache miss — the chosen edge, which carries its
// target's row (WalkEdge), so the row offsets are not a second, dependent miss — and the engine keeps
// kLanes walkers in flight in two passes per round: the first picks every lane's edge and prefetches it,
// the second reads them (ThunderRW's step interleaving). 32 lanes measured best on Zen 4 (64 and 128
// overrun the core's outstanding-miss buffers). Random words come sixteen lanes at a time from the
// vector Philox. Edge arrays sit on huge pages (src/core/huge_array.hpp).
#pragma once

#include "src/core/error.hpp"
#include "src/core/rng.hpp"
#include "src/sampler/walk_graph.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace relfm::sampler {

// What happens with probability alpha at each step (and at a vertex without out-edges).
enum class AlphaAction : uint8_t {
  kRestart,    // jump back to the start vertex (random walk with restart; BatchSampler)
  kTerminate,  // stop the walk (personalised-PageRank sampling; KnightKing's PPR)
};

struct WalkRule {
  double alpha = 0;                  // probability of the action per step, in [0, 1]
  AlphaAction action = AlphaAction::kRestart;
  uint32_t max_steps = 0;            // a walker stops after this many steps (0: no cap)
  uint32_t distinct_target = 0;      // stop on the step that brings the distinct visits to this (0: never)
};

enum class WalkStatus : uint8_t {
  kRunning = 0,
  kReachedTarget,  // distinct_target distinct vertices visited
  kTerminated,     // the alpha action was kTerminate, or a dead end with kTerminate
  kStepCap,        // max_steps taken first
  kStuck,          // restart rule, and the start vertex has no out-edges
};

struct Walker {
  uint64_t id = 0;         // the walk's RNG stream; unique among walks that share a key
  VertexId start = 0;
  VertexId cur = 0;        // where it stands; visited already unless `arriving`
  uint32_t steps = 0;      // steps taken
  uint32_t distinct = 0;   // distinct vertices visited (as the visitor counts them)
  int64_t row_begin = -1;   // the row of cur on its owner, when known (>= 0): it travels with a walker
  uint32_t row_degree = 0;  // that crosses ranks, so that an arrival costs no lookup
  WalkStatus status = WalkStatus::kRunning;
  bool arriving = true;    // cur still has to be visited (a new walker, or one that just crossed ranks)
};

// A visitor sees every arrival of a walker at a vertex this process owns (the start included, and every
// return by restart); `arrive` says whether that vertex is new for the walk (the engine counts those).
// The no-op visitor counts nothing new, for walks that only need their lengths or end points.
struct NoVisits {
  bool arrive(const Walker&, VertexId) { return false; }
};

// Outcome of one local advance. `walkers` keeps the finished ones; `departed` holds those standing on a
// vertex another process owns (arriving = true), in the order they left.
struct AdvanceCounts {
  int64_t steps = 0;
  int64_t finished = 0;
  int64_t departed = 0;
};

class WalkEngine {
 public:
  static constexpr int kLanes = 32;  // walkers in flight; a multiple of 16 (the vector Philox width)

  WalkEngine(const WalkGraph& graph, WalkRule rule, CounterRng rng);

  // Advances every running walker of `walkers` that stands on an owned vertex until it finishes or
  // leaves. Finished walkers stay in `walkers` (status set); the ones that left are moved to `departed`
  // (appended) and removed from `walkers`. Walkers already finished are left as they are.
  template <class Visitor>
  AdvanceCounts advance(std::vector<Walker>& walkers, std::vector<Walker>& departed, Visitor& visitor) const;
  // The same, but a walker that leaves is handed to sink(const Walker&) at once and stays in `walkers`
  // (still kRunning, on a vertex this process does not own): no compaction, no second copy.
  template <class Visitor, class Sink>
  AdvanceCounts advance_into(std::vector<Walker>& walkers, Visitor& visitor, Sink& sink) const;

  const WalkRule& rule() const { return rule_; }
  const CounterRng& rng() const { return rng_; }

 private:
  // Slot of a row of `degree` entries from one step's words, exactly uniform (Lemire with rejection).
  uint32_t uniform_slot(const uint32_t* words, const Walker& w, uint32_t degree) const;

  const WalkGraph& graph_;
  WalkRule rule_;
  CounterRng rng_;
  uint32_t alpha_threshold_ = 0;  // word 0 < threshold: the alpha action (alpha = 1: always)
  bool alpha_always_ = false;
};

}  // namespace relfm::sampler

#include "src/sampler/walk_engine_impl.hpp"
