#include "jobs/config.hpp"

#include "src/core/error.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace relfm::jobs {
namespace {

const char* kind_name(ValueKind kind) {
  switch (kind) {
    case ValueKind::kBool: return "a boolean (true/false)";
    case ValueKind::kInt: return "an integer";
    case ValueKind::kReal: return "a number";
    case ValueKind::kString: return "a string";
    case ValueKind::kIntList: return "a list of integers";
    case ValueKind::kRealList: return "a list of numbers";
    case ValueKind::kStringList: return "a list of strings";
    case ValueKind::kTableList: return "an array of tables ([[...]])";
  }
  return "?";
}

const char* type_label(ValueKind kind) {
  switch (kind) {
    case ValueKind::kBool: return "bool";
    case ValueKind::kInt: return "int";
    case ValueKind::kReal: return "real";
    case ValueKind::kString: return "string";
    case ValueKind::kIntList: return "int list";
    case ValueKind::kRealList: return "real list";
    case ValueKind::kStringList: return "string list";
    case ValueKind::kTableList: return "table array";
  }
  return "?";
}

const char* node_type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "a list";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a number";
    case toml::node_type::boolean: return "a boolean";
    default: return "a date/time";
  }
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string where(const std::string& source, const toml::node& node) {
  const auto& region = node.source();
  if (region.begin.line > 0) return fmt::format("{}, line {}", source, region.begin.line);
  return source;
}

// Converts a TOML node to the schema's kind, or explains why not.
Value convert(const KeySpec& spec, const toml::node& node, const std::string& origin) {
  auto wrong = [&]() -> Value {
    fail_input("{}: key '{}' must be {}, not {}", origin, spec.key, kind_name(spec.kind), node_type_name(node));
  };
  auto in_bounds = [&](double v) {
    if ((spec.min && v < *spec.min) || (spec.max && v > *spec.max)) {
      std::string range = spec.min && spec.max ? fmt::format("between {} and {}", *spec.min, *spec.max)
                          : spec.min           ? fmt::format("at least {}", *spec.min)
                                               : fmt::format("at most {}", *spec.max);
      fail_input("{}: key '{}' must be {}, not {}", origin, spec.key, range, v);
    }
  };
  auto chosen = [&](const std::string& s) {
    if (!spec.choices.empty() && std::find(spec.choices.begin(), spec.choices.end(), s) == spec.choices.end()) {
      std::string list;
      for (const auto& c : spec.choices) list += (list.empty() ? "" : ", ") + c;
      fail_input("{}: key '{}' must be one of {}, not '{}'", origin, spec.key, list, s);
    }
  };
  // A scalar where a list is expected is taken as a list of one.
  auto items = [&](auto&& each) -> bool {
    if (const toml::array* arr = node.as_array()) {
      for (const auto& item : *arr) each(item);
      return true;
    }
    if (node.is_table()) return false;
    each(node);
    return true;
  };
  switch (spec.kind) {
    case ValueKind::kBool:
      if (auto v = node.value<bool>(); v && node.is_boolean()) return *v;
      return wrong();
    case ValueKind::kInt:
      if (!node.is_integer()) return wrong();
      in_bounds(static_cast<double>(*node.value<int64_t>()));
      return *node.value<int64_t>();
    case ValueKind::kReal: {
      if (!node.is_integer() && !node.is_floating_point()) return wrong();
      const double v = node.is_integer() ? static_cast<double>(*node.value<int64_t>()) : *node.value<double>();
      in_bounds(v);
      return v;
    }
    case ValueKind::kString: {
      if (!node.is_string()) return wrong();
      std::string s = *node.value<std::string>();
      chosen(s);
      return s;
    }
    case ValueKind::kIntList: {
      std::vector<int64_t> out;
      if (!items([&](const toml::node& item) {
            if (!item.is_integer()) fail_input("{}: key '{}' must be a list of integers", origin, spec.key);
            in_bounds(static_cast<double>(*item.value<int64_t>()));
            out.push_back(*item.value<int64_t>());
          }))
        return wrong();
      return out;
    }
    case ValueKind::kRealList: {
      std::vector<double> out;
      if (!items([&](const toml::node& item) {
            if (!item.is_integer() && !item.is_floating_point())
              fail_input("{}: key '{}' must be a list of numbers", origin, spec.key);
            const double v = item.is_integer() ? static_cast<double>(*item.value<int64_t>()) : *item.value<double>();
            in_bounds(v);
            out.push_back(v);
          }))
        return wrong();
      return out;
    }
    case ValueKind::kStringList: {
      std::vector<std::string> out;
      if (!items([&](const toml::node& item) {
            if (!item.is_string()) fail_input("{}: key '{}' must be a list of strings", origin, spec.key);
            chosen(*item.value<std::string>());
            out.push_back(*item.value<std::string>());
          }))
        return wrong();
      return out;
    }
    case ValueKind::kTableList: {
      const toml::array* arr = node.as_array();
      if (!arr) return wrong();
      std::vector<Table> out;
      for (const auto& item : *arr) {
        const toml::table* t = item.as_table();
        if (!t) fail_input("{}: key '{}' must be an array of tables ([[{}]])", origin, spec.key, spec.key);
        Table row;
        for (const auto& [field, v] : *t) {
          const std::string name(field.str());
          if (v.is_boolean()) row[name] = *v.value<bool>();
          else if (v.is_integer()) row[name] = *v.value<int64_t>();
          else if (v.is_floating_point()) row[name] = *v.value<double>();
          else if (v.is_string()) row[name] = *v.value<std::string>();
          else fail_input("{}: field '{}' of '{}' must be a string, number or boolean", where(origin, v), name, spec.key);
        }
        out.push_back(std::move(row));
      }
      return out;
    }
  }
  return wrong();
}

