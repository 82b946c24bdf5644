#include "src/llm/cache_backend.hpp"

#include "src/core/error.hpp"

#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <condition_variable>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

namespace relfm::llm {

std::string sha256_hex(const std::string& text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), digest, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

namespace {
// Process-wide: several cache layers (one per item a rank works on at once) share the process id.
uint64_t next_temp_number() {
  static std::atomic<uint64_t> counter{0};
  return counter.fetch_add(1);
}
// The entries this process is fetching right now, shared by every cache layer in it.
struct Claims {
  std::mutex mutex;
  std::condition_variable released;
  std::unordered_set<std::string> taken;
};
Claims& claims() {
  static Claims c;
  return c;
}

// Claims held by one pass of complete(), each released when its reply is settled, the rest when the pass
// ends (also by an exception).
class ClaimGuard {
 public:
  ClaimGuard() = default;
  ClaimGuard(const ClaimGuard&) = delete;
  ClaimGuard& operator=(const ClaimGuard&) = delete;
  ~ClaimGuard() { release_all(); }
  bool try_claim(const std::string& path) {
    Claims& c = claims();
    std::lock_guard lock(c.mutex);
    if (!c.taken.insert(path).second) return false;
    held_.push_back(path);
    return true;
  }
  // One entry is settled (stored, or failed): a thread waiting for it goes on now.
  void release(const std::string& path) {
    Claims& c = claims();
    {
      std::lock_guard lock(c.mutex);
      c.taken.erase(path);
    }
    std::erase(held_, path);
    c.released.notify_all();
  }
  void release_all() {
    if (held_.empty()) return;
    Claims& c = claims();
    {
      std::lock_guard lock(c.mutex);
      for (const std::string& p : held_) c.taken.erase(p);
    }
    held_.clear();
    c.released.notify_all();
  }

 private:
  std::vector<std::string> held_;
};

void wait_until_unclaimed(const std::string& path) {
  Claims& c = claims();
  std::unique_lock lock(c.mutex);
  c.released.wait(lock, [&] { return c.taken.count(path) == 0; });
}

}  // namespace

CacheBackend::CacheBackend(std::string dir, std::unique_ptr<ChatBackend> inner) : dir_(std::move(dir)), inner_(std::move(inner)) {
  if (dir_.empty()) fail_input("llm: the cache layer needs a directory (llm.cache_dir)");
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) fail_input("llm: cannot create the cache directory '{}': {}", dir_, ec.message());
}

std::string CacheBackend::path_of_canonical(const std::string& canonical) const {
  const std::string h = sha256_hex(canonical);
  return dir_ + "/" + h.substr(0, 2) + "/" + h + ".json";
}

std::optional<ChatReply> CacheBackend::load(const std::string& path, const std::string& canonical) const {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  const nlohmann::json j = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || j.value("request", std::string()) != canonical || !j.contains("reply"))
    return std::nullopt;
  const nlohmann::json& r = j["reply"];
  ChatReply reply;
  try {
    reply.choices = r.at("choices").get<std::vector<std::string>>();
    reply.finish_reason = r.value("finish_reason", std::string());
    reply.prompt_tokens = r.value("prompt_tokens", int64_t{0});
    reply.completion_tokens = r.value("completion_tokens", int64_t{0});
    reply.origin_attempts = r.value("attempts", int64_t{0});
    reply.origin_seconds = r.value("seconds", 0.0);
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;  // an entry of another layout: ask the server again and overwrite it
  }
  reply.ok = true;
  reply.cached = true;
  reply.http_status = 200;
  return reply;
}

std::optional<ChatReply> CacheBackend::store(const std::string& path, const std::string& canonical, const ChatReply& reply) {
  nlohmann::json j;
  j["request"] = canonical;
  j["reply"] = {{"choices", reply.choices},
                {"finish_reason", reply.finish_reason},
                {"prompt_tokens", reply.prompt_tokens},
                {"completion_tokens", reply.completion_tokens},
                {"attempts", reply.attempts},
                {"seconds", reply.seconds}};
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  const std::string temp = path + ".tmp." + host + "." + std::to_string(::getpid()) + "." + std::to_string(next_temp_number());
  {
    std::ofstream out(temp, std::ios::binary);
    out << j.dump();
    // No fsync: a killed process loses nothing that reached the page cache, and after a power cut a lost
    // entry only costs one call again; the durable record of finished work is the item journal.
    if (!out) fail_input("llm: cannot write the cache entry '{}' (disk full?)", temp);
  }
  // link(), not rename(): the first writer wins. Two ranks that asked the same question at the same moment
  // (IO's solve is also TP's first call) must not leave a cache that disagrees with what one of them
  // recorded — a warm rerun replays the entry and must reproduce both records.
  const int linked = ::link(temp.c_str(), path.c_str());
  const int link_errno = errno;
  std::optional<ChatReply> first;
  if (linked != 0 && link_errno == EEXIST) first = load(path, canonical);
  if (linked != 0 && !first) {
    // Not there (a file system without hard links) or unreadable (another layout): replace it.
    std::filesystem::rename(temp, path, ec);
    if (ec) fail_input("llm: cannot move the cache entry into place at '{}': {}", path, ec.message());
  } else {
    std::filesystem::remove(temp, ec);
  }
  if (!first) ++writes_;
  return first;
}

