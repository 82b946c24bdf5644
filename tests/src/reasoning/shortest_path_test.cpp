// The shortest-path task: the generator meets the paper's specification and is a function of the seed,
// the reader names the file and field of every defect, and the official scorer on hand-made answers
// (ties between optimal paths, repeated nodes, a missing distance sentence, the last-line rule).
#include "src/core/error.hpp"
#include "src/reasoning/shortest_path.hpp"

#include <gtest/gtest.h>

#include <set>

namespace relfm::reasoning {
namespace {

TEST(ShortestPathGenerator, MeetsThePaperSpecificationAndDependsOnlyOnSeedAndIndex) {
  std::set<int> sizes;
  for (uint64_t i = 0; i < 200; ++i) {
    const SpProblem p = generate_problem(3, i);
    sizes.insert(p.graph.num_nodes);
    EXPECT_GE(p.graph.num_nodes, 5);
    EXPECT_LE(p.graph.num_nodes, 10);
    EXPECT_EQ(p.source, 0);
    EXPECT_EQ(p.target, p.graph.num_nodes - 1);
    EXPECT_GE(p.shortest_path.size(), 3u);  // a direct source-target edge is never the answer
    for (const WeightedEdge& e : p.graph.edges) {
      EXPECT_LT(e.u, e.v);
      EXPECT_GE(e.w, 1);
      EXPECT_LE(e.w, 5);
    }
    // Connected: every node reaches the target.
    for (int v = 0; v < p.graph.num_nodes; ++v) EXPECT_FALSE(shortest_path(p.graph, v, p.target).empty());
    EXPECT_EQ(path_weight(p.graph, p.shortest_path), p.shortest_length);
    EXPECT_EQ(problem_json(p), problem_json(generate_problem(3, i)));
  }
  EXPECT_EQ(sizes.size(), 6u);  // every size 5..10 occurs
  EXPECT_NE(problem_json(generate_problem(3, 0)), problem_json(generate_problem(4, 0)));
}

TEST(ShortestPathReader, ReadsTheOfficialLayoutAndRoundTrips) {
  const std::string text =
      R"({"nodes": [0, 1, 2, 3], "edges": [[0, 1], [1, 3], [0, 2], [2, 3]], "distance": [1, 1, 3, 1],
          "shortest_path": [0, 1, 3], "shortest_length": 2})";
  const SpProblem p = parse_problem_json(text, "easy/0.json");
  EXPECT_EQ(p.graph.num_nodes, 4);
  EXPECT_EQ(p.target, 3);
  EXPECT_EQ(p.shortest_length, 2);
  EXPECT_EQ(problem_json(parse_problem_json(problem_json(p), "x")), problem_json(p));
}

void expect_input_error(const std::string& text, const std::string& fragment) {
  try {
    parse_problem_json(text, "easy/17.json");
    FAIL() << "expected an InputError mentioning " << fragment;
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("easy/17.json"), std::string::npos) << what;
    EXPECT_NE(what.find(fragment), std::string::npos) << what;
  }
}

TEST(ShortestPathReader, NamesTheFileAndFieldOfEveryDefect) {
  expect_input_error("{\"nodes\": [0, 1", "not valid JSON");
  expect_input_error(R"({"edges": [], "distance": []})", "field 'nodes' is missing");
  expect_input_error(R"({"nodes": [0, 1], "edges": [[0, 1]], "distance": [1, 2]})", "field 'distance' has 2 entries");
  expect_input_error(R"({"nodes": [0, 1], "edges": [[0, 5]], "distance": [1]})", "field 'edges' entry 0");
  expect_input_error(R"({"nodes": [0, 1], "edges": [[0, 1]], "distance": ["a"]})", "field 'distance' must hold integers");
  expect_input_error(R"({"nodes": [0, 1, 2], "edges": [[0, 1]], "distance": [1]})", "cannot reach");
  expect_input_error(R"({"nodes": [0, 1], "edges": [[0, 1]], "distance": [2], "shortest_length": 3})",
                     "field 'shortest_length'");
  expect_input_error(R"({"nodes": [0, 1, 2], "edges": [[0, 1], [1, 2], [0, 2]], "distance": [1, 1, 5],
                         "shortest_path": [0, 2]})", "field 'shortest_path'");
  EXPECT_THROW(read_problem_file("/nonexistent/easy/3.json"), InputError);
}

