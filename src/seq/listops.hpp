// LRA's ListOps (research/diffuser.md §4): nested MIN / MAX / MED / SM (sum mod 10) expressions over the
// digits, 10 classes, sequences of 501-1999 tokens after LRA's preprocessing (round parentheses dropped,
// "]" renamed "X"). The generator follows lra_benchmarks/data/listops.py: a node at depth < max_depth
// (root at depth 1) is a digit with probability 0.75, otherwise an operator chosen uniformly with a
// uniform number of arguments in [2, max_args], each argument a node one level deeper; at max_depth it is
// a digit. A tree is kept when min_length < tokens < max_length, and once (duplicates dropped).
//
// Unlike the original (which seeds nothing), the generator is deterministic: attempt a draws from its own
// counter-based stream (seed, a), so an attempt that grows past max_length is abandoned early without
// changing any other attempt, and the same seed gives the same data on any machine.
#pragma once

#include "src/core/rng.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace relfm::listops {

// Token ids: 0 padding, 1-10 the digits 0-9, 11-14 the operators, 15 the closing "X" (a model that pools
// a CLS token adds its own id after these).
enum Token : int32_t { kPad = 0, kDigit0 = 1, kMin = 11, kMax = 12, kMed = 13, kSumMod = 14, kClose = 15 };
inline constexpr int32_t kVocabularySize = 16;
// The token's text in LRA's preprocessed form ("[MIN", "X", "7", ...; "<pad>").
std::string_view token_text(int32_t token);
// The id of a preprocessed token's text; -1 when it is none of the 15 ListOps symbols.
int32_t token_id(std::string_view text);

struct Example {
  std::vector<int32_t> tokens;
  int32_t label = 0;
};

struct GeneratorConfig {
  int64_t max_depth = 10;
  int64_t max_args = 10;
  int64_t min_length = 500;   // exclusive
  int64_t max_length = 2000;  // exclusive
  uint64_t seed = 0;
};

// The first `count` distinct accepted trees of the seed's attempts, in attempt order.
std::vector<Example> generate(const GeneratorConfig& config, int64_t count);

// The value of a token sequence (prefix operators, "X" closes); throws InputError naming `where` (e.g.
// "file.tsv:12") for a malformed expression.
int32_t evaluate(const std::vector<int32_t>& tokens, const std::string& where = "listops");

// LRA's preprocessing of a Source field of the released TSV files: drop "(" and ")", rename "]" to "X",
// split on whitespace, map to ids; InputError naming `where` for an unknown symbol.
std::vector<int32_t> tokenize(std::string_view source, const std::string& where);

}  // namespace relfm::listops
