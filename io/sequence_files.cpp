#include "io/sequence_files.hpp"

#include "io/csv.hpp"
#include "io/text_lines.hpp"
#include "src/seq/listops.hpp"

#include <charconv>

namespace relfm {
namespace {

int32_t parse_label(std::string_view field, const text_lines::Lines& lines, const char* what) {
  field = text_lines::trim(field);
  int32_t v = -1;
  const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), v);
  if (ec != std::errc() || end != field.data() + field.size() || v < 0)
    lines.fail("{} '{}' is not a non-negative integer", what, field);
  return v;
}

void add_checked(SequenceSet& set, std::vector<int32_t>& tokens, int32_t label, int64_t max_length, bool truncate,
                 const text_lines::Lines& lines) {
  if (tokens.empty()) lines.fail("the sequence is empty");
  if (static_cast<int64_t>(tokens.size()) > max_length) {
    if (!truncate) lines.fail("{} tokens, more than the maximum length {} (ask for truncation to cut it)", tokens.size(), max_length);
    tokens.resize(static_cast<size_t>(max_length));
  }
  set.add(tokens, label);
}

}  // namespace

SequenceSet read_listops_tsv(const std::string& path, int64_t max_length, bool truncate) {
  const std::string text = read_text_file(path);
  text_lines::Lines lines(text, path);
  SequenceSet set;
  std::string_view line;
  std::vector<int32_t> tokens;
  bool first = true;
  while (lines.next(line)) {
    if (first && text_lines::trim(line).substr(0, 6) == "Source") {
      first = false;
      continue;
    }
    first = false;
    const size_t tab = line.rfind('\t');
    if (tab == std::string_view::npos) lines.fail("no tab between the expression and its value");
    const std::string where = fmt::format("{}, line {}", path, lines.line());
    tokens = listops::tokenize(line.substr(0, tab), where);
    const int32_t label = parse_label(line.substr(tab + 1), lines, "the value");
    if (label > 9) lines.fail("the value {} is not a digit", label);
    if (!tokens.empty() && listops::evaluate(tokens, where) != label)
      lines.fail("the expression's value is {}, the file says {}", listops::evaluate(tokens, where), label);
    add_checked(set, tokens, label, max_length, truncate, lines);
  }
  if (set.size() == 0) fail_input("{}: no sequences", path);
  return set;
}

SequenceSet read_text_tsv(const std::string& path, int64_t max_length, bool truncate) {
  const std::string text = read_text_file(path);
  text_lines::Lines lines(text, path);
  SequenceSet set;
  std::string_view line;
  std::vector<int32_t> tokens;
  bool first = true;
  while (lines.next(line)) {
    const size_t tab = line.find('\t');
    if (tab == std::string_view::npos) lines.fail("no label: expected 'label<TAB>text'");
    if (first && text_lines::trim(line.substr(0, tab)) == "label") {
      first = false;
      continue;
    }
    first = false;
    const int32_t label = parse_label(line.substr(0, tab), lines, "the label");
    tokens.clear();
    for (char c : line.substr(tab + 1)) tokens.push_back(static_cast<int32_t>(static_cast<unsigned char>(c)) + 1);
    add_checked(set, tokens, label, max_length, truncate, lines);
  }
  if (set.size() == 0) fail_input("{}: no sequences", path);
  return set;
}

}  // namespace relfm
