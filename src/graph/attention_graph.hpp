// Diffuser's sparse attention pattern over the L tokens of a sequence (research/diffuser.md §1.3): a
// local band, global tokens and random edges, stored by query (CSR: row i lists the keys query i attends
// to, in increasing order, each once) with the transpose (by key) and its permutation into the edge order.
//
// Local band: blocks of `block` tokens starting every `stride` tokens (0, stride, ... until a block
// reaches the end); a query attends to every key of every block that contains it. The official 64 / 32
// gives each query 96 keys (64 in the first and last stride), itself included.
// Global tokens attend to every token and every token attends to them.
// Random edges, two modes:
//   "template" (the official code): a template of template_length tokens in which every query column has
//     num_random random keys and num_global random global positions in [block, template_length) are drawn
//     once (seed), then cropped to the first L tokens, so that random keys per query (~ num_random L /
//     template_length) and global tokens grow with L. The official draw is num_random x template_length
//     distinct cells of the whole template; here each column gets num_random distinct keys (the same
//     expected count per query, never zero in the template).
//   "fixed": num_random random keys per query and num_global global positions in [block, L), drawn for
//     each L: cost per query independent of L.
// Random edges, two layouts:
//   "per_query" (the official code): every query draws its own random keys (above), so they run edge by
//     edge, each gathering its key's row.
//   "per_stride" (BigBird's random blocks, not the official pattern): the queries of one band stride (those
//     whose local blocks are the same) share one draw of random keys, made as the first of them would make
//     it in the mode above; the stride's random edges then join its band's dense tile. The same
//     random keys per query on average, drawn from the same distribution; only their correlation between
//     neighbouring queries differs.
// first_token_global makes token 0 global as well (the official code does not: research §1.3).
// Every draw comes from the counter-based generator keyed by (seed, part, query), so a graph is the same
// on every rank and in every run.
#pragma once

#include "src/graph/csr.hpp"
#include "src/graph/edge_tiles.hpp"

#include <memory>
#include <string>
#include <vector>

namespace relfm {

struct AttentionGraphConfig {
  int64_t block = 64;
  int64_t stride = 32;
  int64_t num_global = 64;
  int64_t num_random = 64;
  std::string random_mode = "template";  // "template" | "fixed"
  std::string random_layout = "per_query";  // "per_query" | "per_stride"
  int64_t template_length = 4096;        // "template" mode: the longest sequence it serves
  bool first_token_global = false;
  uint64_t seed = 0;
};

struct AttentionGraph {
  int64_t length = 0;
  std::shared_ptr<const Csr> by_query;  // rows: queries; entries: keys; edge k = entry k
  // The transpose: key j's queries, each entry naming its edge of by_query (backward passes gather along
  // keys with it instead of scattering).
  std::shared_ptr<const CsrTranspose> by_key;
  // The regular parts as dense tiles: the global tokens' rows (every key), the local band (the queries of
  // one stride share their keys; with random_layout = "per_stride" also their shared random keys) and the
  // global tokens' columns; the rest (per_query random edges) stays in the CSR loops.
  EdgeTilesPtr tiles;
  std::vector<VertexId> global_tokens;  // increasing
  // Edge counts by the part that put them there (an edge in several parts counts in the first of local,
  // global, random).
  int64_t local_edges = 0, global_edges = 0, random_edges = 0;
};

// Checks the configuration (InputError naming the key, with `key_prefix` before each name).
void validate_attention_graph_config(const AttentionGraphConfig& config, const std::string& key_prefix = "attention.");
AttentionGraph build_attention_graph(int64_t length, const AttentionGraphConfig& config);

// The complete graph on L tokens (every query attends to every key): with one hop and no teleport,
// Diffuser attention on it is dense attention (the oracle of the tests and the baseline of the benchmark).
AttentionGraph complete_attention_graph(int64_t length);

}  // namespace relfm