// Flattens nested tables into dotted keys; calls visit(key, node) for every leaf.
template <typename Visit>
void flatten(const toml::table& table, const std::string& prefix, Visit&& visit) {
  for (const auto& [k, node] : table) {
    const std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    if (const toml::table* sub = node.as_table()) flatten(*sub, key, visit);
    else visit(key, node);
  }
}

toml::table parse_toml(const std::string& text, const std::string& source) {
  try {
    return toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    fail_input("{}, line {}, column {}: {}", source, e.source().begin.line, e.source().begin.column, e.description());
  }
}

std::string scalar_to_toml(bool x) { return x ? "true" : "false"; }
std::string scalar_to_toml(int64_t x) { return std::to_string(x); }
std::string scalar_to_toml(double x) {
  std::string s = fmt::format("{}", x);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}
std::string scalar_to_toml(const std::string& x) {
  std::ostringstream out;
  out << toml::value<std::string>(x);
  return out.str();
}
std::string scalar_to_toml(const Table& table) {
  std::string s = "{";
  bool first = true;
  for (const auto& [k, v] : table) {
    s += (first ? " " : ", ") + k + " = " + std::visit([](const auto& x) { return scalar_to_toml(x); }, v);
    first = false;
  }
  return s + " }";
}

std::string value_to_toml(const Value& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using X = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<X, bool> || std::is_same_v<X, int64_t> || std::is_same_v<X, double> ||
                      std::is_same_v<X, std::string>) {
          return scalar_to_toml(x);
        } else {
          std::string s = "[";
          for (size_t i = 0; i < x.size(); ++i) s += (i ? ", " : "") + scalar_to_toml(x[i]);
          return s + "]";
        }
      },
      v);
}

}  // namespace

Schema::Schema(std::vector<KeySpec> keys) : keys_(std::move(keys)) {
  for (size_t i = 0; i < keys_.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (keys_[i].key == keys_[j].key) fail("job schema: key '{}' declared twice", keys_[i].key);
}

Schema Schema::extended(const std::vector<KeySpec>& more) const {
  std::vector<KeySpec> all = keys_;
  all.insert(all.end(), more.begin(), more.end());
  return Schema(std::move(all));
}

const KeySpec* Schema::find(const std::string& key) const {
  for (const auto& k : keys_)
    if (k.key == key) return &k;
  return nullptr;
}

std::string Schema::closest(const std::string& key) const {
  std::string best;
  size_t best_d = std::string::npos;
  for (const auto& k : keys_) {
    const size_t d = edit_distance(key, k.key);
    if (d < best_d) {
      best_d = d;
      best = k.key;
    }
  }
  return best_d <= std::max<size_t>(3, key.size() / 3) ? best : std::string();
}

std::string Schema::reference_markdown() const {
  std::string out = "| key | type | default | meaning |\n|---|---|---|---|\n";
  for (const auto& k : keys_) {
    const std::string type = type_label(k.kind);
    std::string doc = k.doc;
    if (k.min && k.max) doc += fmt::format(" Range {} to {}.", *k.min, *k.max);
    else if (k.min) doc += fmt::format(" At least {}.", *k.min);
    else if (k.max) doc += fmt::format(" At most {}.", *k.max);
    if (!k.choices.empty()) {
      std::string list;
      for (const auto& c : k.choices) list += (list.empty() ? "" : ", ") + ("`" + c + "`");
      doc += " One of " + list + ".";
    }
    if (k.resume == Resume::kBlocks) doc += " Must match to resume.";
    if (k.resume == Resume::kExtends) doc += " May only grow at its end to resume (a finished job then runs the new entries).";
    out += fmt::format("| `{}` | {} | {} | {} |\n", k.key, type, k.default_value.empty() ? "(required)" : "`" + k.default_value + "`", doc);
  }
  return out;
}

JobConfig JobConfig::load(const std::string& path, const std::vector<std::string>& overrides, const Schema& schema) {
  std::ifstream in(path);
  if (!in) fail_input("cannot read job file '{}'", path);
  std::stringstream text;
  text << in.rdbuf();
  return parse(text.str(), path, overrides, schema);
}

JobConfig JobConfig::parse(const std::string& text, const std::string& source, const std::vector<std::string>& overrides,
                           const Schema& schema) {
  JobConfig config;
  config.source_ = source;
  config.schema_ = &schema;
  // Defaults first.
  for (const auto& spec : schema.keys()) {
    if (spec.default_value.empty()) continue;
    const toml::table t = parse_toml("v = " + spec.default_value, "schema default of " + spec.key);
    config.values_[spec.key] = convert(spec, *t.get("v"), "schema default");
  }
  // The file.
  const toml::table table = parse_toml(text, source);
  flatten(table, "", [&](const std::string& key, const toml::node& node) {
    const KeySpec* spec = schema.find(key);
    if (!spec) {
      const std::string hint = schema.closest(key);
      fail_input("{}: unknown key '{}'{}", where(source, node), key, hint.empty() ? "" : " (did you mean '" + hint + "'?)");
    }
    config.values_[key] = convert(*spec, node, where(source, node));
    config.explicitly_set_[key] = true;
  });
  // Overrides.
  for (const std::string& item : overrides) {
    const auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0) fail_input("--set '{}': expected key=value", item);
    const std::string key = item.substr(0, eq);
    const std::string raw = item.substr(eq + 1);
    const KeySpec* spec = schema.find(key);
    if (!spec) {
      const std::string hint = schema.closest(key);
      fail_input("--set {}: unknown key '{}'{}", item, key, hint.empty() ? "" : " (did you mean '" + hint + "'?)");
    }
    toml::table t;
    try {
      t = toml::parse("v = " + raw);
    } catch (const toml::parse_error&) {
      t = toml::table{{"v", raw}};  // a bare word is a string
    }
    if (spec->kind == ValueKind::kString && !t.get("v")->is_string()) t = toml::table{{"v", raw}};
    config.values_[key] = convert(*spec, *t.get("v"), "--set " + item);
    config.explicitly_set_[key] = true;
  }
  for (const auto& spec : schema.keys())
    if (!config.values_.count(spec.key)) fail_input("{}: required key '{}' is missing ({})", source, spec.key, spec.doc);
  return config;
}

