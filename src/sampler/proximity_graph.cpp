#include "src/sampler/proximity_graph.hpp"

#include "src/sampler/half_screen.hpp"

#include "src/sampler/candidate_selection.hpp"

#include "src/core/error.hpp"
#include "src/tensor/gemm.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <numeric>

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

namespace relfm::sampler {
namespace {

struct Scored {
  float score;
  VertexId id;
};
// Higher score first; among equal scores the smaller id.
bool better(const Scored& a, const Scored& b) { return a.score != b.score ? a.score > b.score : a.id < b.id; }

// scores (rows x cols) = a (rows x d) * b (cols x d)^T on the active GEMM backend.
void score(const float* a, int64_t rows, const float* b, int64_t cols, int64_t d, float* scores) {
  gemm::Product p;
  p.a = a;
  p.b = b;
  p.c = scores;
  p.m = rows;
  p.n = cols;
  p.k = d;
  p.trans_b = true;
  gemm::multiply(p);
}

// Exact mode scores kAnchorRows anchors against kShardColumns candidates per GEMM: a 4 MB buffer, and
// shapes large enough for the GEMM's full rate.
constexpr int64_t kAnchorRows = 1024;
constexpr int64_t kShardColumns = 4096;

// Words of blocks first/4 .. first/4 + 15 of the anchor's stream (first is a multiple of 64): words[w][i]
// is word w of block first/4 + i, i.e. candidate first + 4 i + w.
void group_words(const CounterRng& stream, int64_t first, uint32_t words[4][16]) {
  uint64_t blocks[16], streams[16];
  for (int i = 0; i < 16; ++i) {
    blocks[i] = static_cast<uint64_t>(first / 4 + i);
    streams[i] = stream.stream();
  }
  stream.blocks16(blocks, streams, words);
}
// Slot = high half of word x pool (bias below pool / 2^32, a millionth for pools of thousands).
uint32_t slot_of(uint32_t word, int64_t pool_size) {
  return static_cast<uint32_t>((static_cast<uint64_t>(word) * static_cast<uint64_t>(pool_size)) >> 32);
}

// A whole group of 64 candidates (first .. first + 63) of an anchor: their pool slots and their scores
// (row[slot]), word-major (candidate first + 4 i + w at position 16 w + i). The selection's result does not
// depend on the candidates' order (ties go by id), so a full group need not keep pick_slots' order; 16 lanes
// at a time, a gather each, where the scalar loop took a third of the build's selection time.
void pick_group(const CounterRng& stream, int64_t first, int64_t pool_size, const float* row, uint32_t* slot, float* score) {
  uint32_t words[4][16];
  group_words(stream, first, words);
#if defined(__AVX512F__)
  const __m512i pool = _mm512_set1_epi64(pool_size);  // mul_epu32 takes the low half of each 64-bit lane
  for (int w = 0; w < 4; ++w) {
    const __m512i v = _mm512_loadu_si512(words[w]);
    const __m512i even = _mm512_srli_epi64(_mm512_mul_epu32(v, pool), 32);
    const __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(v, 32), pool);  // high halves land in the odd lanes
    const __m512i slots = _mm512_mask_mov_epi32(even, 0xAAAA, odd);
    _mm512_storeu_si512(slot + 16 * w, slots);
    _mm512_storeu_ps(score + 16 * w, _mm512_i32gather_ps(slots, row, 4));
  }
#elif defined(__AVX2__)
  const __m256i pool = _mm256_set1_epi64x(pool_size);  // the same in 8 lanes (AMD Zen 2/3)
  for (int w = 0; w < 4; ++w)
    for (int half = 0; half < 2; ++half) {
      const int at = 16 * w + 8 * half;
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(words[w] + 8 * half));
      const __m256i even = _mm256_srli_epi64(_mm256_mul_epu32(v, pool), 32);
      const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(v, 32), pool);
      const __m256i slots = _mm256_blend_epi32(even, odd, 0xAA);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(slot + at), slots);
      _mm256_storeu_ps(score + at, _mm256_i32gather_ps(row, slots, 4));
    }
#else
  for (int w = 0; w < 4; ++w)
    for (int i = 0; i < 16; ++i) {
      const uint32_t s = slot_of(words[w][i], pool_size);
      slot[16 * w + i] = s;
      score[16 * w + i] = row[s];
    }
#endif
}

}  // namespace

void pick_slots(const CounterRng& stream, int64_t first, int64_t pool_size, uint32_t slots[64]) {
  uint32_t words[4][16];
  group_words(stream, first, words);
  for (int j = 0; j < 64; ++j) slots[j] = slot_of(words[j % 4][j / 4], pool_size);
}

