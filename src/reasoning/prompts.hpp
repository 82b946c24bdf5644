// Prompt templates as editable text files (jobs/tp_prompts/*.txt): `{name}` is a slot filled at run time.
// A template is read once; a slot the caller does not fill, or a value for a slot the template lacks,
// is an InputError naming the file, so an edited template cannot silently drop the problem.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace relfm::reasoning {

class PromptSet {
 public:
  // Reads <dir>/<name>.txt for every name (an InputError naming a missing or unreadable file).
  PromptSet(const std::string& dir, const std::vector<std::string>& names);
  PromptSet() = default;
  std::string render(const std::string& name, const std::map<std::string, std::string>& values) const;
  bool has(const std::string& name) const { return templates_.count(name) > 0; }
  // A content hash of every template, recorded in results so that edited prompts are visible.
  std::string fingerprint() const;

 private:
  std::map<std::string, std::string> templates_, paths_;
};

}  // namespace relfm::reasoning
