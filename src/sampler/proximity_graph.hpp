// BatchSampler's proximity graph over instance embeddings (research/batchsampler.md §1.2, §6.1): every
// anchor keeps as out-neighbours the K most cosine-similar of M random candidates — the official top-K-of-M
// rule, where M is the hardness knob (M = K: a random graph; M = N: the kNN graph).
//
// Computed as matrix products, not one gather per anchor: anchors come in blocks of `block` consecutive
// ids, and a block shares one pool of pool_factor·M candidates drawn uniformly with replacement (keyed by
// the rebuild's stream and the block index); one GEMM scores the block against its pool, then each anchor
// takes M of the pool's positions (keyed by its own id; with pool_factor 1, the whole pool) and keeps the
// top K. Each anchor's candidates are therefore uniform over the N instances, as in the official code; the
// pool only correlates the anchors of one block. Ties in score go to the smaller instance id, so the
// result is a pure function of (bank, config, stream), whatever splits the anchors (at block boundaries).
//
// Exact mode (M >= N): the anchors are scored against every instance but themselves, in shards (the
// distributed build passes shards around a ring of ranks); a running top-K keeps the result independent
// of the order and size of the shards.
#pragma once

#include "src/core/collective.hpp"
#include "src/core/rng.hpp"
#include "src/core/types.hpp"

#include <cstdint>
#include <vector>

namespace relfm::sampler {

struct ProximityConfig {
  int64_t candidates = 1000;  // M; >= N selects the exact kNN graph
  int64_t neighbours = 100;   // K
  int64_t block = 256;        // anchors that share one candidate pool
  int64_t pool_factor = 4;    // pool size = pool_factor · M
  // Exact mode: screen the candidates with fp16 products and rescore in float only those that could enter
  // the top K (half_screen.hpp; the same neighbours, faster), where the CPU has AVX-512 FP16.
  bool half_screen = true;

  bool exact(int64_t n) const { return candidates >= n; }
  // InputError naming the field: K < 1, K > M, K >= N in exact mode, block or pool_factor < 1.
  void validate(int64_t n) const;
};

// The pool positions of an anchor's candidates first .. first + 63 (first a multiple of 64) from the
// anchor's stream: candidate j is word j % 4 of block j / 4, scaled to [0, pool_size).
void pick_slots(const CounterRng& stream, int64_t first, int64_t pool_size, uint32_t slots[64]);

// Scales every row to unit length (a zero row stays zero: its cosines are all 0).
void normalise_rows(MatF& rows);

// Out-neighbours (rows: anchors first..last-1, K columns, instance ids) under the top-K-of-M rule.
// `bank` holds all N instances' normalised embeddings. In exact mode this is exact_neighbours over the
// whole bank.
IndexMat proximity_neighbours(const MatF& bank, int64_t first, int64_t last, const ProximityConfig& config,
                              const CounterRng& rebuild_stream);

// The same for all N anchors, built across ranks (each takes a block-aligned, contiguous share of the
// anchors; the tables are all-gathered): every rank gets the whole table, equal to the one-process result.
// `bank` is the same on every rank (replicated: research §6.2).
IndexMat proximity_neighbours(const Communicator& comm, const MatF& bank, const ProximityConfig& config,
                              const CounterRng& rebuild_stream);
// The two halves of that, for a build that runs apart from the communication (a background thread):
// rank `rank`'s block-aligned share of the anchors, and the all-gather of every rank's rows of the table.
struct AnchorShare {
  int64_t first = 0, last = 0;
};
AnchorShare anchor_share(int64_t n, int64_t block, int rank, int ranks);
IndexMat gather_neighbours(const Communicator& comm, const IndexMat& mine, int64_t n, const ProximityConfig& config);

// The running top-K of some anchors over shards of candidates (exact mode).
class TopK {
 public:
  TopK(int64_t anchors, int64_t k, VertexId first_anchor);
  // scores: anchor_count x count, row-major, for anchors anchor_begin.. (local indices); candidate j has id
  // first_candidate + j. An anchor never keeps itself.
  void add(const float* scores, int64_t anchor_begin, int64_t anchor_count, int64_t count, VertexId first_candidate);
  // The same from screened scores (half_screen.hpp): a candidate whose screened score is below the K-th
  // best float score minus its anchor's margin cannot enter; the others are scored in float from the rows
  // (anchor_rows: the anchor_count anchors' rows, candidate_rows: the count candidates', width d).
  void add_screened(const float* screened, const float* margins, int64_t anchor_begin, int64_t anchor_count, int64_t count,
                    VertexId first_candidate, const float* anchor_rows, const float* candidate_rows, int64_t d);
  // Candidates scored in float by add_screened so far (the screen's pass count, for benchmarks).
  int64_t rescored() const { return rescored_; }
  // anchors x K ids, each row by descending score (ties: smaller id first). Fewer than K candidates
  // seen: InternalError.
  IndexMat neighbours() const;

 private:
  struct Entry {
    float score;
    VertexId id;
  };
  // Folds anchor a's candidates into its heap: score(j) is candidate j's float score, row[j] at least
  // score(j) - margin (row: the scores themselves with margin 0, or screened ones).
  template <typename Score>
  void fold_row(int64_t a, const float* row, int64_t count, VertexId first_candidate, float margin, Score&& score);
  int64_t anchors_, k_;
  VertexId first_anchor_;
  std::vector<Entry> heaps_;       // anchors x k min-heaps (worst first)
  std::vector<int64_t> sizes_;
  int64_t rescored_ = 0;
};

// Scores anchors (normalised rows, global ids from first_anchor) against a shard of normalised
// candidates (ids from first_candidate) with GEMMs, or through the fp16 screen (`screen`, when
// half_screen_available(); rows with an element outside [-1, 1] take the GEMMs), and folds them into `top`.
void add_shard(TopK& top, const MatF& anchors, const MatF& shard, VertexId first_candidate, bool screen = false);

}  // namespace relfm::sampler