std::vector<ChatReply> CacheBackend::complete(const std::vector<ChatRequest>& requests, const ReplySink& on_reply) {
  std::vector<ChatReply> replies(requests.size());
  std::vector<std::string> canonical(requests.size()), paths(requests.size());
  // Identical requests within one batch go to the server once.
  std::unordered_map<std::string, size_t> first_of;
  std::vector<size_t> pending;  // request index of each distinct request
  std::vector<size_t> duplicate_of(requests.size(), SIZE_MAX);
  for (size_t i = 0; i < requests.size(); ++i) {
    canonical[i] = canonical_request(requests[i]);
    paths[i] = path_of_canonical(canonical[i]);
    if (auto it = first_of.find(canonical[i]); it != first_of.end()) duplicate_of[i] = it->second;
    else {
      first_of.emplace(canonical[i], i);
      pending.push_back(i);
    }
  }
  // A miss that another thread of this process is asking the server for right now (another item with the
  // same first call) waits for that answer instead of paying for it again; if that ask fails, the next
  // pass asks itself.
  while (!pending.empty()) {
    std::vector<size_t> mine, waiting;
    ClaimGuard claimed;
    for (size_t i : pending) {
      if (std::optional<ChatReply> hit = load(paths[i], canonical[i])) {
        replies[i] = std::move(*hit);
        ++hits_;
        if (on_reply) on_reply(i, replies[i]);
      } else if (claimed.try_claim(paths[i])) {
        // Another thread may have stored it between our look and our claim.
        if (std::optional<ChatReply> late = load(paths[i], canonical[i])) {
          replies[i] = std::move(*late);
          ++hits_;
          if (on_reply) on_reply(i, replies[i]);
        } else {
          mine.push_back(i);
        }
      } else {
        waiting.push_back(i);
      }
    }
    misses_ += static_cast<int64_t>(mine.size());
    if (!mine.empty()) {
      std::vector<ChatRequest> subset;
      for (size_t i : mine) subset.push_back(requests[i]);
      // Each reply is stored the moment it arrives, not when the whole subset is done.
      size_t reported = 0;
      inner_->complete(subset, [&](size_t k, const ChatReply& fresh) {
        ++reported;
        const size_t i = mine[k];
        replies[i] = fresh;
        if (fresh.ok)
          if (std::optional<ChatReply> first = store(paths[i], canonical[i], fresh)) {
            first->attempts = fresh.attempts;  // this run still paid for its own copy
            first->seconds = fresh.seconds;
            replies[i] = std::move(*first);
          }
        claimed.release(paths[i]);
        if (on_reply) on_reply(i, replies[i]);
      });
      expect_every_reply_reported(*inner_, subset.size(), reported);
    }
    claimed.release_all();
    for (size_t i : waiting) wait_until_unclaimed(paths[i]);
    pending = std::move(waiting);
  }
  for (size_t i = 0; i < requests.size(); ++i)
    if (duplicate_of[i] != SIZE_MAX) {
      const ChatReply& first = replies[duplicate_of[i]];
      replies[i] = first;
      replies[i].attempts = 0;  // paid for once, by the first copy
      replies[i].cached = first.ok;
      hits_ += first.ok ? 1 : 0;  // served as if from the cache
      replies[i].origin_attempts = first.cost_attempts();
      replies[i].origin_seconds = first.cost_seconds();
      if (on_reply) on_reply(i, replies[i]);
    }
  return replies;
}

void CacheBackend::add_stats(Stats& s) const {
  s.cache_hits += hits_;
  s.cache_misses += misses_;
  s.cache_writes += writes_;
  inner_->add_stats(s);
}

std::string CacheBackend::describe() const { return "cache(" + dir_ + ") → " + inner_->describe(); }

}  // namespace relfm::llm
