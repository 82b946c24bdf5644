#include "io/tu_files.hpp"

#include "io/csv.hpp"
#include "io/text_lines.hpp"
#include "src/core/error.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <limits>
#include <string_view>
#include <utility>
#include <vector>

namespace relfm {
namespace {

namespace fs = std::filesystem;

using namespace text_lines;

std::string file_in(const std::string& directory, const std::string& name) {
  return (fs::path(directory) / name).string();
}

// A format A file holding one integer per line.
std::vector<int64_t> read_integer_lines(const std::string& path, const char* what) {
  const std::string text = read_text_file(path);
  Lines lines(text, path);
  std::vector<int64_t> values;
  std::vector<std::string_view> fields;
  for (std::string_view line; lines.next(line);) {
    split_commas(line, fields);
    if (fields.size() != 1) lines.fail("expected 1 field ({}), found {}", what, fields.size());
    values.push_back(parse_int(lines, fields[0], what));
  }
  return values;
}

// Two files must agree on a count; the message points at the first line where they stop agreeing.
void expect_lines(const std::string& path, int64_t found, int64_t expected, const std::string& other, const char* per) {
  if (found > expected)
    fail_line(path, expected + 1, "{} gives {} {}s, so this file should have {} lines; it has {}", other, expected, per,
              expected, found);
  if (found < expected)
    fail_line(path, found + 1, "the file ends after {} lines, but {} gives {} {}s (one line each)", found, other,
              expected, per);
}

// Sorted distinct values → 0..C-1; returns the values as text so results can name them.
std::vector<std::string> map_to_dense(const std::vector<int64_t>& raw, std::vector<int32_t>& out) {
  std::vector<int64_t> values = raw;
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  out.resize(raw.size());
  for (size_t i = 0; i < raw.size(); ++i)
    out[i] = static_cast<int32_t>(std::lower_bound(values.begin(), values.end(), raw[i]) - values.begin());
  std::vector<std::string> text;
  text.reserve(values.size());
  for (const int64_t v : values) text.push_back(std::to_string(v));
  return text;
}

// Adjacency entries as read: rows in any order, duplicates and one-sided entries allowed.
struct RawEntries {
  Csr csr;
  std::vector<int32_t> labels;  // per entry (mapped), or empty
  std::vector<int64_t> lines;   // per entry, its NAME_A.txt line; kept only with labels, for messages
  std::string labels_path;      // the file the labels came from
  const std::vector<std::string>* label_values = nullptr;
};

struct Entry {
  VertexId row, col;
  int32_t label;
  int64_t line;
};

[[noreturn]] void labels_disagree(const RawEntries& raw, const Entry& a, const Entry& b) {
  fail_line(raw.labels_path, a.line,
            "label {} of the edge between nodes {} and {} (1-based) disagrees with label {} on line {}, which lists "
            "the same undirected edge",
            (*raw.label_values)[a.label], a.row + 1, a.col + 1, (*raw.label_values)[b.label], b.line);
}

// Sorts every row, drops repeated entries, adds missing mirrors, and counts all three into `set`.
void normalise_adjacency(RawEntries raw, GraphSet& set) {
  Csr& csr = raw.csr;
  const bool labelled = !raw.labels.empty();
  std::vector<Entry> row_entries;
  int64_t write = 0, row_begin = 0;
  for (int64_t r = 0; r < csr.num_rows; ++r) {
    const int64_t row_end = csr.row_ptr[r + 1];
    if (!labelled) {
      std::sort(csr.col.begin() + row_begin, csr.col.begin() + row_end);
      for (int64_t k = row_begin; k < row_end; ++k) {
        if (k > row_begin && csr.col[k] == csr.col[k - 1]) {
          ++set.duplicate_entries_dropped;
          continue;
        }
        csr.col[write++] = csr.col[k];
      }
    } else {
      row_entries.clear();
      for (int64_t k = row_begin; k < row_end; ++k)
        row_entries.push_back({static_cast<VertexId>(r), csr.col[k], raw.labels[k], raw.lines[k]});
      std::stable_sort(row_entries.begin(), row_entries.end(),
                       [](const Entry& a, const Entry& b) { return a.col < b.col; });
      for (size_t i = 0; i < row_entries.size(); ++i) {
        const Entry& e = row_entries[i];
        if (i > 0 && e.col == row_entries[i - 1].col) {
          if (e.label != raw.labels[write - 1])
            labels_disagree(raw, e, {e.row, e.col, raw.labels[write - 1], raw.lines[write - 1]});
          ++set.duplicate_entries_dropped;
          continue;
        }
        csr.col[write] = e.col;
        raw.labels[write] = e.label;
        raw.lines[write] = e.line;
        ++write;
      }
    }
    row_begin = row_end;
    csr.row_ptr[r + 1] = write;
  }
  csr.col.resize(write);
  if (labelled) {
    raw.labels.resize(write);
    raw.lines.resize(write);
  }

  // Every entry (r, c) needs (c, r); rows are sorted now, so a binary search finds it.
  std::vector<Entry> missing;
  for (int64_t r = 0; r < csr.num_rows; ++r) {
    for (int64_t k = csr.row_begin(r); k < csr.row_end(r); ++k) {
      const VertexId c = csr.col[k];
      if (c == r) continue;
      const auto first = csr.col.begin() + csr.row_begin(c), last = csr.col.begin() + csr.row_end(c);
      const auto it = std::lower_bound(first, last, static_cast<VertexId>(r));
      const Entry here{static_cast<VertexId>(r), c, labelled ? raw.labels[k] : 0, labelled ? raw.lines[k] : 0};
      if (it == last || *it != r) {
        missing.push_back({c, static_cast<VertexId>(r), here.label, here.line});
      } else if (labelled) {
        const int64_t m = it - csr.col.begin();
        if (raw.labels[m] != here.label)
          labels_disagree(raw, here, {c, static_cast<VertexId>(r), raw.labels[m], raw.lines[m]});
      }
    }
  }
  if (!missing.empty()) {
    // Merge the mirrors into their rows, keeping each row sorted.
    std::sort(missing.begin(), missing.end(),
              [](const Entry& a, const Entry& b) { return a.row != b.row ? a.row < b.row : a.col < b.col; });
    Csr merged;
    merged.num_rows = csr.num_rows;
    merged.num_cols = csr.num_cols;
    merged.row_ptr.reserve(csr.row_ptr.size());
    merged.col.reserve(csr.col.size() + missing.size());
    std::vector<int32_t> merged_labels;
    if (labelled) merged_labels.reserve(merged.col.capacity());
    size_t next = 0;
    for (int64_t r = 0; r < csr.num_rows; ++r) {
      int64_t k = csr.row_begin(r);
      while (k < csr.row_end(r) || (next < missing.size() && missing[next].row == r)) {
        const bool take_missing = next < missing.size() && missing[next].row == r &&
                                  (k == csr.row_end(r) || missing[next].col < csr.col[k]);
        merged.col.push_back(take_missing ? missing[next].col : csr.col[k]);
        if (labelled) merged_labels.push_back(take_missing ? missing[next].label : raw.labels[k]);
        if (take_missing) {
          ++next;
        } else {
          ++k;
        }
      }
      merged.row_ptr.push_back(static_cast<int64_t>(merged.col.size()));
    }
    set.entries_added_by_symmetrising = static_cast<int64_t>(missing.size());
    csr = std::move(merged);
    raw.labels = std::move(merged_labels);
  }

  for (int64_t r = 0; r < csr.num_rows; ++r)
    for (int64_t k = csr.row_begin(r); k < csr.row_end(r); ++k) set.self_loops += csr.col[k] == r;
  set.adjacency = std::move(csr);
  set.edge_labels = std::move(raw.labels);
}

// ---- Format A ----------------------------------------------------------------------------------------

GraphSet read_original(const TuDatasetLocation& where) {
  const auto path_of = [&](const char* part) { return file_in(where.directory, where.name + "_" + part + ".txt"); };
  const std::string edges_path = path_of("A"), indicator_path = path_of("graph_indicator"),
                    graph_labels_path = path_of("graph_labels"), node_labels_path = path_of("node_labels"),
                    attributes_path = path_of("node_attributes"), edge_labels_path = path_of("edge_labels");
  for (const std::string* required : {&edges_path, &indicator_path, &graph_labels_path})
    if (!fs::exists(*required)) fail_input("missing required file {}", *required);

  GraphSet set;
  set.name = where.name;

  // Graph ids give the node ranges; they must count up from 1 without gaps.
  const std::vector<int64_t> indicator = read_integer_lines(indicator_path, "a graph id");
  const auto num_nodes = static_cast<int64_t>(indicator.size());
  if (num_nodes > std::numeric_limits<VertexId>::max())
    fail_input("{}: {} nodes do not fit 32-bit vertex ids", indicator_path, num_nodes);
  std::vector<int32_t> graph_of(indicator.size());
  for (int64_t v = 0, current = 0; v < num_nodes; ++v) {
    const int64_t id = indicator[v];
    if (id == current + 1) {
      if (v > 0) set.node_offsets.push_back(v);  // graph `current` ends where graph `id` begins
      current = id;
    } else if (v == 0) {
      fail_line(indicator_path, 1, "the first graph id is {}, not 1", id);
    } else if (id < current) {
      fail_line(indicator_path, v + 1, "graph id {} goes backwards (the line before has {})", id, current);
    } else if (id > current) {
      fail_line(indicator_path, v + 1, "graph id {} skips graph {} (the line before has {})", id, current + 1, current);
    }
    graph_of[v] = static_cast<int32_t>(id - 1);
  }
  if (num_nodes > 0) set.node_offsets.push_back(num_nodes);

  const std::vector<int64_t> graph_labels = read_integer_lines(graph_labels_path, "a graph label");
  expect_lines(graph_labels_path, static_cast<int64_t>(graph_labels.size()), set.size(), indicator_path, "graph");
  set.class_values = map_to_dense(graph_labels, set.graph_labels);
  set.num_classes = static_cast<int32_t>(set.class_values.size());

  if (fs::exists(node_labels_path)) {
    const std::vector<int64_t> labels = read_integer_lines(node_labels_path, "a node label");
    expect_lines(node_labels_path, static_cast<int64_t>(labels.size()), num_nodes, indicator_path, "node");
    set.node_label_values = map_to_dense(labels, set.node_labels);
    set.num_node_labels = static_cast<int32_t>(set.node_label_values.size());
  }

  set.node_attributes.resize(num_nodes, 0);
  if (fs::exists(attributes_path)) {
    const std::string text = read_text_file(attributes_path);
    Lines lines(text, attributes_path);
    std::vector<std::string_view> fields;
    std::vector<float> values;
    size_t columns = 0;
    for (std::string_view line; lines.next(line);) {
      split_commas(line, fields);
      if (fields.empty()) lines.fail("empty line; expected the node's comma-separated attributes");
      if (lines.line() == 1) columns = fields.size();
      if (fields.size() != columns)
        lines.fail("expected {} comma-separated attributes (as on line 1), found {}", columns, fields.size());
      for (const std::string_view field : fields) values.push_back(parse_float(lines, field, "a node attribute"));
    }
    expect_lines(attributes_path, lines.line(), num_nodes, indicator_path, "node");
    set.node_attributes = Eigen::Map<const MatF>(values.data(), num_nodes, static_cast<Eigen::Index>(columns));
  }

  RawEntries raw;
  std::vector<VertexId> rows, cols;
  {
    const std::string text = read_text_file(edges_path);
    Lines lines(text, edges_path);
    std::vector<std::string_view> fields;
    for (std::string_view line; lines.next(line);) {
      split_commas(line, fields);
      if (fields.size() != 2) lines.fail("expected 2 comma-separated node ids (i, j), found {} fields", fields.size());
      int64_t ends[2];
      for (int i = 0; i < 2; ++i) {
        ends[i] = parse_int(lines, fields[i], "a node id");
        if (ends[i] < 1 || ends[i] > num_nodes)
          lines.fail("node id {} is outside 1..{} (the nodes of {})", ends[i], num_nodes, indicator_path);
      }
      const int32_t g = graph_of[ends[0] - 1], h = graph_of[ends[1] - 1];
      if (g != h) lines.fail("the edge ({}, {}) joins graph {} to graph {}", ends[0], ends[1], g + 1, h + 1);
      rows.push_back(static_cast<VertexId>(ends[0] - 1));
      cols.push_back(static_cast<VertexId>(ends[1] - 1));
    }
  }
  std::vector<int64_t> order;
  raw.csr = Csr::from_pairs(num_nodes, num_nodes, rows, cols, &order);

  if (fs::exists(edge_labels_path)) {
    const std::vector<int64_t> labels = read_integer_lines(edge_labels_path, "an edge label");
    expect_lines(edge_labels_path, static_cast<int64_t>(labels.size()), static_cast<int64_t>(rows.size()), edges_path,
                 "edge");
    std::vector<int32_t> mapped;
    set.edge_label_values = map_to_dense(labels, mapped);
    set.num_edge_labels = static_cast<int32_t>(set.edge_label_values.size());
    raw.labels.resize(order.size());
    raw.lines.resize(order.size());
    for (size_t k = 0; k < order.size(); ++k) {
      raw.labels[k] = mapped[order[k]];
      raw.lines[k] = order[k] + 1;
    }
    raw.labels_path = edge_labels_path;
    raw.label_values = &set.edge_label_values;
  }
  normalise_adjacency(std::move(raw), set);
  return set;
}

// ---- Format B ----------------------------------------------------------------------------------------

GraphSet read_dgcnn(const TuDatasetLocation& where) {
  const std::string& path = where.file;
  const std::string text = read_text_file(path);
  Lines lines(text, path);
  std::vector<std::string_view> fields;
  std::string_view line;

  if (!lines.next(line)) fail_line(path, 1, "the file is empty; expected the number of graphs");
  split_blanks(line, fields);
  if (fields.size() != 1) lines.fail("expected 1 field (the number of graphs), found {}", fields.size());
  const int64_t num_graphs = parse_int(lines, fields[0], "the number of graphs");
  if (num_graphs < 0) lines.fail("the number of graphs is negative ({})", num_graphs);

  GraphSet set;
  set.name = where.name;
  RawEntries raw;
  Csr& csr = raw.csr;
  csr.col.reserve(text.size() / 3);  // COLLAB has 3.4 characters per id: no regrowth of its 100 MB
  std::vector<int64_t> graph_labels, tags;
  std::vector<float> attributes;
  int64_t attribute_columns = -1, first_node_line = 0;

  for (int64_t g = 0; g < num_graphs; ++g) {
    if (!lines.next(line))
      fail_line(path, lines.line() + 1, "the file ends after {} graphs, but line 1 says {}", g, num_graphs);
    split_blanks(line, fields);
    if (fields.size() != 2)
      lines.fail("expected 2 fields (the number of nodes of graph {} and its label), found {}", g + 1, fields.size());
    const int64_t n = parse_int(lines, fields[0], "a node count");
    graph_labels.push_back(parse_int(lines, fields[1], "a graph label"));
    const int64_t begin = set.num_nodes(), graph_line = lines.line();
    if (n < 0 || n > std::numeric_limits<VertexId>::max() - begin)
      lines.fail("node count {} is negative or takes the data set past 32-bit vertex ids", n);

    for (int64_t v = 0; v < n; ++v) {
      if (!lines.next(line))
        fail_line(path, lines.line() + 1, "the file ends inside graph {}: line {} gives {} nodes, found {}", g + 1,
                  graph_line, n, v);
      split_blanks(line, fields);
      if (fields.size() < 2) lines.fail("expected a node tag and a degree, found {} fields", fields.size());
      tags.push_back(parse_int(lines, fields[0], "a node tag"));
      const int64_t m = parse_int(lines, fields[1], "a degree");
      const auto ids_and_attributes = static_cast<int64_t>(fields.size()) - 2;
      if (m < 0) lines.fail("degree {} is negative", m);
      if (attribute_columns < 0 && ids_and_attributes >= m) {
        attribute_columns = ids_and_attributes - m;
        first_node_line = lines.line();
      }
      if (ids_and_attributes != m + std::max<int64_t>(attribute_columns, 0)) {
        if (attribute_columns <= 0 || ids_and_attributes < m)
          lines.fail("degree {} disagrees with the {} neighbour ids that follow", m, ids_and_attributes);
        lines.fail("expected {} fields (tag, degree {}, {} neighbour ids and {} attributes as on line {}), found {}",
                   2 + m + attribute_columns, m, m, attribute_columns, first_node_line, fields.size());
      }
      for (int64_t i = 0; i < m; ++i) {
        const int64_t id = parse_int(lines, fields[2 + i], "a neighbour id");
        if (id < 0 || id >= n)
          lines.fail("neighbour id {} is outside [0, {}) of graph {} (line {})", id, n, g + 1, graph_line);
        csr.col.push_back(static_cast<VertexId>(begin + id));
      }
      for (int64_t i = 0; i < attribute_columns; ++i)
        attributes.push_back(parse_float(lines, fields[2 + m + i], "a node attribute"));
      csr.row_ptr.push_back(static_cast<int64_t>(csr.col.size()));
    }
    set.node_offsets.push_back(begin + n);
  }
  if (lines.next(line)) lines.fail("unexpected content after the last of the {} graphs", num_graphs);

  csr.num_rows = csr.num_cols = set.num_nodes();
  set.class_values = map_to_dense(graph_labels, set.graph_labels);
  set.num_classes = static_cast<int32_t>(set.class_values.size());
  set.node_label_values = map_to_dense(tags, set.node_labels);
  set.num_node_labels = static_cast<int32_t>(set.node_label_values.size());
  const Eigen::Index columns = std::max<int64_t>(attribute_columns, 0);
  set.node_attributes = Eigen::Map<const MatF>(attributes.data(), set.num_nodes(), columns);
  normalise_adjacency(std::move(raw), set);
  return set;
}

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

TuDatasetLocation locate_tu_dataset(const std::string& path, const std::string& name) {
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) {
    std::string stem = fs::path(path).filename().string();
    for (const std::string_view suffix : {".gz", ".txt"})
      if (ends_with(stem, suffix)) stem.resize(stem.size() - suffix.size());
    if (!ends_with(path, ".txt") && !ends_with(path, ".txt.gz"))
      fail_input("{}: not a TU data set; expected a directory (TU format) or a NAME.txt[.gz] file (DGCNN/GIN format)",
                 path);
    return {TuFormat::kDgcnn, name.empty() ? stem : name, fs::path(path).parent_path().string(), path};
  }
  if (!fs::is_directory(path, ec)) fail_input("{}: no such file or directory", path);

