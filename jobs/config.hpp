// Job files: TOML with a fixed schema. Every key a job may set is declared once (type, default, allowed
// values, one line of documentation); the README's job-file reference is generated from the same table
// (`relfm config --reference`). An unknown key, a wrong type or a value outside its choices is an
// InputError naming the key, the file and the line.
//
// Numbers carry optional bounds (checked with the key and line named), and keys that make a checkpoint
// meaningless when changed say so (Resume::kBlocks), which is how a resume decides what must match.
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

enum class ValueKind { kBool, kInt, kReal, kString, kIntList, kRealList, kStringList, kTableList };

// How a key relates to resuming from a checkpoint written with another value of it.
enum class Resume {
  kFree,    // may change between runs (epochs, output, progress, debug aids)
  kBlocks,  // a different value makes the checkpoint meaningless: resume is refused, naming the key
  kExtends, // a list that may only grow at its end (train.seeds: more independent runs after the saved ones)
};

struct KeySpec {
  std::string key;            // "section.name"
  ValueKind kind;
  std::string default_value;  // TOML text; empty = required
  std::string doc;
  std::vector<std::string> choices = {};  // for strings and string lists; empty = any
  std::optional<double> min = {};         // inclusive bounds for numbers and number lists
  std::optional<double> max = {};
  Resume resume = Resume::kFree;
};

// One table of an array of tables (TOML `[[section.key]]`): field name -> scalar value.
using TableScalar = std::variant<bool, int64_t, double, std::string>;
using Table = std::map<std::string, TableScalar>;
using Value = std::variant<bool, int64_t, double, std::string, std::vector<int64_t>, std::vector<double>,
                           std::vector<std::string>, std::vector<Table>>;

class Schema {
 public:
  explicit Schema(std::vector<KeySpec> keys);
  // This schema's keys followed by `more` (a key declared twice is a programming error).
  Schema extended(const std::vector<KeySpec>& more) const;
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
  const std::vector<double>& get_real_list(const std::string& key) const;
  const std::vector<std::string>& get_string_list(const std::string& key) const;
  const std::vector<Table>& get_table_list(const std::string& key) const;
  // A key's effective value as TOML text (for messages and comparisons).
  std::string value_text(const std::string& key) const;
  const Schema& schema() const { return *schema_; }
  bool is_set(const std::string& key) const;  // given in the file or an override (not a default)

  // Every key with its effective value (defaults included), as a TOML document.
  std::string to_toml() const;

  // The keys marked Resume::kBlocks whose values differ between `saved` and this configuration, and the
  // Resume::kExtends lists whose saved value is not a prefix of this one, as "key = saved in <where>,
  // now now" lines (empty = resumable). Keys absent from `saved`'s schema count as differing.
  std::vector<std::string> resume_conflicts(const JobConfig& saved, const std::string& where = "the checkpoint") const;
  const std::string& source() const { return source_; }

 private:
  const Value& get(const std::string& key) const;
  std::string source_;
  std::map<std::string, Value> values_;
  std::map<std::string, bool> explicitly_set_;
  const Schema* schema_ = nullptr;
};

}  // namespace relfm::jobs
