// The shortest-path engine: each step against scripted replies (a canned-reply test double), parse
// failures that keep the current solution, the call counts of research §1.4, and every method against
// relfm_scripted_llm_server's oracle and noisy modes.
#include "src/core/error.hpp"
#include "src/llm/backends.hpp"
#include "src/reasoning/tp_shortest_path.hpp"
#include "tests/src/llm/scripted_server.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <set>

namespace relfm::reasoning {
namespace {

using testing::ScriptedServer;

PromptSet shipped_prompts() { return PromptSet(std::string(RELFM_SOURCE_DIR) + "/jobs/tp_prompts", shortest_path_prompt_names()); }

// A test double: answers each prompt with the function given (no HTTP), counting calls.
class CannedBackend final : public llm::ChatBackend {
 public:
  explicit CannedBackend(std::function<std::string(const std::string&)> answer) : answer_(std::move(answer)) {}
  std::vector<llm::ChatReply> complete(const std::vector<llm::ChatRequest>& requests, const llm::ReplySink& on_reply) override {
    std::vector<llm::ChatReply> out;
    for (const auto& r : requests) {
      llm::ChatReply reply;
      reply.ok = true;
      reply.choices = {answer_(r.messages.back().content)};
      reply.prompt_tokens = 10;
      reply.completion_tokens = 2;
      reply.attempts = 1;
      if (on_reply) on_reply(out.size(), reply);
      out.push_back(reply);
      ++calls;
    }
    return out;
  }
  void add_stats(llm::Stats&) const override {}
  std::string describe() const override { return "canned"; }
  int64_t calls = 0;

