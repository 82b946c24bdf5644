// Job files: TOML with a fixed schema. Every key a job may set is declared once (type, default, allowed
// values, one line of documentation); the README's job-file reference is generated from the same table
// (`relfm config --reference`). An unknown key, a wrong type or a value outside its choices is an
// InputError naming the key, the file and the line.
//
// Overrides from the command line (`--set train.lr=3e-4`) use TOML value syntax; a value that is not
// valid TOML is taken as a bare string, so `--set output.dir=runs/x` needs no quotes.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace relfm::jobs {

enum class ValueKind { kBool, kInt, kReal, kString, kIntList };

struct KeySpec {
  std::string key;            // "section.name"
  ValueKind kind;
  std::string default_value;  // TOML text; empty = required
  std::string doc;
  std::vector<std::string> choices;  // for strings; empty = any
};

using Value = std::variant<bool, int64_t, double, std::string, std::vector<int64_t>>;

class Schema {
 public:
  explicit Schema(std::vector<KeySpec> keys);
  const KeySpec* find(const std::string& key) const;
  const std::vector<KeySpec>& keys() const { return keys_; }
  // The closest known key by edit distance, for "did you mean" hints.
  std::string closest(const std::string& key) const;
  // Markdown table: key, type, default, meaning.
  std::string reference_markdown() const;

 private:
  std::vector<KeySpec> keys_;
};

class JobConfig {
 public:
  // Reads and validates a job file, then applies overrides ("key=value").
  static JobConfig load(const std::string& path, const std::vector<std::string>& overrides, const Schema& schema);
  // The same from text; `source` names it in messages.
  static JobConfig parse(const std::string& text, const std::string& source, const std::vector<std::string>& overrides,
                         const Schema& schema);

  bool get_bool(const std::string& key) const;
  int64_t get_int(const std::string& key) const;
  double get_real(const std::string& key) const;
  const std::string& get_string(const std::string& key) const;
  const std::vector<int64_t>& get_int_list(const std::string& key) const;
  bool is_set(const std::string& key) const;  // given in the file or an override (not a default)

  // Every key with its effective value (defaults included), as a TOML document.
  std::string to_toml() const;
  const std::string& source() const { return source_; }

 private:
  const Value& get(const std::string& key) const;
  std::string source_;
  std::map<std::string, Value> values_;
  std::map<std::string, bool> explicitly_set_;
  const Schema* schema_ = nullptr;
};

}  // namespace relfm::jobs
