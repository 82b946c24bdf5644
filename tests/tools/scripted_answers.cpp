#include "tests/tools/scripted_answers.hpp"

#include "src/core/rng.hpp"
#include "src/reasoning/shortest_path.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <regex>
#include <sstream>

namespace relfm::testing {

using reasoning::SpGraph;

namespace {

// The instance the prompt asks about: what follows the last "Input:" line (earlier ones are exemplars).
std::string instance_of(const std::string& prompt) {
  const size_t at = prompt.rfind("Input:\n");
  return at == std::string::npos ? prompt : prompt.substr(at);
}

std::optional<int> int_after(const std::string& text, const std::string& label) {
  const size_t at = text.find(label);
  if (at == std::string::npos) return std::nullopt;
  size_t k = at + label.size();
  while (k < text.size() && text[k] == ' ') ++k;
  if (k >= text.size() || !std::isdigit(static_cast<unsigned char>(text[k]))) return std::nullopt;
  return std::stoi(text.substr(k));
}

SpGraph parse_graph(const std::string& text) {
  SpGraph g;
  static const std::regex node(R"(node \[id (\d+)\])");
  static const std::regex edge(R"(Edge between node (\d+) and node (\d+)(?: with distance (\d+))?)");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), node); it != std::sregex_iterator(); ++it)
    g.num_nodes = std::max(g.num_nodes, std::stoi((*it)[1]) + 1);
  for (auto it = std::sregex_iterator(text.begin(), text.end(), edge); it != std::sregex_iterator(); ++it) {
    int u = std::stoi((*it)[1]), v = std::stoi((*it)[2]);
    if (u > v) std::swap(u, v);
    g.edges.push_back({u, v, (*it)[3].matched ? std::stoi((*it)[3]) : 1});
  }
  return g;
}

std::string list_text(const std::vector<int>& xs) {
  std::string s = "[";
  for (size_t k = 0; k < xs.size(); ++k) s.append(k ? ", " : "").append(std::to_string(xs[k]));
  return s + "]";
}

// Uniform draws for one (prompt, sample).
struct Draws {
  CounterRng rng;
  uint64_t next = 0;
  double uniform() { return rng.uniform_double(next++); }
  uint64_t below(uint64_t n) { return rng.below(next++, n); }
};

// A feasible path longer than the optimum when the graph has one (simple paths, DFS), else one that is
// infeasible (reversed): what a confident but wrong solver writes.
std::vector<int> wrong_path(const SpGraph& g, int s, int t, Draws& d) {
  const std::optional<int64_t> best = reasoning::path_weight(g, reasoning::shortest_path(g, s, t));
  std::vector<std::vector<int>> longer;
  std::vector<int> path{s};
  std::vector<bool> seen(static_cast<size_t>(g.num_nodes), false);
  seen[s] = true;
  std::function<void(int)> dfs = [&](int u) {
    if (longer.size() >= 64) return;
    if (u == t) {
      if (reasoning::path_weight(g, path) > best) longer.push_back(path);
      return;
    }
    for (int v : g.neighbours(u)) {
      if (seen[v]) continue;
      seen[v] = true;
      path.push_back(v);
      dfs(v);
      path.pop_back();
      seen[v] = false;
    }
  };
  dfs(s);
  if (!longer.empty()) return longer[d.below(longer.size())];
  std::vector<int> p = reasoning::shortest_path(g, s, t);
  std::reverse(p.begin(), p.end());
  return p;
}

std::string path_answer(const SpGraph& g, const std::vector<int>& p) {
  return reasoning::answer_sentence(p, reasoning::path_weight(g, p).value_or(0));
}

std::string unparsable(Draws& d) {
  static const char* kReplies[] = {"I could not work out the path in this graph.",
                                   "The shortest path goes through the nodes in the middle of the graph.",
                                   "Answer: the path is 0 to the target"};
  return kReplies[d.below(3)];
}

struct Hint {
  int node;
  std::vector<int> path;
  int64_t distance;
};

std::vector<Hint> parse_hints(const std::string& block) {
  static const std::regex hint(R"(target node (\d+) is \[([0-9, ]*)\]\. The shortest distance is (\d+))", std::regex::icase);
  std::vector<Hint> out;
  for (auto it = std::sregex_iterator(block.begin(), block.end(), hint); it != std::sregex_iterator(); ++it) {
    const std::optional<std::vector<int>> path = reasoning::parse_last_line_list(std::string("[").append((*it)[2].str()).append("]"));
    if (path) out.push_back({std::stoi((*it)[1]), *path, std::stoll((*it)[3])});
  }
  return out;
}

std::optional<std::vector<int>> solution_list(const std::string& text, const std::string& label) {
  const size_t at = text.find(label);
  if (at == std::string::npos) return std::nullopt;
  const size_t end = text.find('\n', at);
  return reasoning::parse_last_line_list(text.substr(at, end == std::string::npos ? std::string::npos : end - at));
}

