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

namespace {

// The sequences of a TSV file: row(line, lines, set) for every line except a first line that
// is_header(line, lines) recognises; an error if none was added.
template <typename Header, typename Row>
SequenceSet read_tsv_sequences(const std::string& path, Header&& is_header, Row&& row) {
  const std::string text = read_text_file(path);
  text_lines::Lines lines(text, path);
  SequenceSet set;
  std::string_view line;
  for (bool first = true; lines.next(line); first = false)
    if (!(first && is_header(line, lines))) row(line, lines, set);
  if (set.size() == 0) fail_input("{}: no sequences", path);
  return set;
}

}  // namespace

SequenceSet read_listops_tsv(const std::string& path, int64_t max_length, bool truncate) {
  std::vector<int32_t> tokens;
  return read_tsv_sequences(
      path, [](std::string_view line, const text_lines::Lines&) { return text_lines::trim(line).substr(0, 6) == "Source"; },
      [&](std::string_view line, const text_lines::Lines& lines, SequenceSet& set) {
        const size_t tab = line.rfind('\t');
        if (tab == std::string_view::npos) lines.fail("no tab between the expression and its value");
        const std::string where = fmt::format("{}, line {}", path, lines.line());
        tokens = listops::tokenize(line.substr(0, tab), where);
        const int32_t label = parse_label(line.substr(tab + 1), lines, "the value");
        if (label > 9) lines.fail("the value {} is not a digit", label);
        if (!tokens.empty() && listops::evaluate(tokens, where) != label)
          lines.fail("the expression's value is {}, the file says {}", listops::evaluate(tokens, where), label);
        add_checked(set, tokens, label, max_length, truncate, lines);
      });
}

SequenceSet read_text_tsv(const std::string& path, int64_t max_length, bool truncate) {
  auto label_tab = [](std::string_view line, const text_lines::Lines& lines) {
    const size_t tab = line.find('\t');
    if (tab == std::string_view::npos) lines.fail("no label: expected 'label<TAB>text'");
    return tab;
  };
  std::vector<int32_t> tokens;
  return read_tsv_sequences(
      path, [&](std::string_view line, const text_lines::Lines& lines) { return text_lines::trim(line.substr(0, label_tab(line, lines))) == "label"; },
      [&](std::string_view line, const text_lines::Lines& lines, SequenceSet& set) {
        const size_t tab = label_tab(line, lines);
        const int32_t label = parse_label(line.substr(0, tab), lines, "the label");
        tokens.clear();
        for (char c : line.substr(tab + 1)) tokens.push_back(static_cast<int32_t>(static_cast<unsigned char>(c)) + 1);
        add_checked(set, tokens, label, max_length, truncate, lines);
      });
}

}  // namespace relfm
