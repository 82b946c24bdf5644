#include "src/reasoning/tp_creative_writing.hpp"

#include "src/core/error.hpp"
#include "src/reasoning/shortest_path.hpp"

#include <cmath>
#include <fstream>
#include <regex>
#include <sstream>

namespace relfm::reasoning {

const std::vector<std::string>& creative_writing_prompt_names() {
  static const std::vector<std::string> names = {"cw_io", "cw_cot", "cw_plan", "cw_rephrase", "cw_passage",
                                                 "cw_plan_vote", "cw_passage_vote", "cw_judge"};
  return names;
}

const std::vector<std::string>& creative_writing_methods() {
  static const std::vector<std::string> methods = {"io", "cot", "tp"};
  return methods;
}

std::vector<std::string> read_creative_writing_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail_input("cannot open the creative-writing instances '{}'", path);
  std::vector<std::string> out;
  int64_t line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.empty()) fail_input("{}, line {}: an empty instance (each line holds four sentences)", path, line_no);
    out.push_back(line);
  }
  if (out.empty()) fail_input("{}: no instances", path);
  return out;
}

std::string passage_of(const std::string& reply) {
  const size_t at = reply.rfind("Passage:");
  std::string p = at == std::string::npos ? reply : reply.substr(at + 8);
  const size_t a = p.find_first_not_of(" \n\r\t"), b = p.find_last_not_of(" \n\r\t");
  return a == std::string::npos ? "" : p.substr(a, b - a + 1);
}

std::optional<std::string> plan_of(const std::string& reply) {
  // The official code keeps a plan only if it has the items "1." to "4.".
  for (const char* item : {"1.", "2.", "3.", "4."})
    if (reply.find(item) == std::string::npos) return std::nullopt;
  const size_t at = reply.find("1.");
  return reply.substr(at);
}

namespace {

std::optional<int> int_after_phrase(const std::string& reply, const std::regex& re) {
  std::smatch m;
  const std::string line = last_nonempty_line(reply);
  if (!std::regex_search(line, m, re)) return std::nullopt;
  return std::stoi(m[1]);
}

}  // namespace

std::optional<int> choice_of(const std::string& reply, int choices) {
  static const std::regex re(R"(best choice is\s*(\d{1,3}))", std::regex::icase);
  const std::optional<int> c = int_after_phrase(reply, re);
  if (!c || *c < 1 || *c > choices) return std::nullopt;
  return c;
}

std::optional<int> score_of(const std::string& reply) {
  static const std::regex re(R"(coherency score is\s*(\d{1,2}))", std::regex::icase);
  const std::optional<int> s = int_after_phrase(reply, re);
  if (!s || *s < 1 || *s > 10) return std::nullopt;
  return s;
}

namespace {

class CwEngine {
 public:
  CwEngine(const std::string& sentences, const PromptSet& prompts, StepRunner& runner, const CwSettings& s)
      : sentences_(sentences), prompts_(prompts), runner_(runner), s_(s) {}

  CwOutcome run(const std::string& method) {
    if (method == "io") out_.passage = single("cw_io", "write");
    else if (method == "cot") out_.passage = single("cw_cot", "plan_and_write");
    else if (method == "tp") out_.passage = tp();
    else fail_input("creative writing: unknown method '{}' (methods: io, cot, tp)", method);
    out_.solve_calls = static_cast<int64_t>(out_.calls.size());
    judge();
    return std::move(out_);
  }