std::string shortest_path_answer(const std::string& inst, Draws& d, const ScriptSettings& s) {
  const SpGraph g = parse_graph(inst);
  const double e = s.noisy ? s.error_rate : 0.0;
  const std::optional<int> source = int_after(inst, "Source Node:"), target = int_after(inst, "Target Node:");
  if (const std::optional<int> node = int_after(inst, "Input Node:")) {  // propose
    std::vector<int> nb = g.neighbours(*node);
    if (d.uniform() < e) {
      if (nb.size() >= 2) nb.erase(nb.begin() + static_cast<long>(d.below(nb.size())));
      else nb.push_back(static_cast<int>(d.below(static_cast<uint64_t>(g.num_nodes))));
    }
    return "The neighborhood node list of the input node is " + list_text(nb) + ".";
  }
  if (!source || !target || g.num_nodes == 0) return "I cannot find the graph in this question.";
  const int src = *source, tgt = *target;
  if (const size_t at = inst.find("Candidate Nodes:"); at != std::string::npos) {  // ToT: pick a neighbour
    const std::optional<std::vector<int>> cands = reasoning::parse_last_line_list(inst.substr(at, inst.find('\n', at) - at));
    const std::optional<int> current = int_after(inst, "Current Node:");
    if (!cands || !current) return "I cannot tell which node to take.";
    int best = cands->front();
    int64_t best_cost = INT64_MAX;
    for (int c : *cands) {
      const std::optional<int> w = g.weight(*current, c);
      const std::optional<int64_t> rest = reasoning::path_weight(g, reasoning::shortest_path(g, c, tgt));
      if (!w || !rest) continue;
      if (*w + *rest < best_cost) best_cost = *w + *rest, best = c;
    }
    if (d.uniform() < e) best = (*cands)[d.below(cands->size())];
    return "The most promising node is " + std::to_string(best) + ".";
  }
  if (const size_t at = inst.find("Candidate solutions:"); at != std::string::npos) {  // vote among candidates
    int64_t best_weight = INT64_MAX;
    int best = 1, count = 0;
    for (int k = 1; inst.find("Solution " + std::to_string(k) + ":", at) != std::string::npos; ++k) {
      count = k;
      const std::optional<std::vector<int>> p = solution_list(inst.substr(at), "Solution " + std::to_string(k) + ":");
      if (!p || p->front() != src || p->back() != tgt) continue;
      const int64_t w = reasoning::path_weight(g, *p).value_or(INT64_MAX);
      if (w < best_weight) best_weight = w, best = k;
    }
    if (count > 0 && d.uniform() < e) best = 1 + static_cast<int>(d.below(static_cast<uint64_t>(count)));
    return "I checked every candidate.\nThe best solution is " + std::to_string(best) + ".";
  }
  if (inst.find("Solution 1:") != std::string::npos) {  // readout: verify both, keep the better
    if (d.uniform() < e) return d.uniform() < 0.5 ? unparsable(d) : path_answer(g, wrong_path(g, src, tgt, d));
    const std::optional<std::vector<int>> a = solution_list(inst, "Solution 1:"), b = solution_list(inst, "Solution 2:");
    auto weight = [&](const std::optional<std::vector<int>>& p) -> int64_t {
      if (!p || p->front() != src || p->back() != tgt) return INT64_MAX;
      return reasoning::path_weight(g, *p).value_or(INT64_MAX);
    };
    const int64_t wa = weight(a), wb = weight(b);
    if (wa == INT64_MAX && wb == INT64_MAX) return "Neither solution is valid, so I keep Solution 1.\n" + (a ? path_answer(g, *a) : unparsable(d));
    const bool second = wb < wa;
    return std::string("Solution 1 ") + (wa == INT64_MAX ? "is not valid" : "is valid") + ", Solution 2 " +
           (wb == INT64_MAX ? "is not valid" : "is valid") + "; the better one is Solution " + (second ? "2" : "1") + ".\n" +
           path_answer(g, second ? *b : *a);
  }
  if (const size_t at = inst.find("The hints are:"); at != std::string::npos) {  // aggregate: relax the hints
    if (d.uniform() < e) return d.uniform() < 0.5 ? unparsable(d) : path_answer(g, wrong_path(g, src, tgt, d));
    std::vector<int> best;
    int64_t best_cost = INT64_MAX;
    if (const std::optional<int> w = g.weight(src, tgt)) best = {src, tgt}, best_cost = *w;
    for (const Hint& h : parse_hints(inst.substr(at))) {
      const std::optional<int> w = g.weight(h.node, tgt);
      if (!w || h.path.empty() || h.path.back() != h.node) continue;
      if (h.distance + *w < best_cost) {
        best_cost = h.distance + *w;
        best = h.path;
        best.push_back(tgt);
      }
    }
    if (best.empty()) return "The hints do not reach the target node.";
    return "Using the above hints, the shortest path from the source node " + std::to_string(src) + " to the target node " +
           std::to_string(tgt) + " is " + list_text(best) + ". The shortest distance is " + std::to_string(best_cost) + ".";
  }
  // Solve from scratch: one reasoning step per edge of the optimal path.
  const std::vector<int> best = reasoning::shortest_path(g, src, tgt);
  if (best.empty()) return "The target node cannot be reached.";
  const double p_wrong = 1.0 - std::pow(1.0 - e, static_cast<double>(best.size() - 1));
  if (d.uniform() < p_wrong) return d.uniform() < 0.5 ? unparsable(d) : path_answer(g, wrong_path(g, src, tgt, d));
  if (inst.find("step by step") != std::string::npos || inst.find("Let's think") != std::string::npos) {
    std::string chain;
    for (size_t k = 1; k < best.size(); ++k)
      chain += "From node " + std::to_string(best[k - 1]) + " we go to node " + std::to_string(best[k]) + " (distance " +
               std::to_string(*g.weight(best[k - 1], best[k])) + "). ";
    return chain + "\n" + path_answer(g, best);
  }
  return path_answer(g, best);
}

