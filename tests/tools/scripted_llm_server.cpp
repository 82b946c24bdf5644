// relfm_scripted_llm_server: a loopback HTTP server that speaks the OpenAI-compatible
// /v1/chat/completions route with scripted answers (tests/tools/scripted_answers.hpp), for the tests and
// benchmarks of the LLM client and the Thought Propagation engine. It is not a model: its answers are
// computed from the ground truth in the prompt, optionally with errors injected at a set rate.
//
// Fault injection (--fault KIND): slow (sleeps --slow-ms), 500, 429 (with Retry-After: --retry-after),
// malformed (a body that is not JSON), truncated (valid JSON whose content is cut in half, finish_reason
// "length"), drop (the connection closes mid-body). Which attempts fail: the first --fault-first attempts
// of every distinct request body, then each attempt with probability --fault-rate.
//
// GET /stats returns {"chat_calls", "distinct_bodies", "repeated_bodies", "faults"} so that tests can
// check that a rerun over a warm cache makes no call and a resumed run repeats none.
#include "tests/tools/scripted_answers.hpp"

#include "src/core/rng.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

namespace {

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;  // 0 = any free port (printed, and written to --port-file)
  std::string port_file;
  relfm::testing::ScriptSettings script;
  std::string fault = "none";
  int64_t fault_first = 0;
  double fault_rate = 0.0;
  int64_t slow_ms = 2000, delay_ms = 0, retry_after_s = 1;
  int threads = 64;
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "relfm_scripted_llm_server: %s\n"
               "usage: relfm_scripted_llm_server [--port N] [--port-file F] [--mode oracle|noisy] [--error-rate E]\n"
               "  [--seed S] [--delay-ms D] [--fault none|slow|500|429|malformed|truncated|drop] [--fault-first K]\n"
               "  [--fault-rate R] [--slow-ms MS] [--retry-after S] [--threads T]\n",
               why.c_str());
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage("missing value after " + a);
      return argv[++i];
    };
    if (a == "--port") o.port = std::stoi(value());
    else if (a == "--port-file") o.port_file = value();
    else if (a == "--mode") {
      const std::string m = value();
      if (m != "oracle" && m != "noisy") usage("--mode must be oracle or noisy");
      o.script.noisy = m == "noisy";
    } else if (a == "--error-rate") o.script.error_rate = std::stod(value());
    else if (a == "--seed") o.script.seed = std::stoull(value());
    else if (a == "--delay-ms") o.delay_ms = std::stoll(value());
    else if (a == "--fault") o.fault = value();
    else if (a == "--fault-first") o.fault_first = std::stoll(value());
    else if (a == "--fault-rate") o.fault_rate = std::stod(value());
    else if (a == "--slow-ms") o.slow_ms = std::stoll(value());
    else if (a == "--retry-after") o.retry_after_s = std::stoll(value());
    else if (a == "--threads") o.threads = std::stoi(value());
    else usage("unknown argument " + a);
  }
  static const char* kFaults[] = {"none", "slow", "500", "429", "malformed", "truncated", "drop"};
  if (std::find(std::begin(kFaults), std::end(kFaults), o.fault) == std::end(kFaults)) usage("unknown fault " + o.fault);
  return o;
}

// Debian's cpp-httplib is built with a listen backlog of 5: a client opening a dozen connections at once
// loses SYNs and waits a one-second retransmission. Linux lets listen() be called again on a listening
// socket to enlarge the backlog, so do that to every listening socket of this process.
void raise_listen_backlog() {
  for (int fd = 3; fd < 1024; ++fd) {
    int listening = 0;
    socklen_t len = sizeof(listening);
    if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening) ::listen(fd, 4096);
  }
}

// A rough token count (4 characters a token), so that the client's accounting has numbers to add up.
int64_t pseudo_tokens(const std::string& s) { return static_cast<int64_t>(s.size() / 4 + 1); }

