// The LLM client against relfm_scripted_llm_server: replies and accounting, the in-flight bound, retries
// under every injected fault, the retry budget, the cache (warm rerun = no HTTP call, atomic entries,
// shared by two clients, the first writer wins), the API key rules and the backend key.
#include "src/core/error.hpp"
#include "src/llm/backends.hpp"
#include "src/reasoning/shortest_path.hpp"
#include "tests/src/llm/scripted_server.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <thread>

namespace relfm::llm {
namespace {

using testing::ScriptedServer;

ChatRequest shortest_path_request(uint64_t index, int64_t sample = 0) {
  const reasoning::SpProblem p = reasoning::generate_problem(7, index);
  ChatRequest r;
  r.model = "scripted";
  r.messages = {{"user", "Input:\n" + reasoning::gml_graph(p.graph, true) + "\n\nSource Node: 0\nTarget Node: " +
                             std::to_string(p.target) + "\nAnswer:"}};
  r.seed = sample;
  r.sample = sample;
  return r;
}

BackendOptions options_for(const ScriptedServer& server, const std::string& cache_dir = "") {
  BackendOptions o;
  o.openai.base_url = server.url();
  o.openai.timeout_s = 5;
  o.retry.initial_backoff_s = 0.01;
  o.retry.max_backoff_s = 0.05;
  o.cache_dir = cache_dir;
  return o;
}

std::string fresh_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("relfm_llm_test_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir.string();
}

TEST(LlmClient, OracleRepliesAreScoredOptimalAndTokensAreCounted) {
  ScriptedServer server({"--mode", "oracle"});
  auto backend = make_backend("openai", options_for(server));
  std::vector<ChatRequest> requests;
  for (uint64_t i = 0; i < 6; ++i) requests.push_back(shortest_path_request(i));
  std::vector<std::string> reported(6);
  const std::vector<ChatReply> replies = backend->complete(requests, [&](size_t i, const ChatReply& r) {
    EXPECT_TRUE(reported.at(i).empty()) << "reply " << i << " reported twice";
    reported.at(i) = r.text();
  });
  int64_t tokens = 0;
  for (uint64_t i = 0; i < 6; ++i) {
    ASSERT_TRUE(replies[i].ok) << replies[i].error;
    EXPECT_EQ(reported[i], replies[i].text());  // the transport reports each reply once, as it returns it
    EXPECT_EQ(replies[i].finish_reason, "stop");
    EXPECT_EQ(replies[i].attempts, 1);
    EXPECT_TRUE(reasoning::score_answer(reasoning::generate_problem(7, i), replies[i].text()).optimal) << replies[i].text();
    EXPECT_GT(replies[i].prompt_tokens, 50);
    tokens += replies[i].prompt_tokens + replies[i].completion_tokens;
  }
  const Stats s = backend->stats();
  EXPECT_EQ(s.http_calls, 6);
  EXPECT_EQ(s.prompt_tokens + s.completion_tokens, tokens);
  EXPECT_EQ(server.chat_calls(), 6);
}

TEST(LlmClient, TheBodyCarriesTheSamplingFieldsAndNChoicesComeBack) {
  ChatRequest r = shortest_path_request(0, 5);
  r.temperature = 0.7;
  r.max_tokens = 64;
  r.n = 3;
  r.stop = {"\n\nInput:"};
  const nlohmann::json body = nlohmann::json::parse(request_body(r));
  EXPECT_EQ(body["model"], "scripted");
  EXPECT_EQ(body["messages"][0]["role"], "user");
  EXPECT_DOUBLE_EQ(body["temperature"].get<double>(), 0.7);
  EXPECT_EQ(body["max_tokens"], 64);
  EXPECT_EQ(body["n"], 3);
  EXPECT_EQ(body["seed"], 5);
  EXPECT_EQ(body["stop"][0], "\n\nInput:");
  EXPECT_EQ(body["stream"], false);
  EXPECT_FALSE(body.contains("sample"));  // a cache-key field, not the server's business
  ChatRequest plain = shortest_path_request(0);
  plain.seed = -1;
  const nlohmann::json minimal = nlohmann::json::parse(request_body(plain));
  EXPECT_FALSE(minimal.contains("n") || minimal.contains("seed") || minimal.contains("stop"));  // portable defaults

  ScriptedServer server({"--mode", "noisy", "--error-rate", "0.5"});
  const std::vector<ChatReply> replies = make_backend("openai", options_for(server))->complete({r});
  ASSERT_TRUE(replies[0].ok) << replies[0].error;
  EXPECT_EQ(replies[0].choices.size(), 3u);
}

TEST(LlmClient, KeepsTheConfiguredNumberOfRequestsInFlight) {
  ScriptedServer server({"--delay-ms", "100"});
  BackendOptions o = options_for(server);
  o.openai.max_in_flight = 8;
  auto backend = make_backend("openai", o);
  std::vector<ChatRequest> requests;
  for (uint64_t i = 0; i < 16; ++i) requests.push_back(shortest_path_request(i));
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<ChatReply> replies = backend->complete(requests);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (const ChatReply& r : replies) ASSERT_TRUE(r.ok) << r.error;
  // 16 requests of 100 ms with 8 in flight: two waves (0.2 s). One at a time would take 1.6 s, 16 at once
  // 0.1 s; the upper bound leaves room for a loaded machine (ctest -j) without letting serial calls pass.
  EXPECT_GT(s, 0.19);
  EXPECT_LT(s, 1.0);
}

struct FaultCase {
  std::string fault;
  Failure failure;
};

class RetriesEveryFault : public ::testing::TestWithParam<FaultCase> {};

TEST_P(RetriesEveryFault, FirstAttemptFailsThenTheRetrySucceeds) {
  ScriptedServer server({"--fault", GetParam().fault, "--fault-first", "1", "--slow-ms", "1500", "--retry-after", "1"});
  BackendOptions o = options_for(server);
  o.openai.timeout_s = 0.5;
  auto stack = std::make_unique<RetryBackend>(o.retry, std::make_unique<OpenAiBackend>(o.openai));
  std::vector<double> slept;
  stack->sleep = [&](double s) { slept.push_back(s); };
  const std::vector<ChatReply> replies = stack->complete({shortest_path_request(0), shortest_path_request(1)});
  for (const ChatReply& r : replies) {
    ASSERT_TRUE(r.ok) << GetParam().fault << ": " << r.error;
    EXPECT_EQ(r.attempts, 2);
    EXPECT_TRUE(reasoning::score_answer(reasoning::generate_problem(7, 0), replies[0].text()).optimal);
  }
  Stats s = stack->stats();
  EXPECT_EQ(s.retries, 2);
  EXPECT_EQ(s.http_calls, 4);
  EXPECT_EQ(s.failures_by_kind[failure_name(GetParam().failure)], 2);
  ASSERT_EQ(slept.size(), 1u);
  if (GetParam().fault == "429") EXPECT_GE(slept[0], 1.0);  // Retry-After honoured
  else EXPECT_LE(slept[0], 0.05);
}

INSTANTIATE_TEST_SUITE_P(Faults, RetriesEveryFault,
                         ::testing::Values(FaultCase{"500", Failure::kHttp}, FaultCase{"429", Failure::kHttp},
                                           FaultCase{"malformed", Failure::kMalformed},
                                           FaultCase{"drop", Failure::kConnection}, FaultCase{"slow", Failure::kTimeout}),
                         [](const auto& info) { return "fault_" + info.param.fault; });

class CacheUnderEveryFault : public ::testing::TestWithParam<FaultCase> {};

TEST_P(CacheUnderEveryFault, OnlyTheGoodReplyIsCachedAndTheWarmRunAsksNothing) {
  ScriptedServer server({"--mode", "oracle", "--fault", GetParam().fault, "--fault-first", "1", "--slow-ms", "1500",
                         "--retry-after", "0"});
  const std::string dir = fresh_dir("fault_" + GetParam().fault);
  BackendOptions o = options_for(server, dir);
  o.openai.timeout_s = 0.5;
  const std::vector<ChatRequest> batch = {shortest_path_request(0), shortest_path_request(1)};
  const std::vector<ChatReply> cold = make_backend("cache,retry,openai", o)->complete(batch);
  const int64_t calls = server.chat_calls();
  EXPECT_EQ(calls, 4);  // one failed and one good attempt each
  const std::vector<ChatReply> warm = make_backend("cache,retry,openai", o)->complete(batch);
  EXPECT_EQ(server.chat_calls(), calls);
  for (size_t i = 0; i < batch.size(); ++i) {
    ASSERT_TRUE(cold[i].ok && warm[i].ok);
    EXPECT_TRUE(warm[i].cached);
    EXPECT_EQ(warm[i].text(), cold[i].text());
    // The warm reply reports what the cold one cost (two attempts, the wait), not that it was free.
    EXPECT_EQ(warm[i].attempts, 0);
    EXPECT_EQ(cold[i].cost_attempts(), 2);
    EXPECT_EQ(warm[i].cost_attempts(), cold[i].cost_attempts());
    EXPECT_EQ(warm[i].cost_seconds(), cold[i].cost_seconds());
    EXPECT_TRUE(reasoning::score_answer(reasoning::generate_problem(7, i), warm[i].text()).optimal) << warm[i].text();
  }
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Faults, CacheUnderEveryFault,
                         ::testing::Values(FaultCase{"500", Failure::kHttp}, FaultCase{"429", Failure::kHttp},
                                           FaultCase{"malformed", Failure::kMalformed},
                                           FaultCase{"drop", Failure::kConnection}, FaultCase{"slow", Failure::kTimeout}),
                         [](const auto& info) { return "fault_" + info.param.fault; });

TEST(LlmClient, GivesUpAfterTheBudgetAndRecordsTheFailure) {
  ScriptedServer server({"--fault", "500", "--fault-first", "100"});
  BackendOptions o = options_for(server);
  o.retry.max_attempts = 3;
  auto backend = make_backend("retry,openai", o);
  const std::vector<ChatReply> replies = backend->complete({shortest_path_request(0)});
  EXPECT_FALSE(replies[0].ok);
  EXPECT_EQ(replies[0].attempts, 3);
  EXPECT_EQ(replies[0].http_status, 500);
  EXPECT_EQ(backend->stats().failed_replies, 1);
  EXPECT_EQ(server.chat_calls(), 3);
}

TEST(LlmClient, ClientErrorsAreNotRetriedAndATruncatedReplyIsMarked) {
  ScriptedServer server({"--fault", "truncated", "--fault-first", "1"});
  auto backend = make_backend("retry,openai", options_for(server));
  ChatRequest bad = shortest_path_request(0);
  bad.messages.clear();  // the server answers 400
  const std::vector<ChatReply> replies = backend->complete({bad, shortest_path_request(1)});
  EXPECT_FALSE(replies[0].ok);
  EXPECT_EQ(replies[0].http_status, 400);
  EXPECT_EQ(replies[0].attempts, 1);
  // A reply cut short by max_tokens is a valid reply: the caller sees finish_reason and fails the step.
  ASSERT_TRUE(replies[1].ok);
  EXPECT_EQ(replies[1].finish_reason, "length");
  EXPECT_FALSE(reasoning::score_answer(reasoning::generate_problem(7, 1), replies[1].text()).feasible);
}

TEST(LlmClient, AServerThatIsDownIsAConnectionFailureAfterRetries) {
  int port = 0;
  { ScriptedServer gone({}); port = gone.port(); }  // a port nothing listens on any more
  BackendOptions o;
  o.openai.base_url = "http://127.0.0.1:" + std::to_string(port) + "/v1/";
  o.retry.max_attempts = 2;
  o.retry.initial_backoff_s = 0.01;
  auto backend = make_backend("retry,openai", o);
  const std::vector<ChatReply> replies = backend->complete({shortest_path_request(0)});
  EXPECT_FALSE(replies[0].ok);
  EXPECT_EQ(replies[0].failure, Failure::kConnection);
  EXPECT_EQ(replies[0].attempts, 2);
}

TEST(LlmCache, AWarmRerunMakesNoHttpCallAndGivesTheSameReplies) {
  ScriptedServer server({"--mode", "noisy", "--error-rate", "0.3"});
  const std::string dir = fresh_dir("warm");
  std::vector<ChatRequest> requests;
  for (uint64_t i = 0; i < 8; ++i) requests.push_back(shortest_path_request(i, static_cast<int64_t>(i % 2)));
  requests.push_back(requests[0]);  // a duplicate in the batch goes to the server once
  std::vector<ChatReply> cold = make_backend("cache,retry,openai", options_for(server, dir))->complete(requests);
  EXPECT_EQ(server.chat_calls(), 8);
  auto warm_backend = make_backend("cache,retry,openai", options_for(server, dir));
  std::vector<ChatReply> warm = warm_backend->complete(requests);
  EXPECT_EQ(server.chat_calls(), 8);  // nothing new
  for (size_t i = 0; i < requests.size(); ++i) {
    EXPECT_EQ(cold[i].text(), warm[i].text());
    EXPECT_EQ(cold[i].prompt_tokens, warm[i].prompt_tokens);
    EXPECT_TRUE(warm[i].cached);
    EXPECT_EQ(warm[i].attempts, 0);
    EXPECT_EQ(warm[i].cost_attempts(), 1);
    EXPECT_EQ(warm[i].cost_seconds(), cold[i].cost_seconds());
  }
  EXPECT_EQ(cold.back().attempts, 0);  // the duplicate: free in this run, but it reports the first copy's cost
  EXPECT_EQ(cold.back().cost_attempts(), 1);
  EXPECT_EQ(cold.back().cost_seconds(), cold[0].cost_seconds());
  EXPECT_EQ(warm_backend->stats().cache_hits, 9);
  EXPECT_EQ(warm_backend->stats().http_calls, 0);
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << "a temporary file was left: " << e.path();
  std::filesystem::remove_all(dir);
}

TEST(LlmCache, KeysOnEveryFieldAndNeverServesATornOrForeignEntry) {
  ScriptedServer server({"--mode", "oracle"});
  const std::string dir = fresh_dir("keys");
  BackendOptions o = options_for(server, dir);
  CacheBackend cache(dir, make_backend("openai", o));
  ChatRequest a = shortest_path_request(0);
  ChatRequest b = a;
  b.sample = 1;
  ChatRequest c = a;
  c.temperature = 0.7;
  ChatRequest d = a;
  d.model = "other";
  EXPECT_NE(cache.path_of(a), cache.path_of(b));
  EXPECT_NE(cache.path_of(a), cache.path_of(c));
  EXPECT_NE(cache.path_of(a), cache.path_of(d));
  cache.complete({a});
  EXPECT_EQ(server.chat_calls(), 1);
  // A kill mid-write cannot leave this (entries are linked into place), but a torn file must still be a miss.
  { std::ofstream(cache.path_of(a), std::ios::trunc) << "{\"request\": \"trunc"; }
  const std::vector<ChatReply> again = cache.complete({a});
  EXPECT_TRUE(again[0].ok);
  EXPECT_FALSE(again[0].cached);
  EXPECT_EQ(server.chat_calls(), 2);
  // Two clients (two ranks) over one directory share entries.
  CacheBackend other(dir, make_backend("openai", o));
  EXPECT_TRUE(other.complete({a})[0].cached);
  EXPECT_EQ(server.chat_calls(), 2);
  std::filesystem::remove_all(dir);
}

// A rank whose question another rank (another process) answered at the same moment: before its own reply
// arrives, the rival's entry lands in the shared directory. The rival is a cache over a directory of its
// own whose entry is then linked into ours, as another process's would be.
class LosesTheRace final : public ChatBackend {
 public:
  LosesTheRace(CacheBackend& rival, std::string shared_dir) : rival_(rival), shared_dir_(std::move(shared_dir)) {}
  std::vector<ChatReply> complete(const std::vector<ChatRequest>& requests, const ReplySink& on_reply) override {
    rival_.complete(requests);
    for (const ChatRequest& r : requests) {
      const std::filesystem::path from = rival_.path_of(r);
      const std::filesystem::path to = std::filesystem::path(shared_dir_) / from.parent_path().filename() / from.filename();
      std::filesystem::create_directories(to.parent_path());
      std::filesystem::copy_file(from, to);
    }
    std::vector<ChatReply> replies(requests.size());
    for (ChatReply& r : replies) {
      r.ok = true;
      r.choices = {"a different answer"};
      r.attempts = 1;
      r.seconds = 9.0;
    }
    for (size_t i = 0; i < replies.size(); ++i) on_reply(i, replies[i]);
    return replies;
  }
  void add_stats(Stats&) const override {}
  std::string describe() const override { return "loses-the-race"; }

