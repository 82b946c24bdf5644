// Thought Propagation on creative writing (research §2.2): four sentences in, a coherent passage of four
// short paragraphs out, each paragraph ending with one of the sentences. The official pipeline, one layer:
//   plan the input → propose `analogues` rephrasings of the four sentences (sampled) → plan each
//   rephrasing → `votes` sampled calls vote for the best of all plans (a plan counts only if it has items
//   "1."–"4.") → write `samples` passages with the winning plan → `votes` calls vote for the best passage.
// Baselines: io (write the passage), cot (plan, then passage, in one reply). Every method's passage is
// scored by an LLM judge (`judge_samples` sampled calls, "Thus the coherency score is s", s in 1..10,
// averaged), as the paper does.
#pragma once

#include "src/reasoning/llm_steps.hpp"
#include "src/reasoning/prompts.hpp"

#include <optional>
#include <string>
#include <vector>

namespace relfm::reasoning {

struct CwSettings {
  int64_t analogues = 5, samples = 5, votes = 5, judge_samples = 5;
};

struct CwOutcome {
  std::string passage;
  double coherence = 0;       // mean judge score over the parsable judgements (NaN if none)
  int64_t judgements = 0;     // parsable judge replies
  int64_t failed_steps = 0;
  int64_t solve_calls = 0;    // calls before judging (the method's own cost)
  std::vector<CallRecord> calls;
};

const std::vector<std::string>& creative_writing_prompt_names();
const std::vector<std::string>& creative_writing_methods();  // io, cot, tp

// Reads the 100-instance file: one instance (four sentences) per line; an InputError names the file.
std::vector<std::string> read_creative_writing_file(const std::string& path);

CwOutcome run_creative_writing(const std::string& method, const std::string& sentences, const PromptSet& prompts,
                               StepRunner& runner, const CwSettings& settings);

// Parsers (exposed for tests): the passage after "Passage:" (or the whole reply), a plan with items
// "1."–"4.", the id after "best choice is", the score after "coherency score is".
std::string passage_of(const std::string& reply);
std::optional<std::string> plan_of(const std::string& reply);
std::optional<int> choice_of(const std::string& reply, int choices);
std::optional<int> score_of(const std::string& reply);

}  // namespace relfm::reasoning
