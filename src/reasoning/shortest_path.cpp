#include "src/reasoning/shortest_path.hpp"

#include "src/core/error.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

namespace relfm::reasoning {

std::optional<int> SpGraph::weight(int u, int v) const {
  if (u > v) std::swap(u, v);
  for (const WeightedEdge& e : edges)
    if (e.u == u && e.v == v) return e.w;
  return std::nullopt;
}

std::vector<int> SpGraph::neighbours(int node) const {
  std::set<int> out;
  for (const WeightedEdge& e : edges) {
    if (e.u == node) out.insert(e.v);
    if (e.v == node) out.insert(e.u);
  }
  return {out.begin(), out.end()};
}

std::vector<int> shortest_path(const SpGraph& g, int source, int target) {
  // The graphs have at most a few dozen nodes: the O(n^2) form is simplest and deterministic.
  const int n = g.num_nodes;
  const int64_t inf = std::numeric_limits<int64_t>::max();
  std::vector<int64_t> dist(static_cast<size_t>(n), inf);
  std::vector<int> prev(static_cast<size_t>(n), -1);
  std::vector<bool> done(static_cast<size_t>(n), false);
  dist[static_cast<size_t>(source)] = 0;
  for (int round = 0; round < n; ++round) {
    int u = -1;
    for (int k = 0; k < n; ++k)
      if (!done[k] && dist[k] != inf && (u < 0 || dist[k] < dist[u])) u = k;
    if (u < 0) break;
    done[u] = true;
    for (int v : g.neighbours(u)) {
      const int64_t d = dist[u] + *g.weight(u, v);
      if (d < dist[v] || (d == dist[v] && u < prev[v])) {
        dist[v] = d;
        prev[v] = u;
      }
    }
  }
  if (dist[static_cast<size_t>(target)] == inf) return {};
  std::vector<int> path;
  for (int v = target; v >= 0; v = prev[v]) path.push_back(v);
  std::reverse(path.begin(), path.end());
  return path;
}

std::optional<int64_t> path_weight(const SpGraph& g, const std::vector<int>& path) {
  int64_t total = 0;
  for (size_t k = 1; k < path.size(); ++k) {
    const std::optional<int> w = g.weight(path[k - 1], path[k]);
    if (!w) return std::nullopt;
    total += *w;
  }
  return total;
}

SpProblem generate_problem(uint64_t seed, uint64_t index, const SpGeneratorSettings& s) {
  const CounterRng base = CounterRng(seed, RngPurpose::kGenerate, hash_string("shortest_path")).derive(index);
  for (uint64_t attempt = 0;; ++attempt) {
    const CounterRng rng = base.derive(attempt);
    uint64_t draw = 0;
    SpProblem p;
    const int n = s.min_nodes + static_cast<int>(rng.below(draw++, static_cast<uint64_t>(s.max_nodes - s.min_nodes + 1)));
    p.graph.num_nodes = n;
    std::set<std::pair<int, int>> pairs;
    for (int i = 0; i + 1 < n; ++i)
      pairs.insert({i, i + 1 + static_cast<int>(rng.below(draw++, static_cast<uint64_t>(n - 1 - i)))});
    for (int i = 0; i < n; ++i)
      for (int j = i + 1; j < n; ++j)
        if (rng.uniform_double(draw++) < s.edge_probability) pairs.insert({i, j});
    for (const auto& [u, v] : pairs)
      p.graph.edges.push_back({u, v, 1 + static_cast<int>(rng.below(draw++, 5))});
    p.source = 0;
    p.target = n - 1;
    p.shortest_path = shortest_path(p.graph, p.source, p.target);
    if (static_cast<int>(p.shortest_path.size()) < s.min_path_nodes) continue;
    p.shortest_length = *path_weight(p.graph, p.shortest_path);
    return p;
  }
}

SpProblem parse_problem_json(const std::string& text, const std::string& name) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) fail_input("{}: not valid JSON", name);
  if (!j.is_object()) fail_input("{}: expected a JSON object with fields nodes, edges, distance", name);
  auto int_list = [&](const char* field) {
    if (!j.contains(field)) fail_input("{}: field '{}' is missing", name, field);
    if (!j[field].is_array()) fail_input("{}: field '{}' must be a list", name, field);
    std::vector<int> out;
    for (const auto& x : j[field]) {
      if (!x.is_number_integer()) fail_input("{}: field '{}' must hold integers, found {}", name, field, x.dump());
      out.push_back(x.get<int>());
    }
    return out;
  };
  SpProblem p;
  const std::vector<int> nodes = int_list("nodes");
  if (nodes.size() < 2) fail_input("{}: field 'nodes' needs at least two nodes", name);
  for (size_t k = 0; k < nodes.size(); ++k)
    if (nodes[k] != static_cast<int>(k)) fail_input("{}: field 'nodes' must be 0..n-1 in order (entry {} is {})", name, k, nodes[k]);
  p.graph.num_nodes = static_cast<int>(nodes.size());
  if (!j.contains("edges") || !j["edges"].is_array()) fail_input("{}: field 'edges' is missing or not a list", name);
  const std::vector<int> distance = int_list("distance");
  if (distance.size() != j["edges"].size())
    fail_input("{}: field 'distance' has {} entries but 'edges' has {}", name, distance.size(), j["edges"].size());
  for (size_t k = 0; k < distance.size(); ++k) {
    const auto& e = j["edges"][k];
    if (!e.is_array() || e.size() != 2 || !e[0].is_number_integer() || !e[1].is_number_integer())
      fail_input("{}: field 'edges' entry {} must be a pair of node ids, found {}", name, k, e.dump());
    int u = e[0].get<int>(), v = e[1].get<int>();
    if (u < 0 || v < 0 || u >= p.graph.num_nodes || v >= p.graph.num_nodes || u == v)
      fail_input("{}: field 'edges' entry {} ({}, {}) is not an edge between two nodes of 0..{}", name, k, u, v,
                 p.graph.num_nodes - 1);
    if (distance[k] < 1) fail_input("{}: field 'distance' entry {} must be positive, not {}", name, k, distance[k]);
    if (u > v) std::swap(u, v);
    p.graph.edges.push_back({u, v, distance[k]});
  }
  p.source = 0;
  p.target = p.graph.num_nodes - 1;
  p.shortest_path = shortest_path(p.graph, p.source, p.target);
  if (p.shortest_path.empty()) fail_input("{}: field 'edges': node {} cannot reach node {}", name, p.source, p.target);
  p.shortest_length = *path_weight(p.graph, p.shortest_path);
  // The file's own optimum, when present, must agree with Dijkstra's (a mismatch means a corrupt file).
  if (j.contains("shortest_length")) {
    if (!j["shortest_length"].is_number_integer()) fail_input("{}: field 'shortest_length' must be an integer", name);
    if (j["shortest_length"].get<int64_t>() != p.shortest_length)
      fail_input("{}: field 'shortest_length' is {} but the graph's shortest path weighs {}", name,
                 j["shortest_length"].get<int64_t>(), p.shortest_length);
  }
  if (j.contains("shortest_path")) {
    const std::vector<int> path = int_list("shortest_path");
    if (path_weight(p.graph, path) != std::optional<int64_t>(p.shortest_length) || path.front() != p.source ||
        path.back() != p.target)
      fail_input("{}: field 'shortest_path' is not an optimal path from {} to {}", name, p.source, p.target);
    p.shortest_path = path;
  }
  return p;
}

