#include "src/reasoning/prompts.hpp"

#include "src/core/error.hpp"
#include "src/core/rng.hpp"

#include <fmt/format.h>

#include <fstream>
#include <set>
#include <sstream>

namespace relfm::reasoning {

namespace {

bool identifier(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  return true;
}

// Walks a template: "{{" and "}}" are literal braces (a prompt that shows the model "{s}" writes "{{s}}"),
// "{name}" is a slot; `on_slot` returns its text, `out` (when given) receives the result.
template <typename OnSlot>
void walk(const std::string& text, OnSlot&& on_slot, std::string* out) {
  for (size_t i = 0; i < text.size();) {
    if (text.compare(i, 2, "{{") == 0 || text.compare(i, 2, "}}") == 0) {
      if (out) *out += text[i];
      i += 2;
      continue;
    }
    if (text[i] == '{') {
      const size_t end = text.find('}', i);
      if (end != std::string::npos && identifier(text.substr(i + 1, end - i - 1))) {
        const std::string v = on_slot(text.substr(i + 1, end - i - 1));
        if (out) *out += v;
        i = end + 1;
        continue;
      }
    }
    if (out) *out += text[i];
    ++i;
  }
}

std::set<std::string> slots_of(const std::string& text) {
  std::set<std::string> out;
  walk(text, [&](const std::string& name) { out.insert(name); return std::string(); }, nullptr);
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
  walk(text, [&](const std::string& slot) { return values.at(slot); }, &out);
  return out;
}

std::string PromptSet::fingerprint() const {
  uint64_t h = 0;
  for (const auto& [name, text] : templates_) h = mix64(h ^ hash_string(name) ^ mix64(hash_string(text)));
  return fmt::format("{:016x}", h);
}

}  // namespace relfm::reasoning
