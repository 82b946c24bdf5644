// The shortest-path reasoning task of Thought Propagation (research/thought_propagation.md §2.1): small
// weighted undirected graphs, the official problem files, a seeded generator to the paper's
// specification, the graph-modelling-language (GML) text the prompts carry, and the official scorer.
#pragma once

#include "src/core/rng.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace relfm::reasoning {

struct WeightedEdge {
  int u = 0, v = 0, w = 0;  // u < v
};

struct SpGraph {
  int num_nodes = 0;
  std::vector<WeightedEdge> edges;
  // Weight of edge {u, v}, or nullopt when the graph has no such edge.
  std::optional<int> weight(int u, int v) const;
  std::vector<int> neighbours(int node) const;  // ascending
};

struct SpProblem {
  SpGraph graph;
  int source = 0, target = 0;         // smallest and largest node id
  std::vector<int> shortest_path;     // one optimal path (others may tie)
  int64_t shortest_length = 0;
};

// Dijkstra from `source` to `target`; ties broken towards the smaller predecessor id, so the path is
// deterministic. Empty when `target` is unreachable.
std::vector<int> shortest_path(const SpGraph& g, int source, int target);
// Total weight of a walk, or nullopt if a consecutive pair is not an edge.
std::optional<int64_t> path_weight(const SpGraph& g, const std::vector<int>& path);

// The generator of the official code, seeded: n uniform in [min_nodes, max_nodes]; every node i < n-1
// gets one edge to a random higher node (so every node reaches n-1: connected), then each other pair is
// an edge with probability p; weights uniform in 1..5; redrawn while the optimal path from 0 to n-1 has
// fewer than `min_path_nodes` nodes. Problem `index` depends only on (seed, index).
struct SpGeneratorSettings {
  int min_nodes = 5, max_nodes = 10;
  double edge_probability = 0.2;
  int min_path_nodes = 3;
};
SpProblem generate_problem(uint64_t seed, uint64_t index, const SpGeneratorSettings& settings = {});

// Reads one official problem file (JSON: nodes, edges, distance, shortest_path, shortest_length). Every
// defect is an InputError naming the file and the field.
SpProblem read_problem_file(const std::string& path);
SpProblem parse_problem_json(const std::string& text, const std::string& source_name);
std::string problem_json(const SpProblem& p);  // the same layout, for generated sets

// "graph[ ... ]" in GML, weights on the edge labels or (for the propose step) without them.
std::string gml_graph(const SpGraph& g, bool with_weights);
std::string answer_sentence(const std::vector<int>& path, int64_t distance);

// The official scorer on one reply (research §2.1.2): only the last non-empty line counts; it is
// lowercased, a leading "answer:" dropped and everything after "=" cut; the first [...] list is the path.
// Feasible = starts at the source, ends at the target, every step is an edge (repeated nodes allowed),
// AND a stated distance parses as an integer (the official quirk: a feasible path without a distance
// sentence is a failure).
struct SpScore {
  bool parsed = false;          // a list of integers was found
  bool path_valid = false;      // source → target over edges, ignoring the distance sentence
  bool has_distance = false;
  bool feasible = false;        // path_valid and has_distance (the official definition)
  bool optimal = false;         // feasible and as short as the optimum (ties count)
  double over_length = 0.0;     // (weight - optimum) / optimum, when feasible
  bool length_consistent = false;  // stated distance == the path's weight
  std::vector<int> path;
  int64_t stated_distance = -1;
  int64_t weight = -1;
};
SpScore score_answer(const SpProblem& problem, const std::string& reply);

// The list in the last line of `text` ([] if none) and the integer after "distance is"/"distance of".
std::optional<std::vector<int>> parse_last_line_list(const std::string& text);
std::optional<int64_t> parse_stated_distance(const std::string& line);
std::string last_nonempty_line(const std::string& text);

// OR, FR and OLR over a set of scores.
struct SpRates {
  double optimal_rate = 0, feasible_rate = 0, over_length_rate = 0;
  int64_t n = 0;
};
SpRates rates(const std::vector<SpScore>& scores);

}  // namespace relfm::reasoning
