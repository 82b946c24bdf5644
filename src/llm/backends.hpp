// Builds a backend stack from a string key, faiss-style: layers separated by commas, outermost first,
// ending in a transport. "cache,retry,openai" = the cache in front of the retry loop in front of the
// HTTP client; "retry,openai" pays for every call; "openai" is a single attempt per request.
#pragma once

#include "src/llm/cache_backend.hpp"
#include "src/llm/openai_backend.hpp"
#include "src/llm/retry_backend.hpp"

#include <memory>
#include <string>
#include <vector>

namespace relfm::llm {

struct BackendOptions {
  OpenAiOptions openai;
  RetryOptions retry;
  std::string cache_dir;
};

// The layer names a key may use, for error messages and the job-file reference.
const std::vector<std::string>& layer_names();
// An InputError naming `what` (e.g. "tp.toml: llm.backend") when the key is malformed.
std::unique_ptr<ChatBackend> make_backend(const std::string& key, const BackendOptions& options,
                                          const std::string& what = "llm.backend");

}  // namespace relfm::llm
