// BatchSampler's mini-batches: each batch is the set of distinct vertices that one random walk with
// restart visits on the proximity graph, stopped at B distinct vertices (research/batchsampler.md §1.3).
//
// Epoch modes:
//   official  the official code: a walk starts at a vertex not yet covered this epoch, but its other
//             vertices may repeat earlier batches; the epoch ends once floor(N/B)·B vertices are covered,
//             and the vertices still uncovered are then trained once in ordinary (shuffled) batches.
//   strict    a vertex joins at most one batch per epoch (walks pass through covered vertices without
//             taking them): ceil(N/B) batches, the last one holding whatever is left.
//   fixed     a fixed number of batches per epoch with the official walk (starts from uncovered
//             vertices; once every vertex is covered, coverage starts afresh).
// A walk that takes more than `step_cap` steps is completed with random uncovered vertices (then with
// random vertices outside the batch), so no graph can make a walk run for ever.
// Restart probability: fixed, or the official schedule alpha = max(floor, alpha0 - decay · epoch).
//
// The batches are a pure function of (seed, epoch, graph): a walk draws from the stream of its batch
// index, starts and fills from their own streams, so they are the same whatever runs the walks (one
// process, or dist/walks.hpp across any number of ranks).
#pragma once

#include "src/core/rng.hpp"
#include "src/core/types.hpp"
#include "src/sampler/first_visits.hpp"

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace relfm::sampler {

enum class EpochMode { kOfficial, kStrict, kFixed };
EpochMode parse_epoch_mode(const std::string& text);  // "official" | "strict" | "fixed"; InputError otherwise
std::string to_string(EpochMode mode);

struct WalkBatchConfig {
  int64_t batch_size = 256;
  double restart = 0.2;             // alpha0
  bool official_schedule = true;    // alpha = max(schedule_floor, restart - schedule_decay * epoch)
  double schedule_decay = 0.02;
  double schedule_floor = 0.05;
  EpochMode mode = EpochMode::kOfficial;
  int64_t batches_per_epoch = 0;    // kFixed only
  int64_t step_cap = 0;             // 0: 100 · batch_size

  void validate() const;                      // InputError naming the offending field
  double restart_at(int64_t epoch) const;     // the alpha of an epoch (epochs count from 0)
  uint32_t step_cap_or_default() const;
};

// What running some walks to their end gives: every first visit of every walk, sorted by (walk,
// position), and the finished walkers sorted by id.
struct WalkResult {
  std::vector<VisitRecord> records;
  std::vector<Walker> walkers;
};
// Runs walks to the end. In a distributed run every rank calls it with the same arguments (a collective)
// and gets the same result. `excluded` (per global vertex, non-zero: never counts as new) may be null.
using RunWalks = std::function<WalkResult(std::span<const Walker> walks, const WalkRule& rule, const CounterRng& rng,
                                          const std::vector<uint8_t>* excluded)>;

// The epoch's coverage: which vertices are in a batch already, with O(1) uniform draws among the others.
class Coverage {
 public:
  explicit Coverage(int64_t n);
  int64_t size() const { return static_cast<int64_t>(covered_.size()); }
  int64_t covered_count() const { return size() - uncovered_count(); }
  int64_t uncovered_count() const { return static_cast<int64_t>(uncovered_.size()); }
  bool covered(VertexId v) const { return covered_[static_cast<size_t>(v)] != 0; }
  const std::vector<uint8_t>& flags() const { return covered_; }
  VertexId uncovered_at(int64_t i) const { return uncovered_[static_cast<size_t>(i)]; }
  void cover(VertexId v);
  void reset();
  // The uncovered vertices in their array order (the order draws index into), and back.
  const std::vector<VertexId>& uncovered() const { return uncovered_; }
  void restore(const std::vector<VertexId>& uncovered);

 private:
  std::vector<uint8_t> covered_;
  std::vector<VertexId> uncovered_;   // swap-remove array
  std::vector<int64_t> position_;     // of each uncovered vertex in uncovered_, -1 when covered
};

struct WalkBatch {
  std::vector<VertexId> vertices;  // in order of first visit (walk batches) or of the shuffle (leftover)
  bool from_walk = true;           // false: an ordinary batch of the official leftover pass
  int64_t walk_steps = 0;
  int64_t filled = 0;              // vertices added after the step cap
};

class WalkBatchPlanner {
 public:
  WalkBatchPlanner(int64_t num_vertices, WalkBatchConfig config, uint64_t seed, RunWalks run_walks);

  // Starts epoch `epoch` (coverage afresh, that epoch's alpha and streams).
  void begin_epoch(int64_t epoch);
  bool epoch_done() const;
  // The next batch of the epoch; call only while !epoch_done(). Collective when run_walks is.
  WalkBatch next_batch();

  int64_t epoch() const { return epoch_; }
  int64_t batches_in_epoch() const { return batch_index_; }
  const Coverage& coverage() const { return coverage_; }
  double alpha() const { return alpha_; }
  // Where the planner stands (epoch, batch index, coverage, leftover pass) as integers, so that a
  // checkpointed run continues with the same batches; restore_state takes what save_state gave (for a
  // planner over the same number of vertices) and throws InputError on anything else.
  std::vector<int64_t> save_state() const;
  void restore_state(const std::vector<int64_t>& state);

 private:
  WalkBatch walk_batch();
  WalkBatch leftover_batch();
  void fill(WalkBatch& batch, std::vector<uint8_t>& in_batch);

  int64_t n_;
  WalkBatchConfig config_;
  uint64_t seed_;
  RunWalks run_walks_;
  Coverage coverage_;
  int64_t epoch_ = -1;
  int64_t batch_index_ = 0;
  double alpha_ = 0;
  CounterRng walk_rng_{0, RngPurpose::kSampler};
  CounterRng start_rng_{0, RngPurpose::kSampler};
  CounterRng fill_rng_{0, RngPurpose::kSampler};
  bool leftover_started_ = false;
  std::vector<VertexId> leftover_;
  size_t leftover_next_ = 0;
};

// RunWalks on one process: the engine over the whole graph.
RunWalks local_walk_runner(const WalkGraph& graph);

}  // namespace relfm::sampler