 private:
  std::vector<size_t> ask(const std::vector<Ask>& asks) { return runner_.ask(asks, out_.calls); }
  void note_failure(CallRecord& c, const std::string& why) {
    fail_step(c, why);
    ++out_.failed_steps;
  }
  std::string single(const std::string& prompt, const std::string& step) {
    CallRecord& c = out_.calls[ask({{step, 0, -1, 0, prompts_.render(prompt, {{"sentences", sentences_}})}}).front()];
    c.parsed = passage_of(c.reply);
    c.parsed_ok = !c.parsed.empty();
    if (!c.parsed_ok) note_failure(c, "empty passage");
    return c.parsed;
  }
  // `votes` sampled calls choose among `options`; ties go to the lowest id; nullopt if no vote parses.
  std::optional<size_t> vote(const std::string& prompt_name, const std::string& step, const std::vector<std::string>& options) {
    std::string listed;
    for (size_t i = 0; i < options.size(); ++i) listed.append("Choice ").append(std::to_string(i + 1)).append(":\n").append(options[i]).append("\n\n");
    const std::string prompt = prompts_.render(prompt_name, {{"sentences", sentences_}, {"choices", listed}});
    std::vector<Ask> ballots;
    for (int64_t v = 0; v < s_.votes; ++v) ballots.push_back({step, 1, -1, v, prompt});
    std::vector<int64_t> tally(options.size(), 0);
    for (size_t r : ask(ballots)) {
      CallRecord& c = out_.calls[r];
      const std::optional<int> choice = choice_of(c.reply, static_cast<int>(options.size()));
      if (!choice) {
        note_failure(c, "no \"best choice is\" on the last line");
        continue;
      }
      c.parsed_ok = true;
      c.parsed = std::to_string(*choice);
      ++tally[static_cast<size_t>(*choice - 1)];
    }
    const size_t best = static_cast<size_t>(std::max_element(tally.begin(), tally.end()) - tally.begin());
    if (tally[best] == 0) return std::nullopt;
    return best;
  }
  std::string tp() {
    // Layer 0: the input's own plan.
    std::vector<std::string> plans;
    {
      CallRecord& c = out_.calls[ask({{"plan", 0, 0, 0, prompts_.render("cw_plan", {{"sentences", sentences_}})}}).front()];
      if (const auto plan = plan_of(c.reply)) plans.push_back(*plan), c.parsed_ok = true, c.parsed = *plan;
      else note_failure(c, "no plan with items 1.-4.");
    }
    // Propose: rephrasings of the four sentences (analogous problems), sampled.
    std::vector<Ask> asks;
    for (int64_t k = 0; k < s_.analogues; ++k)
      asks.push_back({"propose", 1, k, k, prompts_.render("cw_rephrase", {{"sentences", sentences_}})});
    std::vector<std::string> analogues;
    for (size_t r : ask(asks)) {
      CallRecord& c = out_.calls[r];
      std::string joined;
      std::stringstream lines(c.reply);
      int items = 0;
      for (std::string line; std::getline(lines, line);) {
        const size_t a = line.find_first_not_of(" \t");
        if (a == std::string::npos || line.size() < a + 3 || line[a] != '1' + items || line[a + 1] != '.') continue;
        joined.append(joined.empty() ? "" : " ").append(line, a + 3, std::string::npos);
        ++items;
      }
      if (items != 4) {
        note_failure(c, "not four numbered sentences");
        continue;
      }
      c.parsed_ok = true;
      c.parsed = joined;
      analogues.push_back(joined);
    }
    // Solve the analogues: a plan for each rephrasing, all at once.
    asks.clear();
    for (size_t k = 0; k < analogues.size(); ++k)
      asks.push_back({"solve_analogue", 1, static_cast<int64_t>(k), 0, prompts_.render("cw_plan", {{"sentences", analogues[k]}})});
    for (size_t r : ask(asks)) {
      CallRecord& c = out_.calls[r];
      if (const auto plan = plan_of(c.reply)) plans.push_back(*plan), c.parsed_ok = true, c.parsed = *plan;
      else note_failure(c, "no plan with items 1.-4.");
    }
    if (plans.empty()) return "";
    // Aggregate: a plan chosen by votes (the original's plan wins ties), then passages and a vote among them.
    const size_t chosen = plans.size() > 1 ? vote("cw_plan_vote", "plan_vote", plans).value_or(0) : 0;
    asks.clear();
    for (int64_t k = 0; k < s_.samples; ++k)
      asks.push_back({"write", 1, k, k, prompts_.render("cw_passage", {{"sentences", sentences_}, {"plan", plans[chosen]}})});
    std::vector<std::string> passages;
    for (size_t r : ask(asks)) {
      CallRecord& c = out_.calls[r];
      c.parsed = passage_of(c.reply);
      c.parsed_ok = !c.parsed.empty();
      if (c.parsed_ok) passages.push_back(c.parsed);
      else note_failure(c, "empty passage");
    }
    if (passages.empty()) return "";
    return passages[passages.size() > 1 ? vote("cw_passage_vote", "passage_vote", passages).value_or(0) : 0];
  }
  void judge() {
    out_.coherence = std::nan("");
    if (out_.passage.empty()) return;
    std::vector<Ask> asks;
    for (int64_t k = 0; k < s_.judge_samples; ++k)
      asks.push_back({"judge", 0, -1, k, prompts_.render("cw_judge", {{"passage", out_.passage}})});
    double total = 0;
    for (size_t r : ask(asks)) {
      CallRecord& c = out_.calls[r];
      if (const auto s = score_of(c.reply)) {
        c.parsed_ok = true;
        c.parsed = std::to_string(*s);
        total += *s;
        ++out_.judgements;
      } else {
        note_failure(c, "no coherency score 1-10 on the last line");
      }
    }
    if (out_.judgements > 0) out_.coherence = total / static_cast<double>(out_.judgements);
  }

  const std::string& sentences_;
  const PromptSet& prompts_;
  StepRunner& runner_;
  const CwSettings& s_;
  CwOutcome out_;
};

}  // namespace

CwOutcome run_creative_writing(const std::string& method, const std::string& sentences, const PromptSet& prompts,
                               StepRunner& runner, const CwSettings& settings) {
  return CwEngine(sentences, prompts, runner, settings).run(method);
}

}  // namespace relfm::reasoning
