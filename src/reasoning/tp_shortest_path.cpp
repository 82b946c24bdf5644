#include "src/reasoning/tp_shortest_path.hpp"

#include "src/core/error.hpp"

#include <algorithm>
#include <map>
#include <regex>
#include <set>

namespace relfm::reasoning {

const std::vector<std::string>& shortest_path_prompt_names() {
  static const std::vector<std::string> names = {"sp_io", "sp_cot", "sp_bag", "sp_propose", "sp_aggregate",
                                                 "sp_readout", "sp_vote", "sp_tot_choose"};
  return names;
}

const std::vector<std::string>& shortest_path_methods() {
  static const std::vector<std::string> methods = {"io", "cot", "bag", "tot", "tp"};
  return methods;
}

std::optional<std::string> canonical_solution(const std::string& reply, int source, int target) {
  const std::optional<std::vector<int>> path = parse_last_line_list(reply);
  const std::optional<int64_t> distance = parse_stated_distance(last_nonempty_line(reply));
  if (!path || !distance) return std::nullopt;
  std::string list;
  for (size_t k = 0; k < path->size(); ++k) list.append(k ? ", " : "").append(std::to_string((*path)[k]));
  return "The shortest path from the source node " + std::to_string(source) + " to the target node " + std::to_string(target) +
         " is [" + list + "]. The shortest distance is " + std::to_string(*distance) + ".";
}

namespace {

// The state of one problem under TP: the thought map of the official code, node -> solution and
// neighbourhood, kept in insertion order (aggregation walks it backwards: deepest first).
struct Thought {
  int node = 0;
  std::string solution;  // "" = no usable solution yet
  bool expanded = false;
  std::vector<int> neighbourhood;
};

class Engine {
 public:
  Engine(const SpProblem& p, const PromptSet& prompts, StepRunner& runner, const SpMethodSettings& s)
      : p_(p), prompts_(prompts), runner_(runner), s_(s), graph_(gml_graph(p.graph, true)) {}

  SpOutcome single(const std::string& base) {
    const size_t k = ask({{"solve", 0, p_.target, 0, solve_prompt(base, p_.target)}}).front();
    CallRecord& c = out_.calls[k];
    if (const auto sol = canonical_solution(c.reply, p_.source, p_.target)) c.parsed_ok = true, c.parsed = *sol;
    else note_failure(c, "no path list and distance on the last line");
    out_.answers.push_back(c.reply);  // the official scorer reads the raw reply's last line
    close_layer();
    return std::move(out_);
  }

  SpOutcome tot() {
    std::vector<int> path{p_.source};
    for (int step = 0; step < p_.graph.num_nodes && path.back() != p_.target; ++step) {
      const int current = path.back();
      CallRecord& listed = out_.calls[ask({{"tot_propose", step, current, 0, propose_prompt(current)}}).front()];
      std::vector<int> candidates;
      for (int v : proposed_nodes(listed, current))
        if (std::find(path.begin(), path.end(), v) == path.end()) candidates.push_back(v);
      if (candidates.empty()) break;
      if (std::find(candidates.begin(), candidates.end(), p_.target) != candidates.end()) {
        path.push_back(p_.target);  // the official walk jumps to the target once it is a neighbour
        break;
      }
      int chosen = candidates.front();
      if (candidates.size() > 1) {
        std::string list = "[";
        for (size_t k = 0; k < candidates.size(); ++k) list.append(k ? ", " : "").append(std::to_string(candidates[k]));
        CallRecord& c = out_.calls[ask({{"tot_choose", step, current, 0,
                                         prompts_.render("sp_tot_choose", {{"graph", graph_}, {"source", std::to_string(p_.source)},
                                                                           {"target", std::to_string(p_.target)},
                                                                           {"node", std::to_string(current)},
                                                                           {"candidates", list + "]"}})}}).front()];
        static const std::regex pick(R"(most promising node is (\d+))", std::regex::icase);
        std::smatch m;
        const std::string line = last_nonempty_line(c.reply);
        if (!std::regex_search(line, m, pick) ||
            std::find(candidates.begin(), candidates.end(), std::stoi(m[1])) == candidates.end()) {
          note_failure(c, "no candidate named on the last line");
          break;
        }
        chosen = std::stoi(m[1]);
        c.parsed_ok = true;
        c.parsed = m[1];
      }
      path.push_back(chosen);
    }
    // The walk states no distance; the sum of the edge weights given in the problem completes the sentence.
    int64_t total = 0;
    for (size_t k = 1; k < path.size(); ++k) total += p_.graph.weight(path[k - 1], path[k]).value_or(0);
    out_.answers.push_back(answer_sentence(path, total));
    close_layer();
    return std::move(out_);
  }