SpProblem read_problem_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail_input("cannot open the shortest-path problem file '{}'", path);
  std::stringstream text;
  text << in.rdbuf();
  return parse_problem_json(text.str(), path);
}

std::string problem_json(const SpProblem& p) {
  nlohmann::json j;
  std::vector<int> nodes(static_cast<size_t>(p.graph.num_nodes));
  for (int k = 0; k < p.graph.num_nodes; ++k) nodes[k] = k;
  j["nodes"] = nodes;
  j["edges"] = nlohmann::json::array();
  j["distance"] = nlohmann::json::array();
  for (const WeightedEdge& e : p.graph.edges) {
    j["edges"].push_back({e.u, e.v});
    j["distance"].push_back(e.w);
  }
  j["shortest_path"] = p.shortest_path;
  j["shortest_length"] = p.shortest_length;
  return j.dump();
}

std::string gml_graph(const SpGraph& g, bool with_weights) {
  std::string out = "graph[\n  comment \"This is an undirected graph.\"\n";
  for (int k = 0; k < g.num_nodes; ++k) out += "  node [id " + std::to_string(k) + "]\n";
  for (const WeightedEdge& e : g.edges) {
    out += "  edge [label \"Edge between node " + std::to_string(e.u) + " and node " + std::to_string(e.v);
    if (with_weights) out += " with distance " + std::to_string(e.w);
    out += "\"]\n";
  }
  return out + "]";
}