 private:
  CacheBackend& rival_;
  std::string shared_dir_;
};

TEST(LlmCache, TheFirstWriterWinsAndTheLaterOneAnswersWithTheEntry) {
  ScriptedServer server({"--mode", "oracle"});
  const std::string dir = fresh_dir("race"), rival_dir = fresh_dir("race_rival");
  CacheBackend rival(rival_dir, make_backend("openai", options_for(server)));
  CacheBackend late(dir, std::make_unique<LosesTheRace>(rival, dir));
  const ChatRequest a = shortest_path_request(0);
  const ChatReply lost = late.complete({a})[0];
  CacheBackend later(dir, make_backend("openai", options_for(server)));
  const ChatReply replayed = later.complete({a})[0];  // what every later run will see
  ASSERT_TRUE(replayed.cached);
  EXPECT_EQ(server.chat_calls(), 1);
  EXPECT_EQ(lost.text(), replayed.text());  // not "a different answer": the record agrees with the cache
  EXPECT_EQ(lost.attempts, 1);              // this run did pay for its copy...
  EXPECT_EQ(lost.cost_attempts(), replayed.cost_attempts());  // ...but records what the entry cost
  EXPECT_EQ(lost.cost_seconds(), replayed.cost_seconds());
  EXPECT_NE(lost.cost_seconds(), 9.0);
  EXPECT_EQ(late.stats().cache_writes, 0);
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << "a temporary file was left: " << e.path();
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(rival_dir);
}

// Two threads of one process (two items a rank works on at once) asking the same question together: one
// HTTP call; the other waits for its answer.
TEST(LlmCache, ThreadsOfOneProcessAskTheServerOnce) {
  ScriptedServer server({"--mode", "oracle", "--delay-ms", "200"});
  const std::string dir = fresh_dir("threads");
  const ChatRequest a = shortest_path_request(3);
  std::vector<ChatReply> replies(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < replies.size(); ++t)
    threads.emplace_back([&, t] { replies[t] = make_backend("cache,retry,openai", options_for(server, dir))->complete({a})[0]; });
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(server.chat_calls(), 1);
  int64_t paid = 0;
  for (const ChatReply& r : replies) {
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.text(), replies[0].text());
    EXPECT_EQ(r.cost_attempts(), 1);
    paid += r.attempts;
  }
  EXPECT_EQ(paid, 1);
  std::filesystem::remove_all(dir);
}

TEST(LlmCache, FailedRepliesAreNotCached) {
  ScriptedServer server({"--fault", "500", "--fault-first", "1"});
  const std::string dir = fresh_dir("failed");
  BackendOptions o = options_for(server, dir);
  EXPECT_FALSE(make_backend("cache,openai", o)->complete({shortest_path_request(0)})[0].ok);
  const std::vector<ChatReply> second = make_backend("cache,openai", o)->complete({shortest_path_request(0)});
  EXPECT_TRUE(second[0].ok);
  EXPECT_FALSE(second[0].cached);
  std::filesystem::remove_all(dir);
}

TEST(LlmClient, AMissingApiKeyIsAnErrorBeforeAnyCall) {
  ScriptedServer server({});
  BackendOptions o = options_for(server);
  o.openai.api_key_env = "RELFM_TEST_KEY_THAT_IS_NOT_SET";
  ::unsetenv("RELFM_TEST_KEY_THAT_IS_NOT_SET");
  try {
    make_backend("retry,openai", o);
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("RELFM_TEST_KEY_THAT_IS_NOT_SET"), std::string::npos) << e.what();
  }
  EXPECT_EQ(server.chat_calls(), 0);
  ::setenv("RELFM_TEST_KEY_THAT_IS_NOT_SET", "sk-secret-value", 1);
  auto backend = make_backend("retry,openai", o);
  EXPECT_TRUE(backend->complete({shortest_path_request(0)})[0].ok);
  EXPECT_EQ(backend->describe().find("sk-secret-value"), std::string::npos);
  ::unsetenv("RELFM_TEST_KEY_THAT_IS_NOT_SET");
}

