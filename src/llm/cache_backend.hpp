// A response cache on disk: one file per successful reply, named by the SHA-256 of the canonical request
// (model, messages, sampling parameters, sample index), so an interrupted run resumes without paying for
// a call twice and a rerun over a warm cache makes no HTTP call at all.
//
// Layout: <dir>/<first two hex digits>/<64 hex digits>.json holding {"request": canonical text,
// "reply": {...}}. The stored request is compared on read, so a hash collision (or a hand-edited file)
// is a miss, not a wrong answer.
//
// The endpoint is not part of the key: ranks that talk to different servers of the same model (one per
// node) share entries. Serving two different models under one model name would mix their replies, so
// name models distinctly (llama-server -a, vLLM --served-model-name).
//
// Safe against a kill mid-write and shared by concurrent ranks (even on several nodes over a shared
// file system): a file is written under a name unique to (host, process, counter) and hard-linked into
// place, which is atomic, so a reader sees a whole entry or none. Two ranks that race on one key (both
// missed, both asked): the first link wins, and the later rank answers with the winner's entry, so what
// every rank recorded is what a rerun replays. An entry keeps what the call cost (HTTP attempts,
// seconds), and a hit reports it (ChatReply::cost_*). Failed replies are never cached; a reply
// cut short by max_tokens (finish_reason "length") is a valid reply and is, so a rerun sees it again.
#pragma once

#include "src/llm/chat.hpp"

#include <memory>
#include <optional>
#include <string>

namespace relfm::llm {

class CacheBackend final : public ChatBackend {
 public:
  CacheBackend(std::string dir, std::unique_ptr<ChatBackend> inner);
  using ChatBackend::complete;
  std::vector<ChatReply> complete(const std::vector<ChatRequest>& requests, const ReplySink& on_reply) override;
  void add_stats(Stats& stats) const override;
  std::string describe() const override;

  // The entry's path for a request (exposed for tests).
  std::string path_of(const ChatRequest& request) const { return path_of_canonical(canonical_request(request)); }

 private:
  std::string path_of_canonical(const std::string& canonical) const;
  std::optional<ChatReply> load(const std::string& path, const std::string& canonical) const;
  // Writes the entry unless another process wrote it first; then returns that entry, which is the
  // answer from now on (every later run replays it), so the caller answers with it too.
  std::optional<ChatReply> store(const std::string& path, const std::string& canonical, const ChatReply& reply);

  std::string dir_;
  std::unique_ptr<ChatBackend> inner_;
  int64_t hits_ = 0, misses_ = 0, writes_ = 0;
};

std::string sha256_hex(const std::string& text);

}  // namespace relfm::llm