// Splits "A. B? C! D." into sentences at ". ", "? " or "! " (optionally after a closing quote) followed
// by a capital letter or an opening quote: good enough for the scripted replies.
std::vector<std::string> split_sentences(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i + 2 < text.size(); ++i) {
    if (text[i] != '.' && text[i] != '?' && text[i] != '!') continue;
    size_t j = i + 1;
    if (text[j] == '"' || text.compare(j, 3, "\u201d") == 0) j += text[j] == '"' ? 1 : 3;
    if (j < text.size() && text[j] == ' ' && j + 1 < text.size() &&
        (std::isupper(static_cast<unsigned char>(text[j + 1])) || text[j + 1] == '"' || static_cast<unsigned char>(text[j + 1]) >= 0x80)) {
      out.push_back(text.substr(start, j - start));
      start = j + 1;
    }
  }
  if (start < text.size()) out.push_back(text.substr(start));
  return out;
}

std::string creative_writing_answer(const std::string& inst, Draws& d) {
  std::vector<std::string> sentences;
  if (const size_t at = inst.find("Sentences:"); at != std::string::npos) {
    const size_t end = inst.find('\n', at);
    std::string line = inst.substr(at + 10, end == std::string::npos ? std::string::npos : end - at - 10);
    while (!line.empty() && line.front() == ' ') line.erase(line.begin());
    sentences = split_sentences(line);
  }
  if (inst.find("coherency score") != std::string::npos)
    return "The passage follows its plan closely.\nThus the coherency score is " + std::to_string(4 + d.below(7)) + ".";
  if (inst.find("Choice 1:") != std::string::npos) {
    int choices = 0;
    while (inst.find("Choice " + std::to_string(choices + 1) + ":") != std::string::npos) ++choices;
    return "Each choice was compared.\nThe best choice is " + std::to_string(1 + d.below(static_cast<uint64_t>(choices))) + ".";
  }
  if (sentences.empty()) return "I need four sentences to work with.";
  while (sentences.size() > 4) {  // a split inside a sentence ("Mr. Smith"): glue the tail back
    sentences[sentences.size() - 2] += " " + sentences.back();
    sentences.pop_back();
  }
  while (sentences.size() < 4) sentences.push_back(sentences.back());
  if (inst.find("Rephrase these") != std::string::npos) {
    std::string out;
    for (size_t k = 0; k < 4; ++k) out += std::to_string(k + 1) + ". In other words, " + sentences[k] + "\n";
    return out;
  }
  if (inst.find("Plan:") != std::string::npos && inst.find("Write the passage") == std::string::npos) {
    std::string out = "Plan:\n";
    for (size_t k = 0; k < 4; ++k) out += std::to_string(k + 1) + ". A paragraph that leads to: " + sentences[k] + "\n";
    return out;
  }
  std::string out = "Passage:\n";
  static const char* kOpeners[] = {"It began quietly.", "Nobody expected it.", "The day went on.", "In the end it made sense."};
  for (size_t k = 0; k < 4; ++k) out += std::string(kOpeners[(k + d.below(4)) % 4]) + " " + sentences[k] + "\n\n";
  return out;
}

}  // namespace

std::string scripted_answer(const std::string& prompt, int64_t sample, const ScriptSettings& s) {
  Draws d{CounterRng(s.seed, RngPurpose::kTest, hash_string(prompt)).derive(static_cast<uint64_t>(sample))};
  const std::string inst = instance_of(prompt);
  if (inst.find("graph[") != std::string::npos) return shortest_path_answer(inst, d, s);
  return creative_writing_answer(inst, d);
}

}  // namespace relfm::testing
