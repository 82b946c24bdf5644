#include "src/reasoning/llm_steps.hpp"

namespace relfm::reasoning {

std::vector<size_t> StepRunner::ask(const std::vector<Ask>& asks, std::vector<CallRecord>& calls) {
  std::vector<llm::ChatRequest> requests;
  for (const Ask& a : asks) {
    llm::ChatRequest r;
    r.model = settings_.model;
    // The official code sends each whole few-shot prompt as one user message; so does relfm.
    r.messages = {{"user", a.prompt}};
    r.temperature = settings_.temperature;
    r.max_tokens = settings_.max_tokens;
    r.seed = settings_.seed + a.sample;
    r.sample = a.sample;
    requests.push_back(std::move(r));
  }
  const std::vector<llm::ChatReply> replies = requests.empty() ? std::vector<llm::ChatReply>{} : backend_.complete(requests);
  std::vector<size_t> out;
  for (size_t k = 0; k < asks.size(); ++k) {
    const llm::ChatReply& reply = replies[k];
    CallRecord c;
    c.step = asks[k].step;
    c.layer = asks[k].layer;
    c.node = asks[k].node;
    c.sample = asks[k].sample;
    c.prompt = asks[k].prompt;
    c.reply = reply.text();
    c.ok = reply.ok;
    c.error = reply.ok ? (reply.finish_reason == "length" ? "cut short (finish_reason length)" : "")
                       : std::string(llm::failure_name(reply.failure)) + ": " + reply.error;
    c.seconds = reply.cost_seconds();
    c.prompt_tokens = reply.prompt_tokens;
    c.completion_tokens = reply.completion_tokens;
    c.attempts = reply.cost_attempts();
    out.push_back(calls.size());
    calls.push_back(std::move(c));
  }
  return out;
}

void fail_step(CallRecord& call, const std::string& why) {
  call.parsed_ok = false;
  call.parsed.clear();
  if (call.error.empty()) call.error = why;
  else if (call.error.find(why) == std::string::npos) call.error += "; " + why;
}

}  // namespace relfm::reasoning
