#include "src/reasoning/prompts.hpp"

#include "src/core/error.hpp"
#include "src/core/rng.hpp"

#include <fmt/format.h>

#include <fstream>
#include <set>
#include <sstream>

namespace relfm::reasoning {

namespace {

// The slot names of a template: {identifier} with letters, digits and underscores.
std::set<std::string> slots_of(const std::string& text) {
  std::set<std::string> out;
  for (size_t at = text.find('{'); at != std::string::npos; at = text.find('{', at + 1)) {
    const size_t end = text.find('}', at);
    if (end == std::string::npos) break;
    const std::string name = text.substr(at + 1, end - at - 1);
    bool ident = !name.empty();
    for (char c : name) ident = ident && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
    if (ident) out.insert(name);
  }
  return out;
}

}  // namespace

PromptSet::PromptSet(const std::string& dir, const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    const std::string path = dir + "/" + name + ".txt";
    std::ifstream in(path, std::ios::binary);
    if (!in) fail_input("cannot read the prompt template '{}' (tp.prompts_dir = '{}')", path, dir);
    std::stringstream text;
    text << in.rdbuf();
    templates_[name] = text.str();
    paths_[name] = path;
  }
}

std::string PromptSet::render(const std::string& name, const std::map<std::string, std::string>& values) const {
  const auto it = templates_.find(name);
  RELFM_CHECK(it != templates_.end(), "prompt template '{}' was not loaded", name);
  const std::string& text = it->second;
  const std::set<std::string> slots = slots_of(text);
  for (const std::string& slot : slots) {
    if (values.count(slot)) continue;
    std::string known;
    for (const auto& [k, v] : values) known += (known.empty() ? "" : ", ") + k;
    fail_input("{}: slot {{{}}} has no value here (slots this prompt fills: {})", paths_.at(name), slot, known);
  }
  for (const auto& [k, v] : values)
    if (!slots.count(k)) fail_input("{}: the template lost its {{{}}} slot; the problem would not reach the model", paths_.at(name), k);
  std::string out;
  out.reserve(text.size() + 1024);
  size_t pos = 0;
  for (size_t at = text.find('{'); at != std::string::npos; at = text.find('{', pos)) {
    const size_t end = text.find('}', at);
    if (end == std::string::npos) break;
    const auto v = values.find(text.substr(at + 1, end - at - 1));
    if (v == values.end()) {  // a brace that is not a slot: copy it
      out.append(text, pos, at + 1 - pos);
      pos = at + 1;
      continue;
    }
    out.append(text, pos, at - pos);
    out += v->second;
    pos = end + 1;
  }
  out.append(text, pos, std::string::npos);
  return out;
}

std::string PromptSet::fingerprint() const {
  uint64_t h = 0;
  for (const auto& [name, text] : templates_) h = mix64(h ^ hash_string(name) ^ mix64(hash_string(text)));
  return fmt::format("{:016x}", h);
}

}  // namespace relfm::reasoning
