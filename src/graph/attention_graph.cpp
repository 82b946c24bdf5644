#include "src/graph/attention_graph.hpp"

#include "src/core/error.hpp"
#include "src/core/rng.hpp"

#include <algorithm>
#include <unordered_set>

namespace relfm {
namespace {

enum Part : uint64_t { kGlobalPart = 1, kRandomPart = 2 };

// k distinct integers of [lo, hi) (k <= hi - lo) from rng indices 0..k-1 (Floyd's algorithm), increasing.
std::vector<VertexId> distinct_draw(const CounterRng& rng, int64_t k, int64_t lo, int64_t hi) {
  std::vector<VertexId> out;
  if (k <= 0 || hi <= lo) return out;
  const int64_t n = hi - lo;
  k = std::min(k, n);
  std::unordered_set<int64_t> chosen;
  chosen.reserve(static_cast<size_t>(2 * k));
  uint64_t index = 0;
  for (int64_t j = n - k; j < n; ++j) {
    const auto t = static_cast<int64_t>(rng.below(index++, static_cast<uint64_t>(j + 1)));
    chosen.insert(chosen.count(t) ? j : t);
  }
  for (int64_t v : chosen) out.push_back(static_cast<VertexId>(lo + v));
  std::sort(out.begin(), out.end());
  return out;
}

// The keys [first, last) of query p's local blocks.
std::pair<int64_t, int64_t> local_range(int64_t p, int64_t length, const AttentionGraphConfig& c) {
  const int64_t last_start = c.stride * ((std::max<int64_t>(0, length - c.block) + c.stride - 1) / c.stride);
  const int64_t hi_start = std::min(last_start, c.stride * (p / c.stride));
  auto ceil_div = [](int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); };
  const int64_t lo_start = std::max<int64_t>(0, c.stride * ceil_div(p - c.block + 1, c.stride));
  return {lo_start, std::min(length, hi_start + c.block)};
}

// The dense tiles of a graph: each edge in at most one, claimed in this order.
//  1. The global tokens' rows: every key, so edge (row p, key j) is entry row_ptr[p] + j.
//  2. The band: consecutive queries with the same key range [lo, hi) form one tile; their band is one
//     contiguous run of their sorted row (local edges are never deduplicated away). With per-stride random
//     keys (`stride_random`, by the stride's first query; empty otherwise) the tile also takes those of the
//     stride's keys that lie outside the band and are not global: one product of 96 + ~64 keys instead of
//     two (measured faster than a tile of its own for the random keys).
//  3. The global tokens' columns, for every query that is not global, except the keys its band holds.
EdgeTiles regular_tiles(const Csr& by_query, const std::vector<VertexId>& globals, const std::vector<uint8_t>& is_global,
                        const AttentionGraphConfig& c, const std::vector<std::vector<VertexId>>& stride_random) {
  const int64_t length = by_query.num_rows;
  EdgeTiles tiles;
  tiles.tiled.assign(static_cast<size_t>(by_query.nnz()), 0);
  auto claim = [&](EdgeTiles::Tile& t, int64_t r, int64_t col, int64_t e) {
    t.edge[static_cast<size_t>(r * t.keys.size() + col)] = e;
    tiles.tiled[static_cast<size_t>(e)] = 1;
  };
  const VertexId* cols = by_query.col.data();
  if (!globals.empty()) {
    EdgeTiles::Tile t{IndexSpan::list({globals.begin(), globals.end()}), IndexSpan::range(0, length), {}};
    t.edge.assign(static_cast<size_t>(t.rows.size() * length), -1);
    for (int64_t r = 0; r < t.rows.size(); ++r) {
      const int64_t p = t.rows[r];
      RELFM_CHECK(by_query.row_ptr[p + 1] - by_query.row_ptr[p] == length, "attention graph: global row {} is not complete", p);
      for (int64_t j = 0; j < length; ++j) claim(t, r, j, by_query.row_ptr[p] + j);
    }
    tiles.tiles.push_back(std::move(t));
  }
  for (int64_t p = 0; p < length;) {
    const auto [lo, hi] = local_range(p, length, c);
    int64_t end = p + 1;
    while (end < length && local_range(end, length, c) == std::make_pair(lo, hi)) ++end;
    std::vector<int64_t> keys;  // the stride's shared random keys outside the band and the globals, if any
    if (!stride_random.empty())
      for (VertexId k : stride_random[static_cast<size_t>(p)])
        if ((k < lo || k >= hi) && !is_global[static_cast<size_t>(k)]) keys.push_back(k);
    const int64_t band = hi - lo, shared = static_cast<int64_t>(keys.size());
    IndexSpan span = IndexSpan::range(lo, band);
    if (shared > 0) {
      for (int64_t k = lo; k < hi; ++k) keys.push_back(k);  // and the band's: all of them in key order
      std::sort(keys.begin(), keys.end());
      span = IndexSpan::list(std::move(keys));
    }
    EdgeTiles::Tile t{IndexSpan::range(p, end - p), std::move(span), {}};
    t.edge.assign(static_cast<size_t>((end - p) * t.keys.size()), -1);
    for (int64_t q = p; q < end; ++q) {
      if (is_global[static_cast<size_t>(q)]) continue;
      const int64_t first = by_query.row_ptr[q], last = by_query.row_ptr[q + 1];
      const int64_t at = std::lower_bound(cols + first, cols + last, static_cast<VertexId>(lo)) - cols;
      RELFM_CHECK(at + band <= last && cols[at] == lo && cols[at + band - 1] == hi - 1,
                  "attention graph: query {}'s band [{}, {}) is not one run", q, lo, hi);
      for (int64_t k = 0; k < t.keys.size(); ++k) {
        const auto key = static_cast<VertexId>(t.keys[k]);
        const int64_t e = key >= lo && key < hi ? at + (key - lo) : std::lower_bound(cols + first, cols + last, key) - cols;
        RELFM_CHECK(e < last && cols[e] == key, "attention graph: query {} lacks its stride's random key {}", q, key);
        claim(t, q - p, k, e);
      }
    }
    tiles.tiles.push_back(std::move(t));
    p = end;
  }
  if (!globals.empty()) {
    EdgeTiles::Tile t{IndexSpan::range(0, length), IndexSpan::list({globals.begin(), globals.end()}), {}};
    t.edge.assign(static_cast<size_t>(length * t.keys.size()), -1);
    for (int64_t p = 0; p < length; ++p) {
      if (is_global[static_cast<size_t>(p)]) continue;
      const auto [lo, hi] = local_range(p, length, c);
      for (int64_t k = 0; k < t.keys.size(); ++k) {
        const auto key = static_cast<VertexId>(t.keys[k]);
        if (key >= lo && key < hi) continue;
        const int64_t at = std::lower_bound(cols + by_query.row_ptr[p], cols + by_query.row_ptr[p + 1], key) - cols;
        RELFM_CHECK(at < by_query.row_ptr[p + 1] && cols[at] == key, "attention graph: query {} lacks global key {}", p, key);
        claim(t, p, k, at);
      }
    }
    tiles.tiles.push_back(std::move(t));
  }
  tiles.index_rest(by_query);
  return tiles;
}

}  // namespace

