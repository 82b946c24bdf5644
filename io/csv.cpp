#include "io/csv.hpp"

#include "src/core/error.hpp"

#include <zlib.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <string_view>
#include <vector>

namespace relfm {
namespace {

bool has_gz_suffix(const std::string& path) {
  return path.size() >= 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
}

// gzread passes plain files through unchanged, so one reader serves both kinds and zlib itself decides
// from the magic bytes whether a file is compressed.
std::string read_file_through_zlib(const std::string& path) {
  errno = 0;
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr)
    fail_input("cannot open {}: {}", path, errno != 0 ? std::strerror(errno) : "out of memory");
  gzbuffer(file, 1 << 18);

  std::string text;
  std::vector<char> chunk(1 << 18);
  for (;;) {
    const int got = gzread(file, chunk.data(), static_cast<unsigned>(chunk.size()));
    if (got < 0) {
      int code = 0;
      const std::string reason = gzerror(file, &code);
      gzclose_r(file);
      if (code == Z_ERRNO) fail_input("cannot read {}: {}", path, std::strerror(errno));
      fail_input("{}: corrupt gzip stream ({})", path, reason);
    }
    if (got == 0) break;
    text.append(chunk.data(), static_cast<size_t>(got));
  }
  const bool was_plain = gzdirect(file) == 1;
  // A truncated stream ends reads quietly; only the close reports it.
  if (gzclose_r(file) != Z_OK) fail_input("{}: corrupt gzip stream (unexpected end of file)", path);
  if (was_plain && has_gz_suffix(path))
    fail_input("{}: corrupt gzip stream (no gzip header, although the name ends in .gz)", path);
  return text;
}

// One pass over the text; tracks the physical line so that every error can point at it.
class CsvParser {
 public:
  CsvParser(const std::string& text, const std::string& path) : text_(text), path_(path) {
    if (text_.compare(0, 3, "\xEF\xBB\xBF") == 0) pos_ = 3;  // UTF-8 byte-order mark from spreadsheet exports
  }

  struct Record {
    std::vector<std::string> fields;
    int64_t line = 0;
    bool blank = false;  // an empty physical line, as opposed to a line holding one empty quoted field
  };

  bool next(Record& record) {
    if (pos_ >= text_.size()) return false;
    record.fields.clear();
    record.line = line_;
    bool any_quoted = false;
    for (;;) {
      const bool quoted = pos_ < text_.size() && text_[pos_] == '"';
      any_quoted |= quoted;
      record.fields.push_back(quoted ? quoted_field() : unquoted_field());
      if (at_end()) break;
      if (text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      ++pos_;  // the '\n' that ends the record
      ++line_;
      break;
    }
    record.blank = !any_quoted && record.fields.size() == 1 && record.fields[0].empty();
    return true;
  }

 private:
  bool at_end() const { return pos_ >= text_.size(); }

  std::string unquoted_field() {
    const size_t begin = pos_;
    while (!at_end() && text_[pos_] != ',' && text_[pos_] != '\n') ++pos_;
    size_t end = pos_;
    if (end > begin && text_[end - 1] == '\r' && (at_end() || text_[pos_] == '\n')) --end;  // CRLF
    return text_.substr(begin, end - begin);
  }

  std::string quoted_field() {
    const int64_t opened_at = line_;
    ++pos_;
    std::string field;
    for (;;) {
      if (at_end()) fail_input("{}:{}: unterminated quoted field (the quote opens on this line)", path_, opened_at);
      const char c = text_[pos_];
      if (c == '"') {
        if (pos_ + 1 < text_.size() && text_[pos_ + 1] == '"') {
          field.push_back('"');
          pos_ += 2;
          continue;
        }
        ++pos_;
        break;
      }
      if (c == '\n') ++line_;
      field.push_back(c);
      ++pos_;
    }
    if (!at_end() && text_[pos_] == '\r' && (pos_ + 1 == text_.size() || text_[pos_ + 1] == '\n')) ++pos_;
    if (!at_end() && text_[pos_] != ',' && text_[pos_] != '\n')
      fail_input("{}:{}: unexpected character '{}' after the closing quote of a field", path_, line_,
                 text_[pos_]);
    return field;
  }

  const std::string& text_;
  const std::string& path_;
  size_t pos_ = 0;
  int64_t line_ = 1;
};

void fail_field_count(const std::string& path, int64_t line, size_t expected, size_t found) {
  fail_input("{}:{}: expected {} fields, found {}", path, line, expected, found);
}

std::string_view trim_line_end(std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
  return line;
}

}  // namespace

int CsvTable::column_index(const std::string& name) const {
  for (size_t c = 0; c < header.size(); ++c)
    if (header[c] == name) return static_cast<int>(c);
  fail_input("{}: no column named '{}' in the header", path, name);
}

CsvTable parse_csv(const std::string& text, const std::string& path) {
  CsvTable table;
  table.path = path;
  CsvParser parser(text, path);
  CsvParser::Record record;

  if (!parser.next(record)) fail_input("{}: empty file, expected a header line", path);
  if (record.blank) {
    const int64_t header_line = record.line;
    while (parser.next(record))
      if (!record.blank) fail_input("{}:{}: the header line is empty", path, header_line);
    fail_input("{}: empty file, expected a header line", path);
  }
  table.header = std::move(record.fields);
  const size_t width = table.header.size();

  // Blank lines are held back until a later row shows they were not trailing.
  int64_t first_pending_blank = 0;
  while (parser.next(record)) {
    if (record.blank) {
      if (first_pending_blank == 0) first_pending_blank = record.line;
      continue;
    }
    if (first_pending_blank != 0) fail_field_count(path, first_pending_blank, width, 0);
    if (record.fields.size() != width) fail_field_count(path, record.line, width, record.fields.size());
    table.rows.push_back(std::move(record.fields));
    table.line_numbers.push_back(record.line);
    record.fields = {};
    record.fields.reserve(width);
  }
  return table;
}

std::string read_text_file(const std::string& path) { return read_file_through_zlib(path); }

CsvTable read_csv(const std::string& path) { return parse_csv(read_file_through_zlib(path), path); }

std::vector<int64_t> read_index_file(const std::string& path) {
  const std::string text = read_text_file(path);
  std::vector<std::string_view> lines;
  for (size_t begin = 0; begin < text.size();) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    lines.push_back(trim_line_end(std::string_view(text).substr(begin, end - begin)));
    begin = end + 1;
  }
  while (!lines.empty() && lines.back().empty()) lines.pop_back();

  std::vector<int64_t> indices;
  indices.reserve(lines.size());
  for (size_t k = 0; k < lines.size(); ++k) {
    const std::string_view line = lines[k];
    int64_t value = -1;
    const auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), value);
    if (line.empty() || ec != std::errc() || end != line.data() + line.size() || value < 0)
      fail_input("{}:{}: cannot parse '{}' as a row index (a non-negative integer)", path, k + 1, line);
    indices.push_back(value);
  }
  return indices;
}

}  // namespace relfm
