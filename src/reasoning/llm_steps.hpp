// The unit every reasoning method is built from: a batch of prompts sent together (so the backend keeps
// them in flight at once), each leaving a CallRecord behind — the prompt, the reply, what was parsed from
// it, the timing and the tokens — which the tp job writes into results.h5.
#pragma once

#include "src/llm/chat.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace relfm::reasoning {

struct CallRecord {
  std::string step;     // solve, propose, solve_analogue, aggregate, readout, vote, tot_propose, tot_choose, ...
  int64_t layer = 0;    // TP layer (0 = the initial solve)
  int64_t node = -1;    // the sub-problem's node (shortest path) or candidate index (creative writing)
  int64_t sample = 0;
  std::string prompt, reply;
  std::string parsed;          // what the step took from the reply ("" when parsing failed)
  bool ok = false;             // the call got a reply
  bool parsed_ok = false;      // and the step could use it
  std::string error;           // transport failure, cut-short reply, or why parsing failed
  // What getting the reply cost (HTTP attempts, wall time), as the server was asked for it: the same
  // whether this run asked or the cache replayed the reply.
  double seconds = 0;
  int64_t prompt_tokens = 0, completion_tokens = 0, attempts = 0;
};

struct SamplingSettings {
  std::string model = "default";
  double temperature = 0.0;
  int64_t max_tokens = 1000;
  int64_t seed = 0;
};

struct Ask {
  std::string step;
  int64_t layer = 0, node = -1, sample = 0;
  std::string prompt;
};

class StepRunner {
 public:
  StepRunner(llm::ChatBackend& backend, SamplingSettings settings) : backend_(backend), settings_(std::move(settings)) {}
  // Sends every ask at once and appends their records to `calls`; returns the index of each record.
  // Sample k of an ask is sent with seed + k, so k samples at temperature > 0 are k different answers.
  std::vector<size_t> ask(const std::vector<Ask>& asks, std::vector<CallRecord>& calls);
  const SamplingSettings& settings() const { return settings_; }

 private:
  llm::ChatBackend& backend_;
  SamplingSettings settings_;
};

// Marks a record's step as failed (the reply is kept for the results file).
void fail_step(CallRecord& call, const std::string& why);

}  // namespace relfm::reasoning