  fs::path normal = fs::absolute(path).lexically_normal();
  if (!normal.has_filename()) normal = normal.parent_path();  // "dir/" and "."
  const std::string prefix = name.empty() ? normal.filename().string() : name;
  if (fs::exists(file_in(path, prefix + "_A.txt"))) return {TuFormat::kOriginal, prefix, path, ""};
  for (const char* suffix : {".txt", ".txt.gz"})
    if (fs::is_regular_file(file_in(path, prefix + suffix)))
      return {TuFormat::kDgcnn, prefix, path, file_in(path, prefix + suffix)};
  if (name.empty()) {
    // A TU zip unpacked into a directory named otherwise ("mutag/"): the prefix is unambiguous when only
    // one *_A.txt is there.
    std::vector<std::string> prefixes;
    for (const auto& entry : fs::directory_iterator(path)) {
      const std::string file = entry.path().filename().string();
      if (entry.is_regular_file() && ends_with(file, "_A.txt")) prefixes.push_back(file.substr(0, file.size() - 6));
    }
    if (prefixes.size() == 1) return {TuFormat::kOriginal, prefixes[0], path, ""};
  }
  fail_input("{}: no TU data set named '{}' here; expected {}_A.txt (TU format) or {}.txt[.gz] (DGCNN/GIN format)",
             path, prefix, prefix, prefix);
}

GraphSet read_tu_dataset(const std::string& path, const std::string& name) {
  const TuDatasetLocation where = locate_tu_dataset(path, name);
  GraphSet set = where.format == TuFormat::kOriginal ? read_original(where) : read_dgcnn(where);
  set.validate();  // the reader's own invariants; a failure here is a bug, not bad input
  return set;
}

}  // namespace relfm