// The response body; `extra` holds choices 1.. of a request with n > 1 (sample k of it answered with seed + k).
std::string completion_json(const std::string& content, const std::string& finish, int64_t prompt_tokens,
                            const std::vector<std::string>& extra = {}) {
  nlohmann::json j;
  j["id"] = "scripted";
  j["object"] = "chat.completion";
  j["model"] = "relfm-scripted";
  j["choices"] = nlohmann::json::array();
  int64_t completion_tokens = 0;
  for (size_t k = 0; k <= extra.size(); ++k) {
    const std::string& text = k == 0 ? content : extra[k - 1];
    j["choices"].push_back({{"index", k}, {"message", {{"role", "assistant"}, {"content", text}}}, {"finish_reason", finish}});
    completion_tokens += pseudo_tokens(text);
  }
  j["usage"] = {{"prompt_tokens", prompt_tokens},
                {"completion_tokens", completion_tokens},
                {"total_tokens", prompt_tokens + completion_tokens}};
  return j.dump();
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  std::mutex mutex;
  std::unordered_map<std::string, int64_t> attempts_by_body;  // the fault schedule and the repeat count
  int64_t calls = 0, repeated = 0, faults = 0;

  httplib::Server server;
  const int threads = o.threads;
  // One thread per kept-alive connection: enough of them that the client's in-flight bound, not the
  // server, limits concurrency.
  server.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  server.set_keep_alive_max_count(1000000);
  // Headers and body leave in two writes; with Nagle on, the second waits for the client's delayed ACK
  // (40 ms) on every reused connection.
  server.set_tcp_nodelay(true);

  server.Get("/health", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"status":"ok"})", "application/json");
  });
  server.Get("/stats", [&](const httplib::Request&, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mutex);
    nlohmann::json j = {{"chat_calls", calls},
                        {"distinct_bodies", static_cast<int64_t>(attempts_by_body.size())},
                        {"repeated_bodies", repeated},
                        {"faults", faults}};
    res.set_content(j.dump(), "application/json");
  });
  server.Post("/v1/chat/completions", [&](const httplib::Request& req, httplib::Response& res) {
    int64_t attempt = 0;
    {
      std::lock_guard<std::mutex> lock(mutex);
      ++calls;
      attempt = attempts_by_body[req.body]++;
      if (attempt > 0) ++repeated;
    }
    const nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.contains("messages") || !body["messages"].is_array() || body["messages"].empty()) {
      res.status = 400;
      res.set_content(R"({"error":{"message":"the body needs a messages array"}})", "application/json");
      return;
    }
    if (o.delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(o.delay_ms));
    bool fault = o.fault != "none" && attempt < o.fault_first;
    if (!fault && o.fault != "none" && o.fault_rate > 0) {
      const relfm::CounterRng rng(o.script.seed, relfm::RngPurpose::kTest, relfm::hash_string(req.body));
      fault = rng.uniform_double(static_cast<uint64_t>(attempt)) < o.fault_rate;
    }
    if (fault) {
      std::lock_guard<std::mutex> lock(mutex);
      ++faults;
    }
    std::string prompt;
    for (const auto& m : body["messages"])
      if (m.value("role", "") == "user" && m.contains("content") && m["content"].is_string()) prompt = m["content"];
    const int64_t sample = body.value("seed", int64_t{0});
    const std::string content = relfm::testing::scripted_answer(prompt, sample, o.script);
    const int64_t prompt_tokens = pseudo_tokens(prompt);
    if (fault && o.fault == "slow") std::this_thread::sleep_for(std::chrono::milliseconds(o.slow_ms));
    if (fault && o.fault == "500") {
      res.status = 500;
      res.set_content(R"({"error":{"message":"scripted internal error"}})", "application/json");
    } else if (fault && o.fault == "429") {
      res.status = 429;
      res.set_header("Retry-After", std::to_string(o.retry_after_s));
      res.set_content(R"({"error":{"message":"scripted rate limit"}})", "application/json");
    } else if (fault && o.fault == "malformed") {
      res.set_content("{\"choices\": [{\"message\": {\"content\": \"The shortest", "application/json");
    } else if (fault && o.fault == "truncated") {
      res.set_content(completion_json(content.substr(0, content.size() / 2), "length", prompt_tokens), "application/json");
    } else if (fault && o.fault == "drop") {
      // Announce the whole length, send half, then give up: the client sees the connection close mid-body.
      const std::string full = completion_json(content, "stop", prompt_tokens);
      res.set_content_provider(full.size(), "application/json",
                               [full](size_t offset, size_t, httplib::DataSink& sink) {
                                 if (offset == 0) sink.write(full.data(), full.size() / 2);
                                 return offset == 0;
                               });
    } else {
      std::vector<std::string> extra;
      for (int64_t k = 1; k < body.value("n", int64_t{1}) && k < 64; ++k)
        extra.push_back(relfm::testing::scripted_answer(prompt, sample + k, o.script));
      res.set_content(completion_json(content, "stop", prompt_tokens, extra), "application/json");
    }
  });

  const int port = o.port > 0 ? (server.bind_to_port(o.host.c_str(), o.port) ? o.port : -1)
                              : server.bind_to_any_port(o.host.c_str());
  if (port <= 0) {
    std::fprintf(stderr, "relfm_scripted_llm_server: cannot bind %s:%d\n", o.host.c_str(), o.port);
    return 1;
  }
  raise_listen_backlog();
  if (!o.port_file.empty()) {
    // Written whole then renamed, so a test polling for the file never reads half a number.
    { std::ofstream(o.port_file + ".tmp") << port << "\n"; }
    std::rename((o.port_file + ".tmp").c_str(), o.port_file.c_str());
  }
  std::printf("relfm_scripted_llm_server listening on http://%s:%d (%s%s, fault %s)\n", o.host.c_str(), port,
              o.script.noisy ? "noisy" : "oracle", o.script.noisy ? (" e=" + std::to_string(o.script.error_rate)).c_str() : "",
              o.fault.c_str());
  std::fflush(stdout);
  server.listen_after_bind();
  return 0;
}