void ProximityConfig::validate(int64_t n) const {
  if (neighbours < 1) fail_input("proximity graph: neighbours (K) = {} must be at least 1", neighbours);
  if (candidates < neighbours)
    fail_input("proximity graph: candidates (M) = {} must be at least neighbours (K) = {}", candidates, neighbours);
  if (exact(n) && neighbours >= n)
    fail_input("proximity graph: neighbours (K) = {} must be below the {} instances in exact mode", neighbours, n);
  if (block < 1) fail_input("proximity graph: block = {} must be at least 1", block);
  if (pool_factor < 1) fail_input("proximity graph: pool_factor = {} must be at least 1", pool_factor);
}

void normalise_rows(MatF& rows) {
  for (Eigen::Index r = 0; r < rows.rows(); ++r) {
    const float norm = rows.row(r).norm();
    if (norm > 0) rows.row(r) /= norm;
  }
}

IndexMat proximity_neighbours(const MatF& bank, int64_t first, int64_t last, const ProximityConfig& config,
                              const CounterRng& rebuild_stream) {
  const int64_t n = bank.rows(), d = bank.cols(), k = config.neighbours;
  config.validate(n);
  RELFM_CHECK(0 <= first && first <= last && last <= n, "proximity graph: anchors [{}, {}) of {}", first, last, n);
  if (config.exact(n)) {
    TopK top(last - first, k, static_cast<VertexId>(first));
    const MatF anchors = bank.middleRows(first, last - first);
    add_shard(top, anchors, bank, 0, config.half_screen && half_screen_available());
    return top.neighbours();
  }
  const int64_t m = config.candidates, pool_size = config.pool_factor * m;
  IndexMat out(last - first, k);
  MatF pool(pool_size, d);
  std::vector<VertexId> pool_ids(static_cast<size_t>(pool_size));
  std::vector<float> scores;
  CandidateSelection select(m, k);
  uint32_t slots[64];
  const CounterRng pool_rng = rebuild_stream.derive(1), pick_rng = rebuild_stream.derive(2);
  auto draw_pool = [&](int64_t block, std::vector<VertexId>& ids) {
    const CounterRng draws = pool_rng.derive(static_cast<uint64_t>(block));
    for (int64_t j = 0; j < pool_size; ++j)
      ids[j] = static_cast<VertexId>(draws.below(static_cast<uint64_t>(j), static_cast<uint64_t>(n)));
  };
  const int64_t row_bytes = d * static_cast<int64_t>(sizeof(float));
  auto prefetch_row = [&](VertexId id) {
    const char* p = reinterpret_cast<const char*>(bank.row(id).data());
    for (int64_t byte = 0; byte < row_bytes; byte += 64) __builtin_prefetch(p + byte);
  };
  for (int64_t block = first / config.block; block * config.block < last; ++block) {
    const int64_t b0 = std::max(first, block * config.block), b1 = std::min(last, (block + 1) * config.block);
    // The pool's rows are random reads over the whole bank: prefetched a few rows ahead of the copy.
    draw_pool(block, pool_ids);
    constexpr int64_t kAhead = 16;
    for (int64_t j = 0; j < pool_size; ++j) {
      if (j + kAhead < pool_size) prefetch_row(pool_ids[j + kAhead]);
      pool.row(j) = bank.row(pool_ids[j]);
    }
    scores.resize(static_cast<size_t>((b1 - b0) * pool_size));
    score(bank.row(b0).data(), b1 - b0, pool.data(), pool_size, d, scores.data());
    for (int64_t a = b0; a < b1; ++a) {
      const float* row = scores.data() + (a - b0) * pool_size;
      float* candidate = select.scores();
      uint32_t* slot = select.slots();
      if (config.pool_factor == 1) {
        std::copy(row, row + m, candidate);
        std::iota(slot, slot + m, 0u);
      } else {
        const CounterRng mine = pick_rng.derive(static_cast<uint64_t>(a));
        // The next anchor's score row comes from beyond L2 (a block's scores are several MB): fetch it
        // while this one is picked, a share per group of 64 candidates.
        const char* next = reinterpret_cast<const char*>(row + pool_size);
        const int64_t next_bytes = a + 1 < b1 ? pool_size * static_cast<int64_t>(sizeof(float)) : 0;
        const int64_t share = (next_bytes / ((m + 63) / 64) + 63) / 64 * 64;
        for (int64_t j0 = 0, fetched = 0; j0 < m; j0 += 64) {
          for (const int64_t end = std::min(next_bytes, fetched + share); fetched < end; fetched += 64)
            __builtin_prefetch(next + fetched);
          if (j0 + 64 <= m) {
            pick_group(mine, j0, pool_size, row, slot + j0, candidate + j0);
            continue;
          }
          pick_slots(mine, j0, pool_size, slots);  // the last, partial group: its first m - j0 candidates
          for (int64_t j = 0; j < m - j0; ++j) {
            slot[j0 + j] = slots[j];
            candidate[j0 + j] = row[slots[j]];
          }
        }
      }
      select.top_k(pool_ids, &out(a - first, 0));
    }
  }
  return out;
}

