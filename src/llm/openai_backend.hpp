// The transport: POST {base_url}/v1/chat/completions with libcurl's multi interface, at most
// `max_in_flight` requests at a time over reused keep-alive connections. One attempt per request;
// retrying is the retry layer's job (src/llm/retry_backend.hpp).
#pragma once

#include "src/llm/chat.hpp"

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

namespace relfm::llm {

// A bound on the requests in flight shared by several transports: a rank that works on several items at
// once (one backend stack per item, each in its own thread) keeps llm.max_in_flight for all of them.
class RequestPermits {
 public:
  explicit RequestPermits(int64_t count) : free_(count) {}
  bool try_acquire();
  void acquire();  // waits for a release
  void release();

 private:
  std::mutex mutex_;
  std::condition_variable released_;
  int64_t free_;
};

struct OpenAiOptions {
  std::string base_url;      // e.g. http://127.0.0.1:8080 (a trailing /v1 is accepted too)
  std::string api_key_env;   // name of the environment variable holding the key; "" = no key
  double timeout_s = 120.0;  // whole request
  double connect_timeout_s = 10.0;
  int64_t max_in_flight = 8;
  std::shared_ptr<RequestPermits> permits;  // shared with other transports; null = max_in_flight alone
};

class OpenAiBackend final : public ChatBackend {
 public:
  // Reads the key from the environment now: a key that is named but missing is an InputError before any
  // call. The key lives only in this object's header list and is never logged or written out.
  explicit OpenAiBackend(OpenAiOptions options);
  ~OpenAiBackend() override;
  OpenAiBackend(const OpenAiBackend&) = delete;
  OpenAiBackend& operator=(const OpenAiBackend&) = delete;

  using ChatBackend::complete;
  std::vector<ChatReply> complete(const std::vector<ChatRequest>& requests, const ReplySink& on_reply) override;
  void add_stats(Stats& stats) const override;
  std::string describe() const override;
  const std::string& url() const { return url_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  OpenAiOptions options_;
  std::string url_;
  Stats stats_;
};

}  // namespace relfm::llm
