// The ListOps generator (src/seq/listops.hpp) against LRA's specification: every label is the value of
// its expression (checked by an evaluator of the tree written here, independent of listops::evaluate),
// lengths in (500, 2000), distinct, deterministic, the released TSV's tokenisation, and bad input.
#include "src/seq/listops.hpp"

#include "src/core/error.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <set>

namespace relfm {
namespace {

// Recursive evaluation from position `at` (an independent oracle: recursion instead of a stack of frames).
int reference_value(const std::vector<int32_t>& t, size_t& at) {
  const int32_t x = t[at++];
  if (x >= listops::kDigit0 && x < listops::kDigit0 + 10) return x - listops::kDigit0;
  std::vector<int> args;
  while (t[at] != listops::kClose) args.push_back(reference_value(t, at));
  ++at;
  std::sort(args.begin(), args.end());
  switch (x) {
    case listops::kMin: return args.front();
    case listops::kMax: return args.back();
    case listops::kSumMod: return std::accumulate(args.begin(), args.end(), 0) % 10;
    default: {
      const size_t n = args.size();
      const double median = n % 2 ? args[n / 2] : 0.5 * (args[n / 2 - 1] + args[n / 2]);
      return static_cast<int>(median);
    }
  }
}

TEST(ListOps, EveryLabelIsTheValueOfItsExpressionAndLengthsAreLras) {
  listops::GeneratorConfig c;
  const auto data = listops::generate(c, 60);
  ASSERT_EQ(data.size(), 60u);
  std::set<std::vector<int32_t>> distinct;
  std::map<int, int> ops;
  for (const auto& e : data) {
    EXPECT_GT(e.tokens.size(), 500u);
    EXPECT_LT(e.tokens.size(), 2000u);
    size_t at = 0;
    EXPECT_EQ(e.label, reference_value(e.tokens, at));
    EXPECT_EQ(at, e.tokens.size()) << "one expression, all tokens used";
    distinct.insert(e.tokens);
    for (int32_t t : e.tokens)
      if (t >= listops::kMin && t <= listops::kSumMod) ops[t]++;
  }
  EXPECT_EQ(distinct.size(), data.size());
  EXPECT_EQ(ops.size(), 4u) << "all four operators appear";
}

TEST(ListOps, StatisticsMatchLrasGenerator) {
  // research/diffuser.md §4.3 (3,000 samples of LRA's rules): mean length about 1048 tokens, labels 0 and
  // 9 about 17% each, the other digits 7-10%.
  const auto data = listops::generate(listops::GeneratorConfig{}, 1500);
  double total = 0;
  std::vector<int> labels(10, 0);
  for (const auto& e : data) {
    total += static_cast<double>(e.tokens.size());
    labels[static_cast<size_t>(e.label)]++;
  }
  const double n = static_cast<double>(data.size());
  EXPECT_NEAR(total / n, 1048, 40);
  EXPECT_NEAR(labels[0] / n, 0.17, 0.035);
  EXPECT_NEAR(labels[9] / n, 0.17, 0.035);
  for (int d = 1; d <= 8; ++d) EXPECT_NEAR(labels[static_cast<size_t>(d)] / n, 0.085, 0.035) << "label " << d;
}

TEST(ListOps, SameSeedSameDataAnotherSeedOther) {
  listops::GeneratorConfig c;
  c.min_length = 20;
  c.max_length = 200;
  const auto a = listops::generate(c, 30), b = listops::generate(c, 30);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].tokens, b[i].tokens);
  c.seed = 1;
  EXPECT_NE(listops::generate(c, 30)[0].tokens, a[0].tokens);
}

TEST(ListOps, ShortTreesFollowTheNodeRule) {
  // max_depth 2: the root is an operator (else the tree is one digit, rejected by min_length 2) whose
  // 2..max_args arguments are digits, so lengths are 4..12 and every argument count appears.
  listops::GeneratorConfig c;
  c.max_depth = 2;
  c.min_length = 2;
  c.max_length = 100;
  std::set<size_t> lengths;
  for (const auto& e : listops::generate(c, 300)) lengths.insert(e.tokens.size());
  EXPECT_EQ(*lengths.begin(), 4u);
  EXPECT_EQ(*lengths.rbegin(), 12u);
  EXPECT_EQ(lengths.size(), 9u);
}

TEST(ListOps, TokenizesTheReleasedSourceFormat) {
  // The released TSV's Source field: nested parentheses, "]" closing an operator.
  const auto t = listops::tokenize("( ( ( ( [MAX 4 ) 3 ) ( ( [MED 2 ) 9 ) ] ) ] )", "basic_val.tsv:2");
  const std::vector<int32_t> expected = {listops::kMax, 5, 4, listops::kMed, 3, 10, listops::kClose, listops::kClose};
  EXPECT_EQ(t, expected);
  EXPECT_EQ(listops::evaluate(t), 5);  // MAX(4, 3, MED(2, 9) = 5)
}

TEST(ListOps, MalformedInputNamesWhereItIs) {
  auto message = [](auto f) {
    try {
      f();
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message([] { listops::tokenize("( [MAX 4 [FOO 3 ] )", "train.tsv:7"); }).find("train.tsv:7"), std::string::npos);
  EXPECT_NE(message([] { listops::evaluate({listops::kMax, 5}, "x.tsv:3"); }).find("never closed"), std::string::npos);
  EXPECT_NE(message([] { listops::evaluate({listops::kClose}, "x.tsv:4"); }).find("x.tsv:4"), std::string::npos);
  EXPECT_NE(message([] { listops::evaluate({5, 6}, "x.tsv:5"); }).find("more than one"), std::string::npos);
  EXPECT_NE(message([] { listops::evaluate({99}, "x.tsv:6"); }).find("not a ListOps token"), std::string::npos);
}

}  // namespace
}  // namespace relfm