  SpOutcome tp() {
    const size_t first = ask({{"solve", 0, p_.target, 0, solve_prompt(s_.base, p_.target)}}).front();
    add_thought(p_.target, out_.calls[first]);
    // Until a step replaces it, the answer is the initial reply itself (scored as the official code does).
    std::string answer = out_.calls[first].reply;
    out_.answers.push_back(answer);
    close_layer();
    for (int64_t layer = 1; layer <= s_.layers; ++layer) {
      propose(layer);
      solve_analogues(layer);
      for (size_t k = thoughts_.size(); k-- > 0;) {
        if (thoughts_[k].neighbourhood.empty()) continue;
        const bool changed = s_.aggregation == "vote" ? aggregate_by_vote(k, layer) : aggregate_direct(k, layer);
        if (changed && thoughts_[k].node == p_.target) answer = thoughts_[k].solution;
      }
      out_.answers.push_back(answer);
      close_layer();
    }
    return std::move(out_);
  }

 private:
  std::vector<size_t> ask(const std::vector<Ask>& asks) { return runner_.ask(asks, out_.calls); }
  void note_failure(CallRecord& c, const std::string& why) {
    fail_step(c, why);
    ++out_.failed_steps;
  }
  void close_layer() {
    int64_t tokens = 0;
    for (const CallRecord& c : out_.calls) tokens += c.prompt_tokens + c.completion_tokens;
    out_.calls_at_layer.push_back(static_cast<int64_t>(out_.calls.size()));
    out_.tokens_at_layer.push_back(tokens);
  }
  std::string solve_prompt(const std::string& base, int target) const {
    return prompts_.render("sp_" + base, {{"graph", graph_}, {"source", std::to_string(p_.source)}, {"target", std::to_string(target)}});
  }
  std::string propose_prompt(int node) const {
    return prompts_.render("sp_propose", {{"graph_unweighted", gml_graph(p_.graph, false)}, {"node", std::to_string(node)}});
  }
  // Node ids from a propose reply: the source, the node itself, duplicates and ids outside the graph are dropped.
  std::vector<int> proposed_nodes(CallRecord& c, int node) {
    const std::optional<std::vector<int>> list = parse_last_line_list(c.reply);
    if (!list) {
      note_failure(c, "no node list on the last line");
      return {};
    }
    std::vector<int> out;
    for (int v : *list)
      if (v >= 0 && v < p_.graph.num_nodes && v != p_.source && v != node && std::find(out.begin(), out.end(), v) == out.end())
        out.push_back(v);
    c.parsed_ok = true;
    for (int v : out) c.parsed.append(c.parsed.empty() ? "" : ",").append(std::to_string(v));
    return out;
  }
  void add_thought(int node, CallRecord& c) {
    Thought t;
    t.node = node;
    // The official code keeps an analogue's solution only if it has both the path and the distance sentence.
    if (const auto sol = canonical_solution(c.reply, p_.source, node)) {
      t.solution = *sol;
      c.parsed_ok = true;
      c.parsed = *sol;
    } else {
      note_failure(c, "no path list and distance on the last line");
    }
    where_[node] = thoughts_.size();
    thoughts_.push_back(std::move(t));
  }
  void propose(int64_t layer) {
    std::vector<size_t> todo;
    std::vector<Ask> asks;
    for (size_t k = 0; k < thoughts_.size(); ++k)
      if (!thoughts_[k].expanded) {
        todo.push_back(k);
        asks.push_back({"propose", layer, thoughts_[k].node, 0, propose_prompt(thoughts_[k].node)});
      }
    const std::vector<size_t> records = ask(asks);
    for (size_t i = 0; i < todo.size(); ++i) {
      thoughts_[todo[i]].expanded = true;
      thoughts_[todo[i]].neighbourhood = proposed_nodes(out_.calls[records[i]], thoughts_[todo[i]].node);
    }
  }
  void solve_analogues(int64_t layer) {
    std::vector<int> fresh;
    for (const Thought& t : thoughts_)
      for (int u : t.neighbourhood)
        if (!where_.count(u) && std::find(fresh.begin(), fresh.end(), u) == fresh.end()) fresh.push_back(u);
    std::vector<Ask> asks;
    for (int u : fresh) asks.push_back({"solve_analogue", layer, u, 0, solve_prompt(s_.base, u)});
    const std::vector<size_t> records = ask(asks);  // one batch: the analogues are solved concurrently
    for (size_t i = 0; i < fresh.size(); ++i) add_thought(fresh[i], out_.calls[records[i]]);
  }
  std::vector<std::string> hints_of(const Thought& t) const {
    std::vector<std::string> hints;
    for (int u : t.neighbourhood)
      if (const auto it = where_.find(u); it != where_.end() && !thoughts_[it->second].solution.empty())
        hints.push_back(thoughts_[it->second].solution);
    return hints;
  }
  std::string aggregate_prompt(const Thought& t, const std::vector<std::string>& hints) const {
    std::string text;
    for (const std::string& h : hints) text += (text.empty() ? "" : "\n") + h;
    return prompts_.render("sp_aggregate", {{"graph", graph_}, {"hints", text}, {"source", std::to_string(p_.source)},
                                            {"target", std::to_string(t.node)}});
  }
  // Aggregate the hints into a new solution, then let the readout keep the better of old and new.
  bool aggregate_direct(size_t k, int64_t layer) {
    Thought& t = thoughts_[k];
    const std::vector<std::string> hints = hints_of(t);
    if (hints.empty()) return false;
    CallRecord& agg = out_.calls[ask({{"aggregate", layer, t.node, 0, aggregate_prompt(t, hints)}}).front()];
    const std::optional<std::string> proposal = canonical_solution(agg.reply, p_.source, t.node);
    if (!proposal) {
      note_failure(agg, "no path list and distance on the last line");
      return false;
    }
    agg.parsed_ok = true;
    agg.parsed = *proposal;
    const std::string prompt = prompts_.render(
        "sp_readout", {{"graph", graph_}, {"source", std::to_string(p_.source)}, {"target", std::to_string(t.node)},
                       {"solution1", t.solution.empty() ? "none" : t.solution}, {"solution2", *proposal}});
    CallRecord& ro = out_.calls[ask({{"readout", layer, t.node, 0, prompt}}).front()];
    const std::optional<std::string> better = canonical_solution(ro.reply, p_.source, t.node);
    if (!better) {
      note_failure(ro, "no path list and distance on the last line; the current solution is kept");
      return false;
    }
    ro.parsed_ok = true;
    ro.parsed = *better;
    t.solution = *better;
    return true;
  }
  // Solve once per hint, then `votes` sampled calls choose among the current solution and those.
  bool aggregate_by_vote(size_t k, int64_t layer) {
    Thought& t = thoughts_[k];
    const std::vector<std::string> hints = hints_of(t);
    if (hints.empty()) return false;
    std::vector<Ask> asks;
    for (const std::string& h : hints) asks.push_back({"aggregate", layer, t.node, 0, aggregate_prompt(t, {h})});
    std::vector<std::string> candidates;
    if (!t.solution.empty()) candidates.push_back(t.solution);
    for (size_t r : ask(asks)) {
      CallRecord& c = out_.calls[r];
      if (const auto sol = canonical_solution(c.reply, p_.source, t.node)) {
        c.parsed_ok = true;
        c.parsed = *sol;
        if (std::find(candidates.begin(), candidates.end(), *sol) == candidates.end()) candidates.push_back(*sol);
      } else {
        note_failure(c, "no path list and distance on the last line");
      }
    }
    if (candidates.size() < 2) {
      const bool changed = !candidates.empty() && candidates.front() != t.solution;
      if (changed) t.solution = candidates.front();
      return changed;
    }
    std::string listed;
    for (size_t i = 0; i < candidates.size(); ++i) listed += "Solution " + std::to_string(i + 1) + ": " + candidates[i] + "\n";
    const std::string prompt = prompts_.render("sp_vote", {{"graph", graph_}, {"source", std::to_string(p_.source)},
                                                           {"target", std::to_string(t.node)}, {"candidates", listed}});
    std::vector<Ask> ballots;
    for (int64_t v = 0; v < s_.votes; ++v) ballots.push_back({"vote", layer, t.node, v, prompt});
    std::vector<int64_t> tally(candidates.size(), 0);
    static const std::regex best(R"(best solution is (\d+))", std::regex::icase);
    for (size_t r : ask(ballots)) {
      CallRecord& c = out_.calls[r];
      std::smatch m;
      const std::string line = last_nonempty_line(c.reply);
      if (!std::regex_search(line, m, best) || std::stoul(m[1]) < 1 || std::stoul(m[1]) > candidates.size()) {
        note_failure(c, "no candidate number on the last line");
        continue;
      }
      c.parsed_ok = true;
      c.parsed = m[1];
      ++tally[std::stoul(m[1]) - 1];
    }
    const size_t winner = static_cast<size_t>(std::max_element(tally.begin(), tally.end()) - tally.begin());
    if (tally[winner] == 0 || candidates[winner] == t.solution) return false;
    t.solution = candidates[winner];
    return true;
  }

  const SpProblem& p_;
  const PromptSet& prompts_;
  StepRunner& runner_;
  const SpMethodSettings& s_;
  const std::string graph_;
  std::vector<Thought> thoughts_;
  std::map<int, size_t> where_;
  SpOutcome out_;
};

}  // namespace

SpOutcome run_shortest_path(const std::string& method, const SpProblem& problem, const PromptSet& prompts,
                            StepRunner& runner, const SpMethodSettings& settings) {
  Engine engine(problem, prompts, runner, settings);
  if (method == "io" || method == "cot" || method == "bag") return engine.single(method);
  if (method == "tot") return engine.tot();
  if (method == "tp") return engine.tp();
  fail_input("shortest path: unknown method '{}' (methods: io, cot, bag, tot, tp)", method);
}

}  // namespace relfm::reasoning