const Value& JobConfig::get(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) fail("job config: no key '{}' in the schema", key);
  return it->second;
}

bool JobConfig::get_bool(const std::string& key) const { return std::get<bool>(get(key)); }
int64_t JobConfig::get_int(const std::string& key) const { return std::get<int64_t>(get(key)); }
double JobConfig::get_real(const std::string& key) const { return std::get<double>(get(key)); }
const std::string& JobConfig::get_string(const std::string& key) const { return std::get<std::string>(get(key)); }
const std::vector<int64_t>& JobConfig::get_int_list(const std::string& key) const {
  return std::get<std::vector<int64_t>>(get(key));
}
const std::vector<double>& JobConfig::get_real_list(const std::string& key) const {
  return std::get<std::vector<double>>(get(key));
}
const std::vector<std::string>& JobConfig::get_string_list(const std::string& key) const {
  return std::get<std::vector<std::string>>(get(key));
}
const std::vector<Table>& JobConfig::get_table_list(const std::string& key) const {
  return std::get<std::vector<Table>>(get(key));
}
std::string JobConfig::value_text(const std::string& key) const { return value_to_toml(get(key)); }

std::vector<std::string> JobConfig::resume_conflicts(const JobConfig& saved, const std::string& where) const {
  std::vector<std::string> out;
  for (const KeySpec& spec : schema_->keys()) {
    if (spec.resume == Resume::kFree) continue;
    const std::string now = value_text(spec.key);
    const std::string before = saved.values_.count(spec.key) ? saved.value_text(spec.key) : std::string("(absent)");
    if (now == before) continue;
    if (spec.resume == Resume::kExtends && saved.values_.count(spec.key) && spec.kind == ValueKind::kIntList) {
      const std::vector<int64_t>& a = saved.get_int_list(spec.key);
      const std::vector<int64_t>& b = get_int_list(spec.key);
      if (a.size() <= b.size() && std::equal(a.begin(), a.end(), b.begin())) continue;  // grown at its end
      out.push_back(fmt::format("{} = {} in {}, {} now (it may only grow at its end)", spec.key, before, where, now));
      continue;
    }
    out.push_back(fmt::format("{} = {} in {}, {} now", spec.key, before, where, now));
  }
  return out;
}

bool JobConfig::is_set(const std::string& key) const { return explicitly_set_.count(key) > 0; }

std::string JobConfig::to_toml() const {
  // Grouped by section in order of first appearance: a schema assembled from several parts may declare
  // keys of one section in more than one place, and TOML allows each table header once.
  std::vector<std::string> sections;
  for (const auto& spec : schema_->keys()) {
    const std::string sec = spec.key.substr(0, spec.key.find('.'));
    if (std::find(sections.begin(), sections.end(), sec) == sections.end()) sections.push_back(sec);
  }
  std::string out = fmt::format("# effective configuration of {}\n", source_);
  for (const std::string& sec : sections) {
    out += "\n[" + sec + "]\n";
    for (const auto& spec : schema_->keys()) {
      const auto dot = spec.key.find('.');
      if (spec.key.substr(0, dot) != sec) continue;
      out += fmt::format("{} = {}\n", spec.key.substr(dot + 1), value_to_toml(values_.at(spec.key)));
    }
  }
  return out;
}

}  // namespace relfm::jobs
