#include "src/llm/retry_backend.hpp"

#include "src/core/error.hpp"
#include "src/core/log.hpp"
#include "src/core/rng.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

namespace relfm::llm {

RetryBackend::RetryBackend(RetryOptions options, std::unique_ptr<ChatBackend> inner)
    : options_(options), inner_(std::move(inner)) {
  if (options_.max_attempts < 1) fail_input("llm: retry max_attempts must be at least 1, not {}", options_.max_attempts);
  sleep = [](double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); };
}

bool RetryBackend::retryable(const ChatReply& r) {
  switch (r.failure) {
    case Failure::kConnection:
    case Failure::kTimeout:
    case Failure::kMalformed: return true;
    case Failure::kHttp: return r.http_status == 429 || r.http_status >= 500;
    default: return false;
  }
}

double RetryBackend::backoff_s(const RetryOptions& o, int64_t retry, double u) {
  const double full = std::min(o.max_backoff_s, o.initial_backoff_s * std::pow(2.0, static_cast<double>(retry - 1)));
  return 0.5 * full + 0.5 * full * u;
}

std::vector<ChatReply> RetryBackend::complete(const std::vector<ChatRequest>& requests, const ReplySink& on_reply) {
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<ChatReply> replies(requests.size());
  std::vector<int64_t> earlier_attempts(requests.size(), 0);
  std::vector<char> settled(requests.size(), 0);
  int64_t attempt = 1;
  // A reply is final when it succeeded, cannot succeed by asking again, or was the last attempt; it is
  // passed up at once (the cache stores it while the rest of the batch is still being retried).
  const auto settle_if_final = [&](size_t i, const ChatReply& fresh) {
    ChatReply& r = replies[i];
    r = fresh;
    r.attempts += earlier_attempts[i];
    if (!(r.ok || !retryable(r) || attempt == options_.max_attempts)) return;
    // A retried reply took the whole wait, not its last attempt.
    if (r.attempts > 1) r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!r.ok) ++failed_replies_;
    settled[i] = 1;
    if (on_reply) on_reply(i, r);
  };
  std::vector<size_t> asked(requests.size());
  for (size_t i = 0; i < asked.size(); ++i) asked[i] = i;
  const auto ask = [&](const std::vector<ChatRequest>& batch) {
    size_t reported = 0;
    inner_->complete(batch, [&](size_t k, const ChatReply& r) {
      ++reported;
      settle_if_final(asked[k], r);
    });
    expect_every_reply_reported(*inner_, batch.size(), reported);
  };
  ask(requests);
  // The jitter only spreads retries in time and never reaches a result, so a process-local counter is a
  // fine stream index.
  const CounterRng rng(options_.seed, RngPurpose::kLlmJitter);
  for (attempt = 2; attempt <= options_.max_attempts; ++attempt) {
    std::vector<size_t> again;
    double delay = 0.0;
    for (size_t i = 0; i < replies.size(); ++i) {
      if (settled[i]) continue;
      again.push_back(i);
      double d = backoff_s(options_, attempt - 1, rng.uniform_double(draws_++));
      if (replies[i].retry_after_s >= 0) d = std::max(d, std::min(replies[i].retry_after_s, options_.retry_after_max_s));
      delay = std::max(delay, d);
    }
    if (again.empty()) break;
    logging::debug("llm: retrying {} request(s) in {:.2f} s (attempt {}; {})", again.size(), delay, attempt,
                   replies[again.front()].error);
    sleep(delay);
    std::vector<ChatRequest> subset;
    for (size_t i : again) {
      subset.push_back(requests[i]);
      earlier_attempts[i] = replies[i].attempts;
    }
    asked = again;
    retries_ += static_cast<int64_t>(again.size());
    ask(subset);
  }
  return replies;
}

void RetryBackend::add_stats(Stats& s) const {
  s.retries += retries_;
  s.failed_replies += failed_replies_;
  inner_->add_stats(s);
}

std::string RetryBackend::describe() const {
  return "retry(" + std::to_string(options_.max_attempts) + " attempts) → " + inner_->describe();
}

}  // namespace relfm::llm