AnchorShare anchor_share(int64_t n, int64_t block, int rank, int ranks) {
  const int64_t blocks = (n + block - 1) / block;
  auto at = [&](int r) { return std::min(n, blocks * r / ranks * block); };
  return {at(rank), at(rank + 1)};
}

IndexMat gather_neighbours(const Communicator& comm, const IndexMat& mine, int64_t n, const ProximityConfig& config) {
  IndexMat all(n, config.neighbours);
  std::vector<int64_t> counts(static_cast<size_t>(comm.size()));
  for (int r = 0; r < comm.size(); ++r) {
    const AnchorShare s = anchor_share(n, config.block, r, comm.size());
    counts[r] = (s.last - s.first) * config.neighbours;
  }
  comm.allgatherv(mine.data(), all.data(), counts);
  return all;
}

IndexMat proximity_neighbours(const Communicator& comm, const MatF& bank, const ProximityConfig& config,
                              const CounterRng& rebuild_stream) {
  config.validate(bank.rows());
  const AnchorShare s = anchor_share(bank.rows(), config.block, comm.rank(), comm.size());
  return gather_neighbours(comm, proximity_neighbours(bank, s.first, s.last, config, rebuild_stream), bank.rows(), config);
}

TopK::TopK(int64_t anchors, int64_t k, VertexId first_anchor)
    : anchors_(anchors), k_(k), first_anchor_(first_anchor), heaps_(static_cast<size_t>(anchors * k)),
      sizes_(static_cast<size_t>(anchors), 0) {}

namespace {

// The first j in [from, count) whose row[j] is not below `bar` (NaN counts as not below), or count: most
// scores lose to the K-th best, so they are rejected 16 at a time.
int64_t next_not_below(const float* row, int64_t from, int64_t count, float bar) {
  int64_t j = from;
#if defined(__AVX512F__)
  const __m512 limit = _mm512_set1_ps(bar);
  for (; j + 16 <= count; j += 16)
    if (const __mmask16 hit = _mm512_cmp_ps_mask(_mm512_loadu_ps(row + j), limit, _CMP_NLT_UQ))
      return j + __builtin_ctz(hit);
#elif defined(__AVX2__)
  const __m256 limit = _mm256_set1_ps(bar);
  for (; j + 8 <= count; j += 8)
    if (const int hit = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(row + j), limit, _CMP_NLT_UQ)))
      return j + __builtin_ctz(static_cast<unsigned>(hit));
#endif
  for (; j < count; ++j)
    if (!(row[j] < bar)) return j;
  return count;
}

}  // namespace

template <typename Score>
void TopK::fold_row(int64_t a, const float* row, int64_t count, VertexId first_candidate, float margin, Score&& score) {
  // comp(a, b) = "a is better": the heap's front is then its worst entry, the one a newcomer must beat.
  auto comp = [](const Entry& x, const Entry& y) { return better({x.score, x.id}, {y.score, y.id}); };
  Entry* heap = heaps_.data() + a * k_;
  int64_t& size = sizes_[a];
  const VertexId self = first_anchor_ + static_cast<VertexId>(a);
  int64_t j = 0;
  for (; j < count && size < k_; ++j) {
    if (first_candidate + static_cast<VertexId>(j) == self) continue;
    heap[size++] = Entry{score(j), first_candidate + static_cast<VertexId>(j)};
    std::push_heap(heap, heap + size, comp);
  }
  if (size < k_) return;
  // A candidate that enters scores at least the K-th best, so its row value is at least that minus the
  // margin (0 when the row holds the scores themselves): everything below `bar` is rejected unscored, and
  // the heap work is rare.
  float bar = heap[0].score - margin;
  for (j = next_not_below(row, j, count, bar); j < count; j = next_not_below(row, j + 1, count, bar)) {
    if (first_candidate + static_cast<VertexId>(j) == self) continue;
    const Entry e{score(j), first_candidate + static_cast<VertexId>(j)};
    if (!comp(e, heap[0])) continue;
    std::pop_heap(heap, heap + size, comp);
    heap[size - 1] = e;
    std::push_heap(heap, heap + size, comp);
    bar = heap[0].score - margin;
  }
}

