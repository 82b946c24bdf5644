// The LLM calls of the tp job: each item's calls travel in its journal record as JSON lines (text field
// "_calls"), and rank 0 writes them into results.h5 as one table with a row per call:
//
//   /calls/item int64 [c]           the work item (problem × method) the call belongs to
//   /calls/<number> float64 [c]     layer, node, sample, ok, parsed_ok, seconds, prompt_tokens,
//                                   completion_tokens, attempts (HTTP requests); seconds and attempts
//                                   are what the reply cost when the server produced it, also when this run
//                                   found it in the cache (so a warm rerun writes the same file)
//   /calls/<text>.chars uint8, /calls/<text>.offsets int64 [c+1]   step, prompt, reply, parsed, error
//
// (the same text layout as /items; pandas: pd.DataFrame({k: f["calls"][k][()] for k in numbers})).
#pragma once

#include "io/h5.hpp"
#include "jobs/work_items.hpp"
#include "src/reasoning/llm_steps.hpp"

#include <map>
#include <string>
#include <vector>

namespace relfm::jobs {

std::string calls_to_jsonl(const std::vector<reasoning::CallRecord>& calls);

// An item's calls added up.
struct CallTotals {
  double prompt_tokens = 0, completion_tokens = 0, http_attempts = 0, failed = 0, seconds = 0;
};
CallTotals total_of(const std::vector<reasoning::CallRecord>& calls);
void write_calls_table(h5::File& f, const std::map<int64_t, ItemRecord>& records);

}  // namespace relfm::jobs