void validate_attention_graph_config(const AttentionGraphConfig& c, const std::string& key_prefix) {
  if (c.block < 1) fail_input("{}block must be at least 1, got {}", key_prefix, c.block);
  if (c.stride < 1 || c.stride > c.block)
    fail_input("{}stride must be in [1, {}block = {}], got {}", key_prefix, key_prefix, c.block, c.stride);
  if (c.num_global < 0) fail_input("{}num_global must be at least 0, got {}", key_prefix, c.num_global);
  if (c.num_random < 0) fail_input("{}num_random must be at least 0, got {}", key_prefix, c.num_random);
  if (c.random_mode != "template" && c.random_mode != "fixed")
    fail_input("{}random_mode must be 'template' or 'fixed', got '{}'", key_prefix, c.random_mode);
  if (c.random_layout != "per_query" && c.random_layout != "per_stride")
    fail_input("{}random_layout must be 'per_query' or 'per_stride', got '{}'", key_prefix, c.random_layout);
  if (c.random_mode == "template" && c.template_length < c.block)
    fail_input("{}template_length ({}) must be at least {}block ({})", key_prefix, c.template_length, key_prefix, c.block);
}

AttentionGraph build_attention_graph(int64_t length, const AttentionGraphConfig& c) {
  validate_attention_graph_config(c);
  if (length < 1) fail_input("attention graph: a sequence of {} tokens", length);
  const bool templated = c.random_mode == "template";
  if (templated && length > c.template_length)
    fail_input("attention graph: a sequence of {} tokens is longer than attention.template_length = {}", length,
               c.template_length);
  const CounterRng rng(c.seed, RngPurpose::kAttentionGraph);
  AttentionGraph g;
  g.length = length;

  // Global tokens.
  std::vector<VertexId> globals;
  if (templated) {
    for (VertexId t : distinct_draw(rng.derive(kGlobalPart), c.num_global, c.block, c.template_length))
      if (t < length) globals.push_back(t);
  } else {
    globals = distinct_draw(rng.derive(kGlobalPart).derive(static_cast<uint64_t>(length)), c.num_global, c.block, length);
  }
  if (c.first_token_global && (globals.empty() || globals.front() != 0)) globals.insert(globals.begin(), 0);
  std::vector<uint8_t> is_global(static_cast<size_t>(length), 0);
  for (VertexId t : globals) is_global[static_cast<size_t>(t)] = 1;
  g.global_tokens = globals;

  auto by_query = std::make_shared<Csr>();
  by_query->num_rows = by_query->num_cols = length;
  by_query->row_ptr.assign(1, 0);
  std::vector<VertexId> keys;
  std::vector<uint8_t> part;  // 0 local, 1 global, 2 random, per key before deduplication
  const CounterRng random_rng = rng.derive(kRandomPart);
  // Query p's random keys: its own draw, or (per_stride) its stride's, which is the draw of the stride's
  // first query; kept by that first query for the tiles.
  const bool per_stride = c.random_layout == "per_stride";
  std::vector<std::vector<VertexId>> stride_random(per_stride ? static_cast<size_t>(length) : 0);
  auto draw_random = [&](int64_t p) {
    std::vector<VertexId> random;
    if (templated) {
      for (VertexId k : distinct_draw(random_rng.derive(static_cast<uint64_t>(p)), c.num_random, 0, c.template_length))
        if (k < length) random.push_back(k);
    } else {
      random = distinct_draw(random_rng.derive(static_cast<uint64_t>(p)), c.num_random, 0, length);
    }
    return random;
  };
  int64_t stride_first = 0;
  for (int64_t p = 0; p < length; ++p) {
    keys.clear();
    part.clear();
    const auto [lo, hi] = local_range(p, length, c);
    for (int64_t k = lo; k < hi; ++k) {
      keys.push_back(static_cast<VertexId>(k));
      part.push_back(0);
    }
    if (is_global[static_cast<size_t>(p)]) {
      for (int64_t k = 0; k < length; ++k) {
        keys.push_back(static_cast<VertexId>(k));
        part.push_back(1);
      }
    } else {
      for (VertexId k : globals) {
        keys.push_back(k);
        part.push_back(1);
      }
    }
    std::vector<VertexId> own;
    if (per_stride) {
      if (p == 0 || local_range(p - 1, length, c) != std::make_pair(lo, hi)) {
        stride_first = p;
        stride_random[static_cast<size_t>(p)] = draw_random(p);
      }
    } else {
      own = draw_random(p);
    }
    const std::vector<VertexId>& random = per_stride ? stride_random[static_cast<size_t>(stride_first)] : own;
    for (VertexId k : random) {
      keys.push_back(k);
      part.push_back(2);
    }
    // Sort by key, the earliest part first, and keep one entry per key.
    std::vector<size_t> order(keys.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return keys[a] != keys[b] ? keys[a] < keys[b] : part[a] < part[b];
    });
    VertexId previous = -1;
    for (size_t i : order) {
      if (keys[i] == previous) continue;
      previous = keys[i];
      by_query->col.push_back(keys[i]);
      (part[i] == 0 ? g.local_edges : part[i] == 1 ? g.global_edges : g.random_edges) += 1;
    }
    by_query->row_ptr.push_back(static_cast<int64_t>(by_query->col.size()));
  }

  g.by_key = std::make_shared<const CsrTranspose>(transpose_with_edges(*by_query));
  g.tiles = std::make_shared<const EdgeTiles>(regular_tiles(*by_query, globals, is_global, c, stride_random));
  g.by_query = std::move(by_query);
  return g;
}

AttentionGraph complete_attention_graph(int64_t length) {
  AttentionGraphConfig c;
  c.block = c.stride = std::max<int64_t>(1, length);
  c.num_global = c.num_random = 0;
  c.random_mode = "fixed";
  return build_attention_graph(length, c);
}

}  // namespace relfm