// 0 -1- 1 -1- 3 and 0 -1- 2 -1- 3: two optimal paths of weight 2; 0 -5- 3 is direct but long.
SpProblem tie_problem() {
  return parse_problem_json(R"({"nodes": [0, 1, 2, 3], "edges": [[0, 1], [1, 3], [0, 2], [2, 3], [0, 3]],
                                "distance": [1, 1, 1, 1, 5]})", "tie");
}

TEST(ShortestPathScorer, TiesBetweenOptimalPathsBothCount) {
  const SpProblem p = tie_problem();
  for (const char* reply : {"The shortest path from the source node to the target node is [0, 1, 3]. The shortest distance is 2.",
                            "The shortest path from the source node to the target node is [0, 2, 3]. The shortest distance is 2."}) {
    const SpScore s = score_answer(p, reply);
    EXPECT_TRUE(s.feasible && s.optimal) << reply;
    EXPECT_DOUBLE_EQ(s.over_length, 0.0);
    EXPECT_TRUE(s.length_consistent);
  }
  const SpScore direct = score_answer(p, "The shortest path from the source node to the target node is [0, 3]. The shortest distance is 5.");
  EXPECT_TRUE(direct.feasible);
  EXPECT_FALSE(direct.optimal);
  EXPECT_DOUBLE_EQ(direct.over_length, 1.5);
}

TEST(ShortestPathScorer, RepeatedNodesAreFeasibleAsInTheOfficialScorer) {
  const SpScore s = score_answer(tie_problem(), "The shortest path is [0, 1, 0, 1, 3]. The shortest distance is 4.");
  EXPECT_TRUE(s.feasible);
  EXPECT_FALSE(s.optimal);
  EXPECT_EQ(s.weight, 4);
  EXPECT_DOUBLE_EQ(s.over_length, 1.0);
}

TEST(ShortestPathScorer, AFeasiblePathWithoutADistanceSentenceFails) {
  const SpScore s = score_answer(tie_problem(), "The shortest path from the source node to the target node is [0, 1, 3].");
  EXPECT_TRUE(s.path_valid);
  EXPECT_FALSE(s.has_distance);
  EXPECT_FALSE(s.feasible);
  EXPECT_FALSE(s.optimal);
  // A wrong stated distance is still feasible (the official scorer does not check it); only the
  // consistency flag notices.
  const SpScore wrong = score_answer(tie_problem(), "The path is [0, 1, 3]. The shortest distance is 7.");
  EXPECT_TRUE(wrong.optimal);
  EXPECT_FALSE(wrong.length_consistent);
}

TEST(ShortestPathScorer, OnlyTheLastLineCountsAndBadListsFail) {
  const SpProblem p = tie_problem();
  EXPECT_TRUE(score_answer(p, "First [0, 3] looks short.\nAnswer: The path is [0, 2, 3]. The shortest distance is 2.\n\n").optimal);
  EXPECT_FALSE(score_answer(p, "The path is [0, 2, 3]. The shortest distance is 2.\nI am not sure.").parsed);
  EXPECT_FALSE(score_answer(p, "The path is [0, two, 3]. The shortest distance is 2.").parsed);
  EXPECT_FALSE(score_answer(p, "The path is []. The shortest distance is 2.").parsed);
  EXPECT_FALSE(score_answer(p, "The path is [1, 3]. The shortest distance is 1.").feasible);     // wrong start
  EXPECT_FALSE(score_answer(p, "The path is [0, 1, 2, 3]. The shortest distance is 3.").feasible);  // 1-2 is no edge
  // Everything after "=" is cut: a list there does not count.
  EXPECT_FALSE(score_answer(p, "distance = [0, 1, 3] with distance of 2").parsed);
  EXPECT_TRUE(score_answer(p, "The path [0, 1, 3] has a distance of 2 = 1 + 1").optimal);
}

TEST(ShortestPathScorer, RatesFollowTheOfficialDefinitions) {
  const SpProblem p = tie_problem();
  std::vector<SpScore> scores = {score_answer(p, "[0, 1, 3]. The shortest distance is 2."),
                                 score_answer(p, "[0, 3]. The shortest distance is 5."),
                                 score_answer(p, "[0, 1, 3]."), score_answer(p, "no idea")};
  const SpRates r = rates(scores);
  EXPECT_DOUBLE_EQ(r.optimal_rate, 0.25);
  EXPECT_DOUBLE_EQ(r.feasible_rate, 0.5);
  EXPECT_DOUBLE_EQ(r.over_length_rate, 0.75);  // over the feasible ones only: (0 + 1.5) / 2
}

}  // namespace
}  // namespace relfm::reasoning
