#include "src/llm/backends.hpp"

#include "src/core/error.hpp"

#include <sstream>

namespace relfm::llm {

const std::vector<std::string>& layer_names() {
  static const std::vector<std::string> names = {"cache", "retry", "openai"};
  return names;
}

std::unique_ptr<ChatBackend> make_backend(const std::string& key, const BackendOptions& options, const std::string& what) {
  std::vector<std::string> layers;
  std::stringstream in(key);
  for (std::string part; std::getline(in, part, ',');) {
    const size_t a = part.find_first_not_of(" \t"), b = part.find_last_not_of(" \t");
    layers.push_back(a == std::string::npos ? "" : part.substr(a, b - a + 1));
  }
  if (layers.empty() || layers.back() != "openai")
    fail_input("{} = '{}': the last layer must be the transport 'openai' (e.g. 'cache,retry,openai')", what, key);
  std::unique_ptr<ChatBackend> stack = std::make_unique<OpenAiBackend>(options.openai);
  for (size_t k = layers.size() - 1; k-- > 0;) {
    if (layers[k] == "retry") stack = std::make_unique<RetryBackend>(options.retry, std::move(stack));
    else if (layers[k] == "cache") stack = std::make_unique<CacheBackend>(options.cache_dir, std::move(stack));
    else fail_input("{} = '{}': unknown layer '{}' (layers: cache, retry, openai)", what, key, layers[k]);
  }
  return stack;
}

}  // namespace relfm::llm
