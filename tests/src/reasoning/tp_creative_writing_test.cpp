// Creative writing: the parsers, the shipped 100 instances, and every method against the scripted server
// (its passages end with the required sentences; its votes and judge scores are scripted, not a model's).
#include "src/core/error.hpp"
#include "src/llm/backends.hpp"
#include "src/reasoning/tp_creative_writing.hpp"
#include "tests/src/llm/scripted_server.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

namespace relfm::reasoning {
namespace {

TEST(CreativeWriting, TheShippedInstancesAreTheHundredOfThePaper) {
  const auto lines = read_creative_writing_file(std::string(RELFM_SOURCE_DIR) + "/data/tp/creative_writing/data_100_random_text.txt");
  EXPECT_EQ(lines.size(), 100u);
  EXPECT_EQ(lines[0].rfind("It isn't difficult to do a handstand", 0), 0u);
  EXPECT_THROW(read_creative_writing_file("/nonexistent/cw.txt"), InputError);
}

TEST(CreativeWriting, ParsersTakeWhatTheOfficialCodeTakes) {
  EXPECT_EQ(passage_of("Plan:\n1. x\n\nPassage:\nOne.\n\nTwo.\n"), "One.\n\nTwo.");
  EXPECT_EQ(passage_of("  Just a passage. "), "Just a passage.");
  EXPECT_TRUE(plan_of("Plan:\n1. a\n2. b\n3. c\n4. d"));
  EXPECT_FALSE(plan_of("Plan:\n1. a\n2. b\n3. c"));  // a plan needs four items
  EXPECT_EQ(choice_of("I compared them.\nThe best choice is 3.", 5), 3);
  EXPECT_FALSE(choice_of("The best choice is 6", 5));
  EXPECT_FALSE(choice_of("The best choice is 2.\nOr maybe not.", 5));  // only the last line counts
  EXPECT_EQ(score_of("Good flow.\nThus the coherency score is 7"), 7);
  EXPECT_FALSE(score_of("Thus the coherency score is 11"));
  EXPECT_FALSE(score_of("It is coherent."));
}

TEST(CreativeWriting, EveryMethodAgainstTheScriptedServerAndTheCallCounts) {
  testing::ScriptedServer server({"--mode", "oracle"});
  llm::BackendOptions o;
  o.openai.base_url = server.url();
  auto backend = llm::make_backend("retry,openai", o);
  StepRunner runner(*backend, {});
  const PromptSet prompts(std::string(RELFM_SOURCE_DIR) + "/jobs/tp_prompts", creative_writing_prompt_names());
  const std::string sentences = "The cat slept. Rain fell all night. Nobody came to the door. It was a quiet week.";
  std::map<std::string, int64_t> expected_solve_calls = {{"io", 1}, {"cot", 1}, {"tp", 1 + 5 + 5 + 5 + 5 + 5}};
  for (const std::string& method : creative_writing_methods()) {
    const CwOutcome out = run_creative_writing(method, sentences, prompts, runner, {});
    EXPECT_EQ(out.solve_calls, expected_solve_calls[method]) << method;
    EXPECT_EQ(static_cast<int64_t>(out.calls.size()), out.solve_calls + 5) << method;  // + the judge's 5
    EXPECT_EQ(out.failed_steps, 0) << method;
    EXPECT_NE(out.passage.find("Rain fell all night."), std::string::npos) << out.passage;
    EXPECT_EQ(out.judgements, 5);
    EXPECT_GE(out.coherence, 1.0);
    EXPECT_LE(out.coherence, 10.0);
  }
}

}  // namespace
}  // namespace relfm::reasoning