TEST(LlmBackends, TheKeyNamesItsLayersAndEndsInTheTransport) {
  BackendOptions o;
  o.openai.base_url = "http://127.0.0.1:9";
  o.cache_dir = fresh_dir("key");
  EXPECT_EQ(make_backend("cache, retry, openai", o)->describe().substr(0, 6), "cache(");
  EXPECT_THROW(make_backend("retry", o), InputError);
  EXPECT_THROW(make_backend("cache,retyr,openai", o), InputError);
  try {
    make_backend("openai,retry", o, "tp.toml: llm.backend");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("tp.toml: llm.backend"), std::string::npos);
  }
  std::filesystem::remove_all(o.cache_dir);
}

// A layer below the one under test, in-process: call c (0-based) answers request k with answer(c, k),
// reporting each reply to the sink in order and telling `event` what it does, so a test can see what the
// layer above did between two replies of one batch.
class ScriptedLayer final : public ChatBackend {
 public:
  using Answer = std::function<bool(size_t call, size_t k)>;  // true = a good reply, false = HTTP 503
  ScriptedLayer(Answer answer, std::function<void(const std::string&)> event, bool reports = true)
      : answer_(std::move(answer)), event_(std::move(event)), reports_(reports) {}
  std::vector<ChatReply> complete(const std::vector<ChatRequest>& requests, const ReplySink& on_reply) override {
    std::vector<ChatReply> replies(requests.size());
    for (size_t k = 0; k < requests.size(); ++k) {
      ChatReply& r = replies[k];
      r.attempts = 1;
      r.ok = answer_(calls_, k);
      if (r.ok) r.choices = {"answer to " + requests[k].messages.back().content};
      else r.failure = Failure::kHttp, r.http_status = 503, r.error = "HTTP 503";
      event_("call " + std::to_string(calls_) + " replies to " + requests[k].messages.back().content);
      if (reports_ && on_reply) on_reply(k, r);
    }
    ++calls_;
    return replies;
  }
  void add_stats(Stats&) const override {}
  std::string describe() const override { return "scripted-layer"; }