std::string answer_sentence(const std::vector<int>& path, int64_t distance) {
  std::string list;
  for (size_t k = 0; k < path.size(); ++k) list.append(k ? ", " : "").append(std::to_string(path[k]));
  return "The shortest path from the source node to the target node is [" + list + "]. The shortest distance is " +
         std::to_string(distance) + ".";
}

std::string last_nonempty_line(const std::string& text) {
  // The official code takes the literal last line; a trailing newline (common with local servers) would
  // then fail every answer, so blank trailing lines are skipped.
  size_t end = text.find_last_not_of(" \t\r\n");
  if (end == std::string::npos) return "";
  const size_t start = text.rfind('\n', end);
  return text.substr(start == std::string::npos ? 0 : start + 1, end + 1 - (start == std::string::npos ? 0 : start + 1));
}

namespace {

std::string normalised_last_line(const std::string& text) {
  std::string line = last_nonempty_line(text);
  std::transform(line.begin(), line.end(), line.begin(), [](unsigned char c) { return std::tolower(c); });
  const size_t a = line.find_first_not_of(" \t");
  line = a == std::string::npos ? "" : line.substr(a);
  if (line.rfind("answer:", 0) == 0) line = line.substr(7);
  if (const size_t eq = line.find('='); eq != std::string::npos) line.resize(eq);
  return line;
}

}  // namespace

std::optional<std::vector<int>> parse_last_line_list(const std::string& text) {
  const std::string line = normalised_last_line(text);
  const size_t open = line.find('['), close = line.find(']', open == std::string::npos ? 0 : open);
  if (open == std::string::npos || close == std::string::npos) return std::nullopt;
  std::vector<int> out;
  std::stringstream items(line.substr(open + 1, close - open - 1));
  for (std::string item; std::getline(items, item, ',');) {
    const size_t a = item.find_first_not_of(" \t"), b = item.find_last_not_of(" \t");
    if (a == std::string::npos) return std::nullopt;
    const std::string digits = item.substr(a, b - a + 1);
    if (digits.empty() || digits.size() > 6 || !std::all_of(digits.begin(), digits.end(), ::isdigit)) return std::nullopt;
    out.push_back(std::stoi(digits));
  }
  if (out.empty()) return std::nullopt;
  return out;
}

std::optional<int64_t> parse_stated_distance(const std::string& line_in) {
  std::string line = line_in;
  std::transform(line.begin(), line.end(), line.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* marker : {"shortest distance is", "distance of"}) {
    const size_t at = line.find(marker);
    if (at == std::string::npos) continue;
    size_t k = at + std::strlen(marker);
    while (k < line.size() && line[k] == ' ') ++k;
    size_t e = k;
    while (e < line.size() && std::isdigit(static_cast<unsigned char>(line[e]))) ++e;
    if (e == k || e - k > 9) return std::nullopt;
    return std::stoll(line.substr(k, e - k));
  }
  return std::nullopt;
}

SpScore score_answer(const SpProblem& p, const std::string& reply) {
  SpScore s;
  const std::optional<std::vector<int>> path = parse_last_line_list(reply);
  if (!path) return s;
  s.parsed = true;
  s.path = *path;
  const std::optional<int64_t> stated = parse_stated_distance(normalised_last_line(reply));
  s.has_distance = stated.has_value();
  s.stated_distance = stated.value_or(-1);
  const std::optional<int64_t> w = path_weight(p.graph, s.path);
  s.path_valid = w.has_value() && s.path.front() == p.source && s.path.back() == p.target;
  if (!s.path_valid) return s;
  s.weight = *w;
  s.length_consistent = s.has_distance && s.stated_distance == s.weight;
  s.feasible = s.has_distance;
  if (!s.feasible) return s;
  s.over_length = static_cast<double>(s.weight - p.shortest_length) / static_cast<double>(p.shortest_length);
  s.optimal = s.weight == p.shortest_length;
  return s;
}

SpRates rates(const std::vector<SpScore>& scores) {
  SpRates r;
  r.n = static_cast<int64_t>(scores.size());
  int64_t optimal = 0, feasible = 0;
  double over = 0;
  for (const SpScore& s : scores) {
    optimal += s.optimal;
    feasible += s.feasible;
    if (s.feasible) over += s.over_length;
  }
  if (r.n > 0) {
    r.optimal_rate = static_cast<double>(optimal) / static_cast<double>(r.n);
    r.feasible_rate = static_cast<double>(feasible) / static_cast<double>(r.n);
  }
  r.over_length_rate = feasible > 0 ? over / static_cast<double>(feasible) : 0.0;
  return r;
}

}  // namespace relfm::reasoning
