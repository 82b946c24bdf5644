#include "src/llm/openai_backend.hpp"

#include "src/core/error.hpp"

#include <curl/curl.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace relfm::llm {

namespace {

void global_curl_init() {
  // curl_global_init is not thread-safe and must run once per process.
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t append_body(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

// One request on the wire: its easy handle is kept between requests so that the connection is reused.
struct Transfer {
  CURL* easy = nullptr;
  size_t index = 0;
  std::string body, response;
  double retry_after_s = -1.0;
  std::chrono::steady_clock::time_point start;
};

size_t read_header(char* data, size_t size, size_t count, void* user) {
  const size_t n = size * count;
  auto* t = static_cast<Transfer*>(user);
  static constexpr char kName[] = "retry-after:";
  if (n > sizeof(kName) - 1 && strncasecmp(data, kName, sizeof(kName) - 1) == 0) {
    // Only the delay-seconds form; an HTTP-date is rare from LLM servers and falls back to backoff.
    const std::string value(data + sizeof(kName) - 1, n - (sizeof(kName) - 1));
    char* end = nullptr;
    const double s = std::strtod(value.c_str(), &end);
    if (end != value.c_str() && s >= 0) t->retry_after_s = s;
  }
  return n;
}

}  // namespace

bool RequestPermits::try_acquire() {
  std::lock_guard lock(mutex_);
  if (free_ == 0) return false;
  --free_;
  return true;
}

void RequestPermits::acquire() {
  std::unique_lock lock(mutex_);
  released_.wait(lock, [&] { return free_ > 0; });
  --free_;
}

void RequestPermits::release() {
  {
    std::lock_guard lock(mutex_);
    ++free_;
  }
  released_.notify_one();
}

struct OpenAiBackend::Impl {
  CURLM* multi = nullptr;
  curl_slist* headers = nullptr;
  std::vector<Transfer> slots;
  ~Impl() {
    for (Transfer& t : slots)
      if (t.easy) curl_easy_cleanup(t.easy);
    if (multi) curl_multi_cleanup(multi);
    if (headers) curl_slist_free_all(headers);
  }
};

OpenAiBackend::OpenAiBackend(OpenAiOptions options) : impl_(std::make_unique<Impl>()), options_(std::move(options)) {
  if (options_.base_url.empty()) fail_input("llm: the endpoint's base URL is empty");
  if (options_.max_in_flight < 1) fail_input("llm: max_in_flight must be at least 1, not {}", options_.max_in_flight);
  std::string base = options_.base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  if (base.size() >= 3 && base.compare(base.size() - 3, 3, "/v1") == 0) base.resize(base.size() - 3);
  url_ = base + "/v1/chat/completions";
  global_curl_init();
  impl_->headers = curl_slist_append(impl_->headers, "Content-Type: application/json");
  // Without this, curl sends "Expect: 100-continue" for bodies over 1 KiB and waits for the server's
  // go-ahead, which some servers never send: every few-shot prompt would pay a one-second stall.
  impl_->headers = curl_slist_append(impl_->headers, "Expect:");
  if (!options_.api_key_env.empty()) {
    const char* key = std::getenv(options_.api_key_env.c_str());
    if (key == nullptr || *key == '\0')
      fail_input("llm: the endpoint {} needs an API key, but the environment variable {} is not set (or empty)", url_,
                 options_.api_key_env);
    impl_->headers = curl_slist_append(impl_->headers, (std::string("Authorization: Bearer ") + key).c_str());
  }
  impl_->multi = curl_multi_init();
  curl_multi_setopt(impl_->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, static_cast<long>(options_.max_in_flight));
  impl_->slots.resize(static_cast<size_t>(options_.max_in_flight));
  for (Transfer& t : impl_->slots) t.easy = curl_easy_init();
}

OpenAiBackend::~OpenAiBackend() = default;

std::string OpenAiBackend::describe() const {
  return "openai(" + url_ + (options_.api_key_env.empty() ? "" : ", key from $" + options_.api_key_env) + ")";
}

void OpenAiBackend::add_stats(Stats& s) const {
  s.http_calls += stats_.http_calls;
  s.http_failures += stats_.http_failures;
  s.prompt_tokens += stats_.prompt_tokens;
  s.completion_tokens += stats_.completion_tokens;
  for (const auto& [k, v] : stats_.failures_by_kind) s.failures_by_kind[k] += v;
}

std::vector<ChatReply> OpenAiBackend::complete(const std::vector<ChatRequest>& requests, const ReplySink& on_reply) {
  std::vector<ChatReply> replies(requests.size());
  std::vector<Transfer*> idle;
  for (Transfer& t : impl_->slots) idle.push_back(&t);
  size_t next = 0, active = 0;

  auto start = [&](Transfer* t, size_t index) {
    t->index = index;
    t->body = request_body(requests[index]);
    t->response.clear();
    t->retry_after_s = -1.0;
    t->start = std::chrono::steady_clock::now();
    CURL* e = t->easy;
    curl_easy_reset(e);
    curl_easy_setopt(e, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, impl_->headers);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->body.c_str());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t->body.size()));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, append_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &t->response);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, read_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout_s * 1000));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout_s * 1000));
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);  // timeouts without SIGALRM: MPI and signals do not mix
    curl_easy_setopt(e, CURLOPT_PRIVATE, t);
    curl_multi_add_handle(impl_->multi, e);
    ++stats_.http_calls;
  };

  auto finish = [&](Transfer* t, CURLcode code) {
    ChatReply& r = replies[t->index];
    r.attempts = 1;
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t->start).count();
    r.retry_after_s = t->retry_after_s;
    long status = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    r.http_status = status;
    if (code != CURLE_OK) {
      r.failure = code == CURLE_OPERATION_TIMEDOUT ? Failure::kTimeout : Failure::kConnection;
      r.error = std::string("transport: ") + curl_easy_strerror(code);
    } else if (status != 200) {
      r.failure = Failure::kHttp;
      // The first bytes of the body say why (e.g. "model not found"); the key is never echoed back.
      r.error = "HTTP " + std::to_string(status) + ": " + t->response.substr(0, 200);
    } else {
      parse_response_body(t->response, r);
    }
    if (r.ok) {
      stats_.prompt_tokens += r.prompt_tokens;
      stats_.completion_tokens += r.completion_tokens;
    } else {
      ++stats_.http_failures;
      ++stats_.failures_by_kind[failure_name(r.failure)];
    }
    if (on_reply) on_reply(t->index, r);
  };

  // A shared permit per request on the wire; with none in flight here, wait for one (another transport
  // will release it), otherwise go on polling our own transfers.
  const auto permit = [&](bool may_wait) {
    if (!options_.permits) return true;
    if (!may_wait) return options_.permits->try_acquire();
    options_.permits->acquire();
    return true;
  };
  while (next < requests.size() || active > 0) {
    while (!idle.empty() && next < requests.size() && permit(active == 0)) {
      start(idle.back(), next++);
      idle.pop_back();
      ++active;
    }
    int running = 0;
    curl_multi_perform(impl_->multi, &running);
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(impl_->multi, &queued)) {
      if (msg->msg != CURLMSG_DONE) continue;
      Transfer* t = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &t);
      const CURLcode code = msg->data.result;
      curl_multi_remove_handle(impl_->multi, msg->easy_handle);
      finish(t, code);
      if (options_.permits) options_.permits->release();
      idle.push_back(t);
      --active;
    }
    // Without a free permit, poll briefly: a permit released by another transport does not wake our poll.
    const bool waiting_for_permit = !idle.empty() && next < requests.size();
    if (active > 0) curl_multi_poll(impl_->multi, nullptr, 0, waiting_for_permit ? 2 : 50, nullptr);
  }
  return replies;
}

}  // namespace relfm::llm