 private:
  Answer answer_;
  std::function<void(const std::string&)> event_;
  bool reports_;
  size_t calls_ = 0;
};

ChatRequest asking(const std::string& question) {
  ChatRequest r;
  r.model = "m";
  r.messages = {{"user", question}};
  return r;
}

// A killed run must pay again only for what was on the wire: a reply is passed up (and cached) the
// moment it is final, not when its batch's slowest or retried neighbour is.
TEST(LlmRetry, AGoodReplyIsPassedUpBeforeItsNeighbourIsRetried) {
  std::vector<std::string> events;
  const auto log = [&](const std::string& e) { events.push_back(e); };
  RetryOptions o;
  o.max_attempts = 3;
  RetryBackend retry(o, std::make_unique<ScriptedLayer>([](size_t call, size_t k) { return call > 0 || k == 0; }, log));
  retry.sleep = [&](double) { log("sleep"); };
  std::vector<size_t> reported;
  const std::vector<ChatReply> replies = retry.complete({asking("a"), asking("b")}, [&](size_t i, const ChatReply& r) {
    reported.push_back(i);
    log("final " + std::to_string(i) + " after " + std::to_string(r.attempts));
  });
  const std::vector<std::string> expected = {"call 0 replies to a", "final 0 after 1", "call 0 replies to b",
                                             "sleep", "call 1 replies to b", "final 1 after 2"};
  EXPECT_EQ(events, expected);
  EXPECT_EQ(reported, (std::vector<size_t>{0, 1}));
  ASSERT_TRUE(replies[0].ok && replies[1].ok);
  EXPECT_EQ(replies[1].attempts, 2);
  EXPECT_EQ(retry.stats().retries, 1);
}