void TopK::add(const float* scores, int64_t anchor_begin, int64_t anchor_count, int64_t count,
               VertexId first_candidate) {
  for (int64_t a = anchor_begin; a < anchor_begin + anchor_count; ++a) {
    const float* row = scores + (a - anchor_begin) * count;
    fold_row(a, row, count, first_candidate, 0.0f, [&](int64_t j) { return row[j]; });
  }
}

void TopK::add_screened(const float* screened, const float* margins, int64_t anchor_begin, int64_t anchor_count, int64_t count,
                        VertexId first_candidate, const float* anchor_rows, const float* candidate_rows, int64_t d) {
  using Row = Eigen::Map<const Eigen::Matrix<float, 1, Eigen::Dynamic>>;
  for (int64_t a = anchor_begin; a < anchor_begin + anchor_count; ++a) {
    const Row anchor(anchor_rows + (a - anchor_begin) * d, d);
    fold_row(a, screened + (a - anchor_begin) * count, count, first_candidate, margins[a - anchor_begin], [&](int64_t j) {
      ++rescored_;
      return anchor.dot(Row(candidate_rows + j * d, d));
    });
  }
}

IndexMat TopK::neighbours() const {
  IndexMat out(anchors_, k_);
  std::vector<Entry> row(static_cast<size_t>(k_));
  for (int64_t a = 0; a < anchors_; ++a) {
    RELFM_CHECK(sizes_[a] == k_, "top-K: anchor {} saw {} candidates, needs {}", first_anchor_ + a, sizes_[a], k_);
    std::copy(heaps_.begin() + a * k_, heaps_.begin() + (a + 1) * k_, row.begin());
    std::sort(row.begin(), row.end(), [](const Entry& x, const Entry& y) { return better({x.score, x.id}, {y.score, y.id}); });
    for (int64_t j = 0; j < k_; ++j) out(a, j) = row[j].id;
  }
  return out;
}

void add_shard(TopK& top, const MatF& anchors, const MatF& shard, VertexId first_candidate, bool screen) {
  RELFM_CHECK(anchors.cols() == shard.cols(), "top-K: anchors of width {}, candidates of width {}", anchors.cols(),
              shard.cols());
  std::vector<float> scores(static_cast<size_t>(kAnchorRows * kShardColumns));
  // The screen's fp16 sums cannot overflow for elements in [-1, 1] (unit rows).
  auto within_one = [](const MatF& m) { return m.size() == 0 || m.cwiseAbs().maxCoeff() <= 1.0f; };
  if (screen && within_one(anchors) && within_one(shard)) {  // shards outer: each is laid out for the screen once
    const int64_t d = anchors.cols();
    const HalfRows anchors16(anchors.data(), anchors.rows(), d);
    const ScreenBound bound = ScreenBound::for_width(d);
    const Eigen::VectorXd anchor_norms = anchors.cast<double>().rowwise().norm();
    std::vector<float> margins(static_cast<size_t>(kAnchorRows));
    for (int64_t c0 = 0; c0 < shard.rows(); c0 += kShardColumns) {
      const int64_t count = std::min(kShardColumns, static_cast<int64_t>(shard.rows()) - c0);
      const HalfPanels panels(shard.row(c0).data(), count, d);
      const double widest = shard.middleRows(c0, count).cast<double>().rowwise().norm().maxCoeff();
      for (int64_t a0 = 0; a0 < anchors.rows(); a0 += kAnchorRows) {
        const int64_t rows = std::min(kAnchorRows, static_cast<int64_t>(anchors.rows()) - a0);
        for (int64_t r = 0; r < rows; ++r) margins[static_cast<size_t>(r)] = bound.margin(anchor_norms[a0 + r], widest);
        screened_scores(anchors16, a0, rows, panels, scores.data());
        top.add_screened(scores.data(), margins.data(), a0, rows, count, first_candidate + static_cast<VertexId>(c0),
                         anchors.row(a0).data(), shard.row(c0).data(), d);
      }
    }
    return;
  }
  for (int64_t a0 = 0; a0 < anchors.rows(); a0 += kAnchorRows) {
    const int64_t rows = std::min(kAnchorRows, static_cast<int64_t>(anchors.rows()) - a0);
    for (int64_t c0 = 0; c0 < shard.rows(); c0 += kShardColumns) {
      const int64_t count = std::min(kShardColumns, static_cast<int64_t>(shard.rows()) - c0);
      score(anchors.row(a0).data(), rows, shard.row(c0).data(), count, anchors.cols(), scores.data());
      top.add(scores.data(), a0, rows, count, first_candidate + static_cast<VertexId>(c0));
    }
  }
}

}  // namespace relfm::sampler
