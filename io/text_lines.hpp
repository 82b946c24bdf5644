// Line-by-line parsing of text already in memory, for the TU readers (io/tu_files.cpp): views instead of
// a string per line (COLLAB is 84 MB of text), and errors that name the file and the 1-based line.
// Internal to io/.
#pragma once

#include "src/core/error.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace relfm::text_lines {

template <typename... Args>
[[noreturn]] void fail_line(const std::string& path, int64_t line, fmt::format_string<Args...> format, Args&&... args) {
  fail_input("{}, line {}: {}", path, line, fmt::format(format, std::forward<Args>(args)...));
}

inline bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

inline bool is_blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return is_blank(c) || c == '\n'; });
}

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

// The lines of a text in memory, as views (a COLLAB-sized file must not cost a string per line). Blank
// lines at the very end of a file are not lines; elsewhere they are, and their parser rejects them.
class Lines {
 public:
  Lines(std::string_view text, const std::string& path) : text_(text), path_(path) {
    if (text_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;  // UTF-8 byte-order mark
  }

  bool next(std::string_view& line) {
    if (pos_ >= text_.size()) return false;
    size_t end = text_.find('\n', pos_);
    if (end == std::string_view::npos) end = text_.size();
    line = text_.substr(pos_, end - pos_);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // CRLF
    if (trim(line).empty() && is_blank(text_.substr(end))) {
      pos_ = text_.size();
      return false;
    }
    pos_ = end + 1;
    ++line_;
    return true;
  }

  // 1-based number of the line next() returned last (0 before the first).
  int64_t line() const { return line_; }
  const std::string& path() const { return path_; }

  template <typename... Args>
  [[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) const {
    fail_line(path_, line_, format, std::forward<Args>(args)...);
  }

 private:
  std::string_view text_;
  const std::string& path_;
  size_t pos_ = 0;
  int64_t line_ = 0;
};

// Format A separates fields with commas and varying blanks, format B with blanks; `out` is reused.
inline void split_commas(std::string_view line, std::vector<std::string_view>& out) {
  out.clear();
  if (trim(line).empty()) return;
  for (size_t start = 0;;) {
    const size_t comma = line.find(',', start);
    out.push_back(trim(line.substr(start, comma == std::string_view::npos ? comma : comma - start)));
    if (comma == std::string_view::npos) return;
    start = comma + 1;
  }
}

inline void split_blanks(std::string_view line, std::vector<std::string_view>& out) {
  out.clear();
  for (size_t i = 0, n = line.size();;) {
    while (i < n && is_blank(line[i])) ++i;
    if (i == n) return;
    const size_t begin = i;
    while (i < n && !is_blank(line[i])) ++i;
    out.push_back(line.substr(begin, i - begin));
  }
}

inline int64_t parse_int(const Lines& lines, std::string_view field, const char* what) {
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), value);
  if (ec != std::errc{} || end != field.data() + field.size() || field.empty())
    lines.fail("'{}' is not an integer ({})", field, what);
  return value;
}

inline float parse_float(const Lines& lines, std::string_view field, const char* what) {
  float value = 0;
  const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), value);
  if (ec != std::errc{} || end != field.data() + field.size() || field.empty() || !std::isfinite(value))
    lines.fail("'{}' is not a finite number ({})", field, what);
  return value;
}


}  // namespace relfm::text_lines
