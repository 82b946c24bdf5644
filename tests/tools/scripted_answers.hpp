// The scripted answers of relfm_scripted_llm_server (tests only; it is not a model). It recognises the
// prompts of jobs/tp_prompts/ by their instance section and answers from the ground truth it can compute:
//
//  * oracle: shortest-path prompts are answered exactly (Dijkstra for solve and readout, the true
//    neighbour list for propose, a relaxation over the given hints for aggregate).
//  * noisy: the same, but a reasoning step goes wrong with probability `error_rate` per step, and a solve
//    from scratch takes one step per edge of the optimal path (so a 3-edge problem errs with probability
//    1 - (1 - e)^3): a scripted picture of "long chains of reasoning accumulate errors", which is the
//    premise Thought Propagation tests. A wrong step is half the time a wrong path (feasible but longer
//    when one exists) and half the time an unparsable reply. Draws are keyed by (seed, prompt, sample).
//  * creative writing: fixed plans, rephrasings, passages that end with the required sentences, votes
//    and judge scores derived from a hash of the prompt.
#pragma once

#include <cstdint>
#include <string>

namespace relfm::testing {

struct ScriptSettings {
  bool noisy = false;
  double error_rate = 0.0;
  uint64_t seed = 0;
};

// The reply content for one prompt (the last user message), or a short refusal for prompts it does not
// recognise.
std::string scripted_answer(const std::string& prompt, int64_t sample, const ScriptSettings& settings);

}  // namespace relfm::testing
