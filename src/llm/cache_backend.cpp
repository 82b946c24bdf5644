#include "src/llm/cache_backend.hpp"

#include "src/core/error.hpp"

#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_map>

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

CacheBackend::CacheBackend(std::string dir, std::unique_ptr<ChatBackend> inner) : dir_(std::move(dir)), inner_(std::move(inner)) {
  if (dir_.empty()) fail_input("llm: the cache layer needs a directory (llm.cache_dir)");
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) fail_input("llm: cannot create the cache directory '{}': {}", dir_, ec.message());
}

std::string CacheBackend::path_of(const ChatRequest& request) const {
  const std::string h = sha256_hex(canonical_request(request));
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
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;  // an entry of another layout: ask the server again and overwrite it
  }
  reply.ok = true;
  reply.cached = true;
  reply.http_status = 200;
  return reply;
}

void CacheBackend::store(const std::string& path, const std::string& canonical, const ChatReply& reply) {
  nlohmann::json j;
  j["request"] = canonical;
  j["reply"] = {{"choices", reply.choices},
                {"finish_reason", reply.finish_reason},
                {"prompt_tokens", reply.prompt_tokens},
                {"completion_tokens", reply.completion_tokens}};
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  const std::string temp = path + ".tmp." + host + "." + std::to_string(::getpid()) + "." + std::to_string(temp_counter_++);
  {
    std::ofstream out(temp, std::ios::binary);
    out << j.dump();
    // No fsync: a killed process loses nothing that reached the page cache, and after a power cut a lost
    // entry only costs one call again; the durable record of finished work is the item journal.
    if (!out) fail_input("llm: cannot write the cache entry '{}' (disk full?)", temp);
  }
  std::filesystem::rename(temp, path, ec);
  if (ec) fail_input("llm: cannot move the cache entry into place at '{}': {}", path, ec.message());
  ++writes_;
}

std::vector<ChatReply> CacheBackend::complete(const std::vector<ChatRequest>& requests) {
  std::vector<ChatReply> replies(requests.size());
  std::vector<std::string> canonical(requests.size()), paths(requests.size());
  // Identical requests within one batch go to the server once.
  std::unordered_map<std::string, size_t> first_miss;
  std::vector<size_t> miss_index;     // request index of each distinct miss
  std::vector<size_t> duplicate_of(requests.size(), SIZE_MAX);
  for (size_t i = 0; i < requests.size(); ++i) {
    canonical[i] = canonical_request(requests[i]);
    const std::string h = sha256_hex(canonical[i]);
    paths[i] = dir_ + "/" + h.substr(0, 2) + "/" + h + ".json";
    if (auto it = first_miss.find(canonical[i]); it != first_miss.end()) {
      duplicate_of[i] = it->second;
      continue;
    }
    if (std::optional<ChatReply> hit = load(paths[i], canonical[i])) {
      replies[i] = std::move(*hit);
      ++hits_;
      continue;
    }
    ++misses_;
    first_miss.emplace(canonical[i], i);
    miss_index.push_back(i);
  }
  if (!miss_index.empty()) {
    std::vector<ChatRequest> subset;
    for (size_t i : miss_index) subset.push_back(requests[i]);
    std::vector<ChatReply> fresh = inner_->complete(subset);
    for (size_t k = 0; k < miss_index.size(); ++k) {
      const size_t i = miss_index[k];
      if (fresh[k].ok) store(paths[i], canonical[i], fresh[k]);
      replies[i] = std::move(fresh[k]);
    }
  }
  for (size_t i = 0; i < requests.size(); ++i)
    if (duplicate_of[i] != SIZE_MAX) {
      replies[i] = replies[duplicate_of[i]];
      replies[i].attempts = 0;  // paid for once, by the first copy
      replies[i].cached = replies[i].ok;
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