TEST(LlmRetry, AReplyThatStaysAFailureIsPassedUpOnceAfterTheLastAttempt) {
  RetryOptions o;
  o.max_attempts = 3;
  RetryBackend retry(o, std::make_unique<ScriptedLayer>([](size_t, size_t k) { return k == 1; }, [](const std::string&) {}));
  retry.sleep = [](double) {};
  std::vector<std::pair<size_t, int64_t>> reported;
  const std::vector<ChatReply> replies =
      retry.complete({asking("a"), asking("b")}, [&](size_t i, const ChatReply& r) { reported.emplace_back(i, r.attempts); });
  EXPECT_EQ(reported, (std::vector<std::pair<size_t, int64_t>>{{1, 1}, {0, 3}}));
  EXPECT_FALSE(replies[0].ok);
  EXPECT_EQ(replies[0].attempts, 3);
  EXPECT_EQ(retry.stats().failed_replies, 1);
}

TEST(LlmCache, EachReplyIsStoredTheMomentItArrivesNotWhenTheBatchEnds) {
  const std::string dir = fresh_dir("stored_at_once");
  const ChatRequest a = asking("a"), b = asking("b");
  CacheBackend* cache = nullptr;
  std::vector<bool> a_stored_when;  // at each event of the layer below
  const auto watch = [&](const std::string&) { a_stored_when.push_back(std::filesystem::exists(cache->path_of(a))); };
  CacheBackend owner(dir, std::make_unique<ScriptedLayer>([](size_t, size_t) { return true; }, watch));
  cache = &owner;
  std::vector<size_t> reported;
  cache->complete({a, b}, [&](size_t i, const ChatReply& r) {
    EXPECT_TRUE(r.ok);
    reported.push_back(i);
  });
  // Before a's reply is reported it is not stored; when b's is made, a's is on disk.
  EXPECT_EQ(a_stored_when, (std::vector<bool>{false, true}));
  EXPECT_EQ(reported, (std::vector<size_t>{0, 1}));
  EXPECT_EQ(owner.stats().cache_writes, 2);
  std::filesystem::remove_all(dir);
}