 private:
  std::function<std::string(const std::string&)> answer_;
};

bool is(const std::string& prompt, const char* instance_marker) {
  return prompt.substr(prompt.rfind("Input:\n")).find(instance_marker) != std::string::npos;
}

// 0 -1- 1 -1- 3 (optimal, 2), 0 -1- 2 -2- 3, 0 -9- 3? no: 0 and 3 not adjacent. Target 3 has neighbours 1, 2.
SpProblem diamond() {
  return parse_problem_json(R"({"nodes": [0, 1, 2, 3], "edges": [[0, 1], [1, 3], [0, 2], [2, 3]], "distance": [1, 1, 1, 2]})",
                            "diamond");
}

TEST(TpSteps, OneLayerRepairsAWrongInitialSolveThroughAggregateAndReadout) {
  const PromptSet prompts = shipped_prompts();
  CannedBackend canned([](const std::string& p) -> std::string {
    if (is(p, "Input Node: 3")) return "The neighborhood node list of the input node is [0, 1, 2, 7].";  // 0 and 7 dropped
    if (is(p, "Solution 1:")) return "Solution 2 is shorter.\nThe shortest path from the source node to the target node is [0, 1, 3]. The shortest distance is 2.";
    if (is(p, "The hints are:")) return "Using the above hints, the shortest path from the source node 0 to the target node 3 is [0, 1, 3]. The shortest distance is 2.";
    if (is(p, "Target Node: 1")) return "The shortest path from the source node to the target node is [0, 1]. The shortest distance is 1.";
    if (is(p, "Target Node: 2")) return "I do not know.";  // an unusable analogue: no hint from node 2
    return "The shortest path from the source node to the target node is [0, 2, 3]. The shortest distance is 3.";
  });
  StepRunner runner(canned, {});
  const SpOutcome out = run_shortest_path("tp", diamond(), prompts, runner, {.layers = 1});
  ASSERT_EQ(out.answers.size(), 2u);
  EXPECT_FALSE(score_answer(diamond(), out.answers[0]).optimal);
  EXPECT_TRUE(score_answer(diamond(), out.answers[1]).optimal) << out.answers[1];
  std::vector<std::string> steps;
  for (const CallRecord& c : out.calls) steps.push_back(c.step);
  EXPECT_EQ(steps, (std::vector<std::string>{"solve", "propose", "solve_analogue", "solve_analogue", "aggregate", "readout"}));
  EXPECT_EQ(out.calls[1].parsed, "1,2");
  EXPECT_EQ(out.failed_steps, 1);  // node 2's analogue
  EXPECT_FALSE(out.calls[3].parsed_ok);
  const std::string instance = out.calls[4].prompt.substr(out.calls[4].prompt.rfind("Input:\n"));
  EXPECT_EQ(instance.find("target node 2 is"), std::string::npos);  // no hint from the failed analogue
  EXPECT_NE(instance.find("The shortest path from the source node 0 to the target node 1 is [0, 1]"), std::string::npos);
  EXPECT_EQ(out.calls_at_layer, (std::vector<int64_t>{1, 6}));
  EXPECT_EQ(out.tokens_at_layer.back(), 6 * 12);
}

TEST(TpSteps, AnUnparsableReadoutOrAggregateKeepsTheCurrentSolution) {
  const PromptSet prompts = shipped_prompts();
  for (const char* broken : {"Solution 1:", "The hints are:"}) {
    CannedBackend canned([&](const std::string& p) -> std::string {
      if (is(p, "Input Node:")) return "The neighborhood node list of the input node is [1, 2].";
      if (is(p, broken)) return "Both look fine to me";
      if (is(p, "Solution 1:")) return "The shortest path from the source node to the target node is [0, 1, 3]. The shortest distance is 2.";
      if (is(p, "The hints are:")) return "Using the above hints, the path is [0, 1, 3]. The shortest distance is 2.";
      return "The shortest path from the source node to the target node is [0, 2, 3]. The shortest distance is 3.";
    });
    StepRunner runner(canned, {});
    const SpOutcome out = run_shortest_path("tp", diamond(), prompts, runner, {.layers = 1});
    EXPECT_EQ(out.answers[1], out.answers[0]) << broken;
    EXPECT_EQ(out.failed_steps, 1) << broken;
    const CallRecord& last = out.calls.back();
    EXPECT_FALSE(last.parsed_ok);
    EXPECT_FALSE(last.error.empty());
  }
}

TEST(TpSteps, AFailedCallIsAFailedStepNotAnError) {
  const PromptSet prompts = shipped_prompts();
  // A server that is down: every call fails after its retries; the engine still returns an outcome.
  llm::BackendOptions o;
  o.openai.base_url = "http://127.0.0.1:9";
  o.retry.max_attempts = 1;
  auto backend = llm::make_backend("retry,openai", o);
  StepRunner runner(*backend, {});
  const SpOutcome out = run_shortest_path("tp", diamond(), prompts, runner, {.layers = 2});
  EXPECT_EQ(out.calls.size(), 2u);  // solve, propose; nothing to aggregate
  EXPECT_EQ(out.answers.size(), 3u);
  EXPECT_FALSE(out.calls[0].ok);
  EXPECT_NE(out.calls[0].error.find("connection"), std::string::npos) << out.calls[0].error;
  EXPECT_FALSE(score_answer(diamond(), out.answers.back()).feasible);
}

// The calls of research §1.4 with a perfect proposer: 1 + (1 + deg(t) + 2) for one layer; the second layer
// proposes for each new node, solves the 2-hop ones, and aggregates + reads out every expanded node.
std::pair<int64_t, int64_t> expected_calls(const SpProblem& p) {
  std::vector<int> first;
  for (int v : p.graph.neighbours(p.target))
    if (v != p.source) first.push_back(v);
  const int64_t one = 1 + 1 + static_cast<int64_t>(first.size()) + 2;
  std::set<int> known(first.begin(), first.end());
  known.insert(p.target);
  int64_t second_solves = 0, expanded = first.empty() ? 0 : 1;
  std::set<int> fresh;
  for (int u : first) {
    bool has = false;
    for (int v : p.graph.neighbours(u))
      if (v != p.source && v != u) {
        has = true;
        if (!known.count(v)) fresh.insert(v);
      }
    expanded += has;
  }
  second_solves = static_cast<int64_t>(fresh.size());
  return {one, one + static_cast<int64_t>(first.size()) + second_solves + 2 * expanded};
}

TEST(TpOracle, EveryMethodSolvesAndTheCallCountsMatchResearch) {
  ScriptedServer server({"--mode", "oracle"});
  llm::BackendOptions o;
  o.openai.base_url = server.url();
  auto backend = llm::make_backend("retry,openai", o);
  StepRunner runner(*backend, {});
  const PromptSet prompts = shipped_prompts();
  double calls1 = 0, calls2 = 0;
  const int n = 40;
  for (int i = 0; i < n; ++i) {
    const SpProblem p = generate_problem(11, static_cast<uint64_t>(i));
    for (const char* m : {"io", "cot", "bag"}) {
      const SpOutcome out = run_shortest_path(m, p, prompts, runner, {});
      EXPECT_EQ(out.calls.size(), 1u);
      EXPECT_TRUE(score_answer(p, out.answers[0]).optimal) << m << " " << out.answers[0];
    }
    EXPECT_TRUE(score_answer(p, run_shortest_path("tot", p, prompts, runner, {}).answers[0]).feasible);
    for (const std::string base : {"io", "cot"}) {
      const SpOutcome tp = run_shortest_path("tp", p, prompts, runner, {.base = base, .layers = 2});
      ASSERT_EQ(tp.answers.size(), 3u);
      for (const std::string& a : tp.answers) EXPECT_TRUE(score_answer(p, a).optimal) << a;
      EXPECT_EQ(tp.failed_steps, 0);
      const auto [one, two] = expected_calls(p);
      EXPECT_EQ(tp.calls_at_layer[1], one) << "problem " << i;
      EXPECT_EQ(tp.calls_at_layer[2], two) << "problem " << i;
      if (base == "io") calls1 += static_cast<double>(one) / n, calls2 += static_cast<double>(two) / n;
    }
    const SpOutcome vote = run_shortest_path("tp", p, prompts, runner, {.layers = 1, .aggregation = "vote", .votes = 3});
    EXPECT_TRUE(score_answer(p, vote.answers[1]).optimal) << vote.answers[1];
  }
  // Research §1.4 on the official 100 graphs: ≈ 6.9 and ≈ 20 calls per problem.
  EXPECT_GT(calls1, 5.5);
  EXPECT_LT(calls1, 8.5);
  EXPECT_GT(calls2, 14.0);
  EXPECT_LT(calls2, 26.0);
  std::printf("mean calls per problem over %d generated problems: 1-layer TP %.2f, 2-layer TP %.2f\n", n, calls1, calls2);
}

TEST(TpNoisy, AggregationRepairsWrongSubAnswers) {
  ScriptedServer server({"--mode", "noisy", "--error-rate", "0.2", "--seed", "5"});
  llm::BackendOptions o;
  o.openai.base_url = server.url();
  auto backend = llm::make_backend("retry,openai", o);
  StepRunner runner(*backend, {});
  const PromptSet prompts = shipped_prompts();
  std::vector<SpScore> io, tp1;
  for (int i = 0; i < 60; ++i) {
    const SpProblem p = generate_problem(12, static_cast<uint64_t>(i));
    io.push_back(score_answer(p, run_shortest_path("io", p, prompts, runner, {}).answers[0]));
    tp1.push_back(score_answer(p, run_shortest_path("tp", p, prompts, runner, {.layers = 1}).answers[1]));
  }
  std::printf("noisy server (e = 0.2 per step), 60 problems: optimal rate IO %.2f, 1-layer TP %.2f\n", rates(io).optimal_rate,
              rates(tp1).optimal_rate);
  EXPECT_GT(rates(tp1).optimal_rate, rates(io).optimal_rate + 0.1)
      << "io " << rates(io).optimal_rate << " tp " << rates(tp1).optimal_rate;
}

TEST(TpPrompts, AnEditedTemplateThatLostASlotIsAnInputErrorNamingTheFile) {
  const std::string dir = ::testing::TempDir() + "relfm_prompts_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  for (const std::string& name : shortest_path_prompt_names())
    std::filesystem::copy_file(std::string(RELFM_SOURCE_DIR) + "/jobs/tp_prompts/" + name + ".txt", dir + "/" + name + ".txt",
                               std::filesystem::copy_options::overwrite_existing);
  { std::ofstream(dir + "/sp_io.txt") << "Solve it.\nInput:\n{graph}\nTarget Node: {target}\nAnswer:\n"; }  // no {source}
  const PromptSet prompts(dir, shortest_path_prompt_names());
  CannedBackend canned([](const std::string&) { return std::string("x"); });
  StepRunner runner(canned, {});
  try {
    run_shortest_path("io", diamond(), prompts, runner, {});
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("sp_io.txt"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("{source}"), std::string::npos) << e.what();
  }
  EXPECT_THROW(PromptSet(dir, {"missing_template"}), InputError);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace relfm::reasoning
