// Text files as the MoleculeNet/OGB data ships them, optionally gzipped: CSV (RFC 4180, one header row)
// and OGB split files. Every field stays text; callers decide what a field means, so errors can name the column.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace relfm {

struct CsvTable {
  std::string path;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;  // every row has header.size() fields
  std::vector<int64_t> line_numbers;           // 1-based physical line where each row starts (header is line 1)

  int64_t num_rows() const { return static_cast<int64_t>(rows.size()); }
  // Index of the first header field equal to `name`; InputError naming the file when absent.
  int column_index(const std::string& name) const;
};

// Reads the whole file. A ".gz" suffix or gzip magic bytes select zlib. Quoted fields may hold commas,
// doubled quotes and newlines; CRLF line ends are accepted; empty lines at the end are ignored.
// Throws InputError naming the file (and line) for a missing file, corrupt gzip, a row whose field
// count differs from the header's, an unterminated quote, or a file without a header.
CsvTable read_csv(const std::string& path);

// The whole file as text, decompressed when it is gzip (same detection and errors as read_csv).
std::string read_text_file(const std::string& path);

// Same parser over text already in memory; `path` only labels error messages.
CsvTable parse_csv(const std::string& text, const std::string& path);

// OGB split file (split/scaffold/{train,valid,test}.csv.gz): no header, one 0-based row index per line.
// Indices come back in file order. InputError naming file and line for anything but a non-negative integer.
std::vector<int64_t> read_index_file(const std::string& path);

}  // namespace relfm