TEST(LlmBackends, ALayerBelowThatDoesNotReportEveryReplyIsABug) {
  const std::string dir = fresh_dir("unreported");
  const auto silent = [] { return std::make_unique<ScriptedLayer>([](size_t, size_t) { return true; }, [](const std::string&) {}, false); };
  CacheBackend cache(dir, silent());
  EXPECT_THROW(cache.complete({asking("a")}), std::logic_error);
  RetryBackend retry(RetryOptions{}, silent());
  EXPECT_THROW(retry.complete({asking("a")}), std::logic_error);
  std::filesystem::remove_all(dir);
}

TEST(LlmRetry, BackoffIsExponentialWithEqualJitterAndCapped) {
  RetryOptions o;
  o.initial_backoff_s = 0.5;
  o.max_backoff_s = 3.0;
  EXPECT_DOUBLE_EQ(RetryBackend::backoff_s(o, 1, 0.0), 0.25);
  EXPECT_DOUBLE_EQ(RetryBackend::backoff_s(o, 1, 0.999999), 0.5 - 0.5 * 0.5 * 0.000001);
  EXPECT_DOUBLE_EQ(RetryBackend::backoff_s(o, 3, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(RetryBackend::backoff_s(o, 10, 0.0), 1.5);  // capped at max_backoff
}

}  // namespace
}  // namespace relfm::llm
