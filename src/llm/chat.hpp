// Chat completions as relfm sees them: a request (the OpenAI-compatible fields that llama-server, vLLM and
// Ollama all accept), a reply, and the small interface every backend implements. Backends are composed
// from a string key such as "cache,retry,openai" (src/llm/backends.hpp), so a job file picks the stack.
//
// A backend answers a whole batch at once: that is how the transport keeps several requests in flight
// (curl multi) while the caller stays single-threaded, one thread per MPI rank as everywhere in relfm.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace relfm::llm {

struct Message {
  std::string role;  // system | user | assistant
  std::string content;
  bool operator==(const Message&) const = default;
};

struct ChatRequest {
  std::string model;
  std::vector<Message> messages;
  double temperature = 0.0;
  int64_t max_tokens = 1000;
  int64_t n = 1;         // sent only when > 1: not every local server accepts it
  int64_t seed = -1;     // -1 = not sent
  std::vector<std::string> stop;
  // Which sample of otherwise identical requests this is. Not sent to the server; part of the cache key,
  // so that k samples at temperature > 0 are k cached replies, not one reply k times.
  int64_t sample = 0;
};

// Why a request failed; the retry layer retries the transient kinds.
enum class Failure { kNone, kConnection, kTimeout, kHttp, kMalformed, kConfig };
const char* failure_name(Failure f);

struct ChatReply {
  bool ok = false;
  std::vector<std::string> choices;  // message contents, one per choice
  std::string finish_reason;         // of choice 0 ("length" = cut short by max_tokens)
  int64_t prompt_tokens = 0, completion_tokens = 0;
  Failure failure = Failure::kNone;
  std::string error;     // human-readable; never contains the API key
  int64_t http_status = 0;
  double retry_after_s = -1.0;  // the server's Retry-After, when it sent one
  int64_t attempts = 0;  // HTTP requests made for this reply (0 = served from the cache)
  double seconds = 0.0;  // wall time from the first attempt to the reply
  bool cached = false;
  // For a reply from the cache: what the call that filled the entry cost. Records of a call use
  // cost_attempts()/cost_seconds(), so they do not depend on whether the cache was warm.
  int64_t origin_attempts = 0;
  double origin_seconds = 0.0;

  const std::string& text() const;  // choice 0, or "" when there is none
  int64_t cost_attempts() const { return cached ? origin_attempts : attempts; }
  double cost_seconds() const { return cached ? origin_seconds : seconds; }
};

// Counters every layer adds to (each layer counts what it sees).
struct Stats {
  int64_t http_calls = 0;     // HTTP requests sent (retries included)
  int64_t http_failures = 0;  // of those, the ones that failed
  int64_t retries = 0;
  int64_t cache_hits = 0, cache_misses = 0, cache_writes = 0;
  int64_t failed_replies = 0;  // replies that were still failures after every retry
  int64_t prompt_tokens = 0, completion_tokens = 0;
  std::map<std::string, int64_t> failures_by_kind;
};

// Told of each reply of a batch as soon as it is final, before the rest of the batch is done: the cache
// stores it there, so a run killed in the middle of a batch pays again only for the requests that were on
// the wire, not for the finished ones that waited for a slow or retried neighbour.
using ReplySink = std::function<void(size_t index, const ChatReply& reply)>;

class ChatBackend {
 public:
  virtual ~ChatBackend() = default;
  // replies[i] answers requests[i]. A failure is a reply with ok = false, never an exception (the caller
  // decides what a failed call means for its work item); exceptions are for misconfiguration and bugs.
  std::vector<ChatReply> complete(const std::vector<ChatRequest>& requests) { return complete(requests, ReplySink{}); }
  // The same, and every implementation calls `on_reply` (when set) exactly once per request, in the
  // calling thread, with the reply it returns for it, as soon as that reply is final.
  virtual std::vector<ChatReply> complete(const std::vector<ChatRequest>& requests, const ReplySink& on_reply) = 0;
  // Adds this layer's counters and those of the layers below it.
  virtual void add_stats(Stats& stats) const = 0;
  virtual std::string describe() const = 0;  // e.g. "cache(/x) → retry(5) → openai(http://host:8080)"
  Stats stats() const {
    Stats s;
    add_stats(s);
    return s;
  }
};

// A layer that relies on the sink checks the contract: a backend that returned without reporting every
// reply is a bug (std::logic_error naming it), not a reply to make up.
void expect_every_reply_reported(const ChatBackend& inner, size_t requests, size_t reported);

// The request's identity as canonical JSON text: every field that can change the reply, including
// `sample`. Equal requests give equal text (the cache key is its hash).
std::string canonical_request(const ChatRequest& request);
// The body POSTed to /v1/chat/completions.
std::string request_body(const ChatRequest& request);
// Parses a /v1/chat/completions response body into `reply` (ok, or kMalformed with the reason).
void parse_response_body(const std::string& body, ChatReply& reply);

}  // namespace relfm::llm
