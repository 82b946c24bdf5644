// Retries the transient failures of the layer below: connection errors and timeouts, HTTP 429 and 5xx,
// and malformed replies (a server that cut its answer short usually answers whole the next time).
// Other HTTP errors (400, 401, 404: a wrong model name or key) are final at once.
//
// The delay before retry k (k = 1, 2, ...) is exponential with "equal jitter": half of
// min(max, initial * 2^(k-1)) plus a random part of the same size, so that ranks that failed together do
// not retry in lockstep; a server's Retry-After is honoured as a lower bound (capped by retry_after_max).
// Failed requests of one batch are retried together, after the longest delay any of them asks for.
#pragma once

#include "src/llm/chat.hpp"

#include <functional>
#include <memory>

namespace relfm::llm {

struct RetryOptions {
  int64_t max_attempts = 5;  // HTTP attempts per request, the first included
  double initial_backoff_s = 0.5;
  double max_backoff_s = 30.0;
  double retry_after_max_s = 120.0;
  uint64_t seed = 0;  // of the jitter
};

class RetryBackend final : public ChatBackend {
 public:
  RetryBackend(RetryOptions options, std::unique_ptr<ChatBackend> inner);
  using ChatBackend::complete;
  std::vector<ChatReply> complete(const std::vector<ChatRequest>& requests, const ReplySink& on_reply) override;
  void add_stats(Stats& stats) const override;
  std::string describe() const override;

  static bool retryable(const ChatReply& reply);
  // The pause before retry `retry` (1-based) without a Retry-After; `u` in [0, 1) is the jitter draw.
  static double backoff_s(const RetryOptions& options, int64_t retry, double u);
  // Tests replace the sleep to observe the delays without waiting for them.
  std::function<void(double seconds)> sleep;

 private:
  RetryOptions options_;
  std::unique_ptr<ChatBackend> inner_;
  uint64_t draws_ = 0;
  int64_t retries_ = 0, failed_replies_ = 0;
};

}  // namespace relfm::llm
