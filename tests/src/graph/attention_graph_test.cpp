// Diffuser's attention pattern (src/graph/attention_graph.hpp): the official local band, global tokens
// both ways, the cropped template, the transpose, determinism and the bad configurations.
#include "src/graph/attention_graph.hpp"
#include "src/core/error.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace relfm {
namespace {

std::set<std::pair<int64_t, int64_t>> edges_of(const Csr& g) {
  std::set<std::pair<int64_t, int64_t>> out;
  for (int64_t i = 0; i < g.num_rows; ++i)
    for (int64_t e = g.row_ptr[i]; e < g.row_ptr[i + 1]; ++e) out.insert({i, g.col[e]});
  return out;
}

AttentionGraphConfig band_only() {
  AttentionGraphConfig c;
  c.num_global = c.num_random = 0;
  return c;
}

TEST(AttentionGraph, TheOfficialBandGivesNinetySixKeysInsideAndSixtyFourAtTheEnds) {
  const AttentionGraph g = build_attention_graph(256, band_only());  // blocks of 64, stride 32
  const Csr& q = *g.by_query;
  for (int64_t p = 0; p < 256; ++p) {
    const int64_t block = p / 32;
    const int64_t lo = std::max<int64_t>(0, 32 * (block - 1)), hi = std::min<int64_t>(256, 32 * block + 64);
    ASSERT_EQ(q.row_end(p) - q.row_begin(p), hi - lo) << "query " << p;
    for (int64_t e = q.row_begin(p); e < q.row_end(p); ++e) EXPECT_EQ(q.col[e], lo + (e - q.row_begin(p)));
    EXPECT_EQ(hi - lo, p < 32 || p >= 224 ? 64 : 96) << "query " << p;
  }
  EXPECT_EQ(g.local_edges, q.nnz());
}

TEST(AttentionGraph, GlobalTokensAttendToAllAndAreAttendedByAll) {
  AttentionGraphConfig c = band_only();
  c.num_global = 3;
  c.random_mode = "fixed";
  c.first_token_global = true;
  const AttentionGraph g = build_attention_graph(200, c);
  ASSERT_EQ(g.global_tokens.size(), 4u);
  EXPECT_EQ(g.global_tokens.front(), 0);
  for (size_t i = 1; i < g.global_tokens.size(); ++i) EXPECT_GE(g.global_tokens[i], c.block);
  const auto edges = edges_of(*g.by_query);
  for (VertexId t : g.global_tokens)
    for (int64_t p = 0; p < 200; ++p) {
      EXPECT_TRUE(edges.count({t, p})) << t << " -> " << p;
      EXPECT_TRUE(edges.count({p, t})) << p << " -> " << t;
    }
}

TEST(AttentionGraph, TemplateModeIsTheCropOfTheLongerSequencesGraph) {
  AttentionGraphConfig c;  // the official template: 64 random keys per column of 4096, 64 globals
  const AttentionGraph small = build_attention_graph(512, c), large = build_attention_graph(1024, c);
  std::set<std::pair<int64_t, int64_t>> cropped;
  for (auto [i, j] : edges_of(*large.by_query))
    if (i < 512 && j < 512) cropped.insert({i, j});
  EXPECT_EQ(edges_of(*small.by_query), cropped);
  // About num_random * L / template_length random keys per query and 64 * (L - 64) / 4032 globals.
  EXPECT_NEAR(static_cast<double>(large.random_edges) / 1024, 64.0 * 1024 / 4096, 4.0);
  EXPECT_NEAR(static_cast<double>(large.global_tokens.size()), 64.0 * 960 / 4032, 8.0);
}

TEST(AttentionGraph, FixedModeDrawsTheSameNumberOfRandomKeysAtEveryLength) {
  AttentionGraphConfig c;
  c.random_mode = "fixed";
  c.num_global = 0;
  c.num_random = 8;
  for (int64_t length : {300, 3000}) {
    const AttentionGraph g = build_attention_graph(length, c);
    const Csr& q = *g.by_query;
    // The band from its definition: blocks [s, s + 64) for s = 0, 32, ... until one reaches the end.
    std::vector<std::set<int64_t>> band(static_cast<size_t>(length));
    for (int64_t s = 0;; s += 32) {
      for (int64_t i = s; i < std::min(length, s + 64); ++i)
        for (int64_t j = s; j < std::min(length, s + 64); ++j) band[static_cast<size_t>(i)].insert(j);
      if (s + 64 >= length) break;
    }
    for (int64_t p = 0; p < length; ++p) {
      std::set<int64_t> keys(q.col.begin() + q.row_begin(p), q.col.begin() + q.row_end(p));
      const auto& b = band[static_cast<size_t>(p)];
      EXPECT_TRUE(std::includes(keys.begin(), keys.end(), b.begin(), b.end())) << p;
      EXPECT_LE(keys.size(), b.size() + 8) << p;
    }
    EXPECT_NEAR(static_cast<double>(g.random_edges) / length, 8.0 * (1.0 - 96.0 / length), 0.5);
  }
}

TEST(AttentionGraph, TheTransposeIsExactAndPointsAtTheSameEdges) {
  AttentionGraphConfig c;
  c.random_mode = "fixed";
  c.num_global = 2;
  c.num_random = 5;
  const AttentionGraph g = build_attention_graph(333, c);
  const Csr& q = *g.by_query;
  const Csr& k = g.by_key->csr;
  q.validate();
  k.validate();
  ASSERT_EQ(k.nnz(), q.nnz());
  std::set<int64_t> seen;
  for (int64_t j = 0; j < k.num_rows; ++j)
    for (int64_t t = k.row_ptr[j]; t < k.row_ptr[j + 1]; ++t) {
      const int64_t e = g.by_key->edge[t];
      const int64_t i = k.col[t];
      ASSERT_TRUE(e >= q.row_ptr[i] && e < q.row_ptr[i + 1]) << "edge " << e << " is not in query " << i << "'s row";
      EXPECT_EQ(q.col[e], j);
      seen.insert(e);
      if (t > k.row_ptr[j]) {
        EXPECT_LT(k.col[t - 1], k.col[t]);
      }
    }
  EXPECT_EQ(static_cast<int64_t>(seen.size()), q.nnz());
}

// The tiles name the right edges, each once, and leave exactly the random-only edges to the CSR loops
// (the band, the global rows and the global columns cover every local and global edge).
TEST(AttentionGraph, TheDenseTilesCoverEveryRegularEdgeOnce) {
  for (const bool first_global : {false, true}) {
    AttentionGraphConfig c;
    c.first_token_global = first_global;
    for (const int64_t length : {1, 50, 97, 1000, 4096}) {
      const AttentionGraph g = build_attention_graph(length, c);
      ASSERT_NO_THROW(g.tiles->check(*g.by_query)) << "length " << length;
      const auto tiled = std::count(g.tiles->tiled.begin(), g.tiles->tiled.end(), uint8_t{1});
      EXPECT_EQ(tiled, g.local_edges + g.global_edges) << "length " << length;
    }
  }
  const AttentionGraph complete = complete_attention_graph(37);
  ASSERT_EQ(complete.tiles->tiles.size(), 1u);
  EXPECT_EQ(std::count(complete.tiles->tiled.begin(), complete.tiles->tiled.end(), uint8_t{1}), 37 * 37);
}

// random_layout = "per_stride": the queries of a band stride share one draw of random keys (the draw its
// first query makes per query), every query keeps the official band and global tokens, and the random edges
// then lie in dense tiles too, none left to the edge loops.
TEST(AttentionGraph, PerStrideRandomKeysAreSharedByAStridesQueriesAndAllTiled) {
  for (const std::string mode : {"template", "fixed"}) {
    SCOPED_TRACE(mode);
    AttentionGraphConfig own;
    own.random_mode = mode;
    own.num_global = 5;
    own.num_random = 12;
    AttentionGraphConfig shared = own, band_only = own;
    shared.random_layout = "per_stride";
    band_only.num_global = band_only.num_random = 0;
    for (const int64_t length : {1, 50, 97, 1000}) {
      SCOPED_TRACE(length);
      const AttentionGraph a = build_attention_graph(length, own), b = build_attention_graph(length, shared),
                           band = build_attention_graph(length, band_only);
      ASSERT_NO_THROW(b.tiles->check(*b.by_query));
      EXPECT_TRUE(b.tiles->rest_by_row.other.empty());
      EXPECT_EQ(std::count(b.tiles->tiled.begin(), b.tiles->tiled.end(), uint8_t{1}), b.by_query->nnz());
      ASSERT_EQ(a.global_tokens, b.global_tokens);
      const std::set<int64_t> globals(b.global_tokens.begin(), b.global_tokens.end());
      auto keys_of = [](const Csr& q, int64_t p) {
        std::set<int64_t> keys;
        for (int64_t e = q.row_begin(p); e < q.row_end(p); ++e) keys.insert(q.col[e]);
        return keys;
      };
      // A query's keys outside its band and the global tokens: its random keys.
      auto random_keys = [&](const Csr& q, int64_t p) {
        std::set<int64_t> keys = keys_of(q, p);
        for (int64_t k : keys_of(*band.by_query, p)) keys.erase(k);
        for (int64_t t : globals) keys.erase(t);
        return keys;
      };
      int64_t strides = 0, random_a = 0, random_b = 0;
      std::set<int64_t> stride_keys;
      bool known = false;  // stride_keys set by this stride's first non-global query
      for (int64_t p = 0; p < length; ++p) {
        const bool starts = p == 0 || keys_of(*band.by_query, p) != keys_of(*band.by_query, p - 1);
        if (starts) {
          ++strides;
          known = false;
        }
        if (globals.count(p)) continue;  // a global query attends to every key
        const std::set<int64_t> mine = random_keys(*b.by_query, p);
        random_a += static_cast<int64_t>(random_keys(*a.by_query, p).size());
        random_b += static_cast<int64_t>(mine.size());
        if (starts) {
          EXPECT_EQ(mine, random_keys(*a.by_query, p)) << "query " << p << ": the stride's draw is its first query's";
        }
        if (!known) {
          stride_keys = mine;
          known = true;
        }
        EXPECT_EQ(mine, stride_keys) << "query " << p;
      }
      if (length == 1000) {
        EXPECT_GT(strides, 25);
        EXPECT_NEAR(static_cast<double>(random_b) / static_cast<double>(random_a), 1.0, 0.15);  // the same count on average
      }
    }
  }
}

TEST(EdgeTiles, CheckRejectsATileThatNamesTheWrongEdgeOrOneTwice) {
  AttentionGraphConfig c;
  c.random_mode = "fixed";
  c.num_global = 2;
  const AttentionGraph g = build_attention_graph(300, c);
  EdgeTiles wrong = *g.tiles;
  auto& cell = wrong.tiles.back().edge;
  const auto named = std::find_if(cell.begin(), cell.end(), [](int64_t e) { return e >= 0; });
  ASSERT_NE(named, cell.end());
  *named += 1;  // the next entry of that row: another key
  EXPECT_THROW(wrong.check(*g.by_query), Error);
  EdgeTiles twice = *g.tiles;
  twice.tiles.push_back(twice.tiles.back());
  EXPECT_THROW(twice.check(*g.by_query), Error);
  EdgeTiles unmarked = *g.tiles;
  unmarked.tiled.assign(unmarked.tiled.size(), 0);
  EXPECT_THROW(unmarked.check(*g.by_query), Error);
}

TEST(AttentionGraph, SameSeedSameGraphAnotherSeedAnother) {
  AttentionGraphConfig c;
  const auto a = edges_of(*build_attention_graph(700, c).by_query);
  EXPECT_EQ(a, edges_of(*build_attention_graph(700, c).by_query));
  c.seed = 1;
  EXPECT_NE(a, edges_of(*build_attention_graph(700, c).by_query));
}

TEST(AttentionGraph, TheCompleteGraphHasEveryEdge) {
  const AttentionGraph g = complete_attention_graph(37);
  EXPECT_EQ(g.by_query->nnz(), 37 * 37);
}

// The InputError a bad configuration gives must name `key`.
void expect_error_naming(const AttentionGraphConfig& c, const std::string& key) {
  try {
    build_attention_graph(100, c);
    ADD_FAILURE() << "no error for a bad " << key;
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
  }
}

TEST(AttentionGraph, BadConfigurationsNameTheirKey) {
  AttentionGraphConfig c;
  c.stride = 65;
  expect_error_naming(c, "attention.stride");
  c = AttentionGraphConfig{};
  c.random_mode = "bigbird";
  expect_error_naming(c, "attention.random_mode");
  c = AttentionGraphConfig{};
  c.random_layout = "blocks";
  expect_error_naming(c, "attention.random_layout");
  c = AttentionGraphConfig{};
  EXPECT_THROW(build_attention_graph(5000, c), InputError);  // longer than the 4096 template
  EXPECT_THROW(build_attention_graph(0, c), InputError);
}

}  // namespace
}  // namespace relfm
