// Thought Propagation on shortest path, as the official code runs it (research §1.4), with the baselines
// in the same engine:
//   io, cot, bag  one call with the matching few-shot prompt (sp_io / sp_cot / sp_bag);
//   tot           the greedy walk of the official ToT baseline: list the current node's neighbours, let the
//                 model pick the most promising, repeat until the target (no backtracking);
//   tp            solve s→t; then for each of K layers: propose the neighbourhood of every node not yet
//                 expanded, solve s→u for every new neighbour u (all of a layer's calls at once), and, deepest
//                 node first, aggregate the neighbours' solutions as hints into a new s→node solution and
//                 let a readout call keep the better of old and new. Aggregation "direct" is that
//                 (a new solution directly); "vote" instead solves once per hint and lets `votes` sampled
//                 calls vote for the best candidate (a plan chosen by votes).
// A reply that cannot be parsed is a failed step: it is recorded and the current solution is kept.
#pragma once

#include "src/reasoning/llm_steps.hpp"
#include "src/reasoning/prompts.hpp"
#include "src/reasoning/shortest_path.hpp"

#include <string>
#include <vector>

namespace relfm::reasoning {

struct SpMethodSettings {
  std::string base = "io";           // TP's solver prompt: io | cot | bag
  int64_t layers = 2;                // K
  std::string aggregation = "direct";  // direct | vote
  int64_t votes = 5;
};

struct SpOutcome {
  // The answer after each layer: [0] is the initial solve (for io/cot/bag/tot the only entry).
  std::vector<std::string> answers;
  // Calls and tokens spent by the end of each layer (cumulative), for the cost of 1-, 2-, ...-layer TP.
  std::vector<int64_t> calls_at_layer, tokens_at_layer;
  std::vector<CallRecord> calls;
  int64_t failed_steps = 0;
};

// The prompt templates the shortest-path methods need (file names under tp.prompts_dir).
const std::vector<std::string>& shortest_path_prompt_names();
const std::vector<std::string>& shortest_path_methods();  // io, cot, bag, tot, tp

SpOutcome run_shortest_path(const std::string& method, const SpProblem& problem, const PromptSet& prompts,
                            StepRunner& runner, const SpMethodSettings& settings);

// The solution sentence a TP step keeps: the path and the stated distance of the reply's last line,
// rewritten as "The shortest path from the source node s to the target node t is [...]. The shortest
// distance is d." (the node ids make it usable as a hint); nullopt if either does not parse.
std::optional<std::string> canonical_solution(const std::string& reply, int source, int target);

}  // namespace relfm::reasoning
