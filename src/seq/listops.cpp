#include "src/seq/listops.hpp"

#include "src/core/error.hpp"

#include <algorithm>
#include <array>
#include <unordered_set>

namespace relfm::listops {
namespace {

constexpr std::array<std::string_view, kVocabularySize> kText = {
    "<pad>", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "[MIN", "[MAX", "[MED", "[SM", "X"};
constexpr double kValueProbability = 0.75;  // LRA's VALUE_P = 0.25 is the threshold u > 0.25 for a digit

// One attempt's tree, written as tokens while it is drawn; false when it grows past `limit` tokens.
class TreeWriter {
 public:
  TreeWriter(const CounterRng& rng, const GeneratorConfig& config) : rng_(rng), config_(config) {}
  bool node(int64_t depth, std::vector<int32_t>& out) {
    if (static_cast<int64_t>(out.size()) >= config_.max_length) return false;
    const bool digit = depth >= config_.max_depth || rng_.uniform_double(next_++) > 1.0 - kValueProbability;
    if (digit) {
      out.push_back(kDigit0 + static_cast<int32_t>(rng_.below(next_++, 10)));
      return true;
    }
    const int64_t args = 2 + static_cast<int64_t>(rng_.below(next_++, static_cast<uint64_t>(config_.max_args - 1)));
    // LRA draws the arguments first and the operator after them; the order of draws does not matter here
    // (a counter-based stream), the operator is written first.
    const size_t op_at = out.size();
    out.push_back(kMin);
    for (int64_t a = 0; a < args; ++a)
      if (!node(depth + 1, out)) return false;
    out[op_at] = kMin + static_cast<int32_t>(rng_.below(next_++, 4));
    out.push_back(kClose);
    return true;
  }

 private:
  const CounterRng& rng_;
  const GeneratorConfig& config_;
  uint64_t next_ = 0;
};

int32_t apply(int32_t op, std::vector<int32_t>& args) {
  switch (op) {
    case kMin: return *std::min_element(args.begin(), args.end());
    case kMax: return *std::max_element(args.begin(), args.end());
    case kSumMod: {
      int64_t s = 0;
      for (int32_t a : args) s += a;
      return static_cast<int32_t>(s % 10);
    }
    default: {  // kMed: numpy's median, then int() (truncation; values are non-negative)
      std::sort(args.begin(), args.end());
      const size_t n = args.size();
      return n % 2 == 1 ? args[n / 2] : (args[n / 2 - 1] + args[n / 2]) / 2;
    }
  }
}

}  // namespace

std::string_view token_text(int32_t token) {
  if (token < 0 || token >= kVocabularySize) return "<unknown>";
  return kText[static_cast<size_t>(token)];
}

int32_t token_id(std::string_view text) {
  for (int32_t t = kDigit0; t <= kClose; ++t)
    if (kText[static_cast<size_t>(t)] == text) return t;
  return -1;
}

std::vector<Example> generate(const GeneratorConfig& config, int64_t count) {
  if (config.max_depth < 1 || config.max_args < 2 || config.min_length < 0 || config.max_length <= config.min_length + 1)
    fail_input("listops: depth {}, arguments {}, lengths ({}, {}) describe no tree", config.max_depth, config.max_args,
               config.min_length, config.max_length);
  const CounterRng rng(config.seed, RngPurpose::kGenerate, 0x115705);
  std::vector<Example> out;
  std::unordered_set<std::string> seen;
  std::vector<int32_t> tokens;
  for (uint64_t attempt = 0; static_cast<int64_t>(out.size()) < count; ++attempt) {
    tokens.clear();
    const CounterRng stream = rng.derive(attempt);
    TreeWriter writer(stream, config);
    if (!writer.node(1, tokens)) continue;
    const auto n = static_cast<int64_t>(tokens.size());
    if (n <= config.min_length || n >= config.max_length) continue;
    std::string key(reinterpret_cast<const char*>(tokens.data()), tokens.size() * sizeof(int32_t));
    if (!seen.insert(std::move(key)).second) continue;
    out.push_back({tokens, evaluate(tokens)});
  }
  return out;
}

int32_t evaluate(const std::vector<int32_t>& tokens, const std::string& where) {
  // Operators open a frame of arguments; "X" closes the innermost frame and passes its value up.
  std::vector<std::pair<int32_t, std::vector<int32_t>>> frames;
  int32_t result = -1;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const int32_t t = tokens[i];
    int32_t value = -1;
    if (t >= kMin && t <= kSumMod) {
      frames.push_back({t, {}});
      continue;
    }
    if (t >= kDigit0 && t < kDigit0 + 10) {
      value = t - kDigit0;
    } else if (t == kClose) {
      if (frames.empty()) fail_input("{}: token {} closes an expression that was never opened", where, i + 1);
      auto [op, args] = std::move(frames.back());
      frames.pop_back();
      if (args.empty()) fail_input("{}: token {} closes an operator without arguments", where, i + 1);
      value = apply(op, args);
    } else if (t == kPad) {
      continue;
    } else {
      fail_input("{}: token {} has id {}, not a ListOps token", where, i + 1, t);
    }
    if (frames.empty()) {
      if (result >= 0) fail_input("{}: more than one expression (a second one ends at token {})", where, i + 1);
      result = value;
    } else {
      frames.back().second.push_back(value);
    }
  }
  if (!frames.empty()) fail_input("{}: {} operator(s) never closed", where, frames.size());
  if (result < 0) fail_input("{}: no expression", where);
  return result;
}

std::vector<int32_t> tokenize(std::string_view source, const std::string& where) {
  std::vector<int32_t> out;
  std::string word;
  auto flush = [&] {
    if (word.empty()) return;
    const int32_t id = token_id(word == "]" ? std::string_view("X") : std::string_view(word));
    if (id < 0) fail_input("{}: '{}' is not a ListOps symbol", where, word);
    out.push_back(id);
    word.clear();
  };
  for (char c : source) {
    if (c == '(' || c == ')') continue;
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') flush();
    else word.push_back(c);
  }
  flush();
  return out;
}

}  // namespace relfm::listops
