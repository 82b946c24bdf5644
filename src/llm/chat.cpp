#include "src/llm/chat.hpp"

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>

namespace relfm::llm {

const char* failure_name(Failure f) {
  switch (f) {
    case Failure::kNone: return "none";
    case Failure::kConnection: return "connection";
    case Failure::kTimeout: return "timeout";
    case Failure::kHttp: return "http";
    case Failure::kMalformed: return "malformed";
    case Failure::kConfig: return "config";
  }
  return "unknown";
}

void expect_every_reply_reported(const ChatBackend& inner, size_t requests, size_t reported) {
  if (reported != requests)
    throw std::logic_error("llm: " + inner.describe() + " reported " + std::to_string(reported) + " of " +
                           std::to_string(requests) + " replies to its sink");
}

const std::string& ChatReply::text() const {
  static const std::string empty;
  return choices.empty() ? empty : choices.front();
}

namespace {

nlohmann::json messages_json(const ChatRequest& r) {
  nlohmann::json m = nlohmann::json::array();
  for (const Message& msg : r.messages) m.push_back({{"role", msg.role}, {"content", msg.content}});
  return m;
}

}  // namespace

std::string canonical_request(const ChatRequest& r) {
  // nlohmann's object keeps keys sorted, so the dump is canonical for equal requests.
  nlohmann::json j;
  j["model"] = r.model;
  j["messages"] = messages_json(r);
  j["temperature"] = r.temperature;
  j["max_tokens"] = r.max_tokens;
  j["n"] = r.n;
  j["seed"] = r.seed;
  j["stop"] = r.stop;
  j["sample"] = r.sample;
  return j.dump();
}

std::string request_body(const ChatRequest& r) {
  nlohmann::json j;
  j["model"] = r.model;
  j["messages"] = messages_json(r);
  j["temperature"] = r.temperature;
  j["max_tokens"] = r.max_tokens;
  j["stream"] = false;
  if (r.n > 1) j["n"] = r.n;
  if (r.seed >= 0) j["seed"] = r.seed;
  if (!r.stop.empty()) j["stop"] = r.stop;
  return j.dump();
}

void parse_response_body(const std::string& body, ChatReply& reply) {
  auto malformed = [&](const std::string& why) {
    reply.ok = false;
    reply.failure = Failure::kMalformed;
    reply.error = "malformed reply: " + why;
  };
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return malformed("not a JSON object");
  if (!j.contains("choices") || !j["choices"].is_array() || j["choices"].empty())
    return malformed("no 'choices' array");
  reply.choices.clear();
  for (const auto& c : j["choices"]) {
    if (!c.is_object() || !c.contains("message") || !c["message"].is_object()) return malformed("a choice without 'message'");
    const auto& content = c["message"].value("content", nlohmann::json());
    // A null content (a reasoning model that spent every token thinking) is an empty answer, not a fault.
    if (!content.is_string() && !content.is_null()) return malformed("'message.content' is not a string");
    reply.choices.push_back(content.is_string() ? content.get<std::string>() : std::string());
  }
  const auto& first = j["choices"][0];
  reply.finish_reason = first.contains("finish_reason") && first["finish_reason"].is_string()
                            ? first["finish_reason"].get<std::string>()
                            : std::string();
  if (j.contains("usage") && j["usage"].is_object()) {
    reply.prompt_tokens = j["usage"].value("prompt_tokens", int64_t{0});
    reply.completion_tokens = j["usage"].value("completion_tokens", int64_t{0});
  }
  reply.ok = true;
  reply.failure = Failure::kNone;
  reply.error.clear();
}

}  // namespace relfm::llm
