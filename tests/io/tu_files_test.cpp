// TU graph-classification readers: exact structure of hand-made files in both formats, every bad input
// named by file and line, the shipped MUTAG with its published counts, and the larger sets in ../shared.
#include "io/tu_files.hpp"

#include "tests/src/mol/mol_test_util.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>

namespace relfm {
namespace {

using test::contains;
using test::input_error_of;
using test::ScratchDir;
using I32 = std::vector<int32_t>;
using I64 = std::vector<int64_t>;
using Strings = std::vector<std::string>;

I32 columns(const GraphSet& s) { return I32(s.adjacency.col.begin(), s.adjacency.col.end()); }

int64_t count_of(const std::vector<int32_t>& labels, int32_t value) {
  return std::count(labels.begin(), labels.end(), value);
}

// A format A data set named TOY in <scratch>/TOY; a part given as "" is not written.
struct ToyOriginal {
  std::map<std::string, std::string> parts = {
      // Graph 1 is the path 1-2-3, graph 2 the edge 4-5; lines out of order, blanks around commas, CRLF.
      {"A", "2, 3\n2, 1\r\n1,2\n3 ,2\n4,\t5\n5, 4\n"},
      {"graph_indicator", "1\n1\n1\r\n2\n2\n"},
      {"graph_labels", "1\n-1\n"},
      {"node_labels", "5\n3\n5\n7\n3\n"},
      {"node_attributes", "1.5, 2\n -3,4.25\r\n0,0\n1e-3, 7\n2,-0.5\n"},
      {"edge_labels", "20\n10\n10\n20\n30\n30\n"},
  };
  std::string write(const ScratchDir& dir) const {
    std::filesystem::remove_all(dir.file("TOY"));
    for (const auto& [part, text] : parts)
      if (!text.empty()) dir.write("TOY/TOY_" + part + ".txt", text);
    return dir.file("TOY");
  }
  std::string path_of(const ScratchDir& dir, const std::string& part) const {
    return dir.file("TOY/TOY_" + part + ".txt");
  }
};

// The message of the InputError reading the toy throws after one part is replaced.
std::string error_with(const ScratchDir& dir, const std::string& part, const std::string& text) {
  ToyOriginal toy;
  toy.parts[part] = text;
  return input_error_of([&] { read_tu_dataset(toy.write(dir)); });
}

TEST(TuOriginal, ReadsStructureLabelsAndAttributes) {
  ScratchDir dir;
  const GraphSet s = read_tu_dataset(ToyOriginal().write(dir));
  EXPECT_EQ(s.name, "TOY");
  EXPECT_EQ(s.size(), 2);
  EXPECT_EQ(s.num_nodes(), 5);
  EXPECT_EQ(s.node_offsets, (I64{0, 3, 5}));
  EXPECT_EQ(s.nodes_of(1).begin, 3);
  EXPECT_EQ(s.nodes_of(1).size(), 2);
  EXPECT_EQ(s.adjacency.row_ptr, (I64{0, 1, 3, 4, 5, 6}));
  EXPECT_EQ(columns(s), (I32{1, 0, 2, 1, 4, 3}));
  EXPECT_EQ(s.degrees(), (I64{1, 2, 1, 1, 1}));

  EXPECT_EQ(s.graph_labels, (I32{1, 0}));  // -1 → 0, 1 → 1
  EXPECT_EQ(s.num_classes, 2);
  EXPECT_EQ(s.class_values, (Strings{"-1", "1"}));
  EXPECT_EQ(s.node_labels, (I32{1, 0, 1, 2, 0}));
  EXPECT_EQ(s.num_node_labels, 3);
  EXPECT_EQ(s.node_label_values, (Strings{"3", "5", "7"}));
  // Entries in CSR order: (0,1) (1,0) (1,2) (2,1) (3,4) (4,3); labels 10, 20, 30 → 0, 1, 2.
  EXPECT_EQ(s.edge_labels, (I32{0, 0, 1, 1, 2, 2}));
  EXPECT_EQ(s.edge_label_values, (Strings{"10", "20", "30"}));
  EXPECT_EQ(s.num_edge_labels, 3);

  ASSERT_EQ(s.node_attributes.rows(), 5);
  ASSERT_EQ(s.node_attributes.cols(), 2);
  EXPECT_EQ(s.node_attributes(0, 0), 1.5f);
  EXPECT_EQ(s.node_attributes(1, 0), -3.0f);
  EXPECT_EQ(s.node_attributes(1, 1), 4.25f);
  EXPECT_EQ(s.node_attributes(3, 0), 1e-3f);
  EXPECT_EQ(s.node_attributes(4, 1), -0.5f);
  EXPECT_EQ(s.self_loops, 0);
  EXPECT_EQ(s.duplicate_entries_dropped, 0);
  EXPECT_EQ(s.entries_added_by_symmetrising, 0);
  EXPECT_EQ(tu_format(dir.file("TOY")), TuFormat::kOriginal);
}

TEST(TuOriginal, OptionalFilesMayBeAbsent) {
  ScratchDir dir;
  ToyOriginal toy;
  toy.parts["node_labels"] = toy.parts["node_attributes"] = toy.parts["edge_labels"] = "";
  const GraphSet s = read_tu_dataset(toy.write(dir));
  EXPECT_TRUE(s.node_labels.empty());
  EXPECT_EQ(s.num_node_labels, 0);
  EXPECT_TRUE(s.edge_labels.empty());
  EXPECT_EQ(s.node_attributes.rows(), 5);
  EXPECT_EQ(s.node_attributes.cols(), 0);
  EXPECT_EQ(columns(s), (I32{1, 0, 2, 1, 4, 3}));
}

TEST(TuOriginal, DropsDuplicatesSymmetrisesKeepsSelfLoopsAndAlignsEdgeLabels) {
  ScratchDir dir;
  ToyOriginal toy;
  // Line 2 repeats line 1 (as the IMDB sets do), "3, 1" has no mirror, "2, 2" is a self-loop.
  toy.parts["A"] = "1, 2\n1, 2\n2, 1\n3, 1\n2, 2\n4, 5\n5, 4\n";
  toy.parts["edge_labels"] = "7\n7\n7\n8\n9\n7\n7\n";
  const GraphSet s = read_tu_dataset(toy.write(dir));
  EXPECT_EQ(s.adjacency.row_ptr, (I64{0, 2, 4, 5, 6, 7}));
  EXPECT_EQ(columns(s), (I32{1, 2, 0, 1, 0, 4, 3}));
  // The added (1,3) takes the label of line 4, "3, 1"; the self-loop keeps line 5's.
  EXPECT_EQ(s.edge_labels, (I32{0, 1, 0, 2, 1, 0, 0}));
  EXPECT_EQ(s.duplicate_entries_dropped, 1);
  EXPECT_EQ(s.entries_added_by_symmetrising, 1);
  EXPECT_EQ(s.self_loops, 1);
  EXPECT_EQ(s.degrees(), (I64{2, 2, 1, 1, 1}));
}

TEST(TuOriginal, EdgeLabelsThatDisagreeNameBothLines) {
  ScratchDir dir;
  ToyOriginal toy;
  const std::string labels_path = toy.path_of(dir, "edge_labels");
  // The two directions of edge 1-2 (lines 3 and 2) disagree.
  std::string message = error_with(dir, "edge_labels", "20\n10\n11\n20\n30\n30\n");
  EXPECT_TRUE(contains(message, labels_path + ", line 3")) << message;
  EXPECT_TRUE(contains(message, "line 2")) << message;
  EXPECT_TRUE(contains(message, "nodes 1 and 2")) << message;
  // A repeated line with another label.
  toy.parts["A"] = "1, 2\n2, 1\n1, 2\n";
  toy.parts["edge_labels"] = "0\n0\n1\n";
  toy.parts["graph_indicator"] = "1\n1\n";
  toy.parts["graph_labels"] = "0\n";
  toy.parts["node_labels"] = toy.parts["node_attributes"] = "";
  message = input_error_of([&] { read_tu_dataset(toy.write(dir)); });
  EXPECT_TRUE(contains(message, labels_path + ", line 3")) << message;
  EXPECT_TRUE(contains(message, "line 1")) << message;
}

TEST(TuOriginal, LocatesTheFilesByDirectoryNameOrUniquePrefix) {
  ScratchDir dir;
  ToyOriginal().write(dir);
  EXPECT_EQ(read_tu_dataset(dir.file("TOY") + "/").name, "TOY");
  std::filesystem::rename(dir.file("TOY"), dir.file("unpacked"));
  const TuDatasetLocation found = locate_tu_dataset(dir.file("unpacked"));
  EXPECT_EQ(found.format, TuFormat::kOriginal);
  EXPECT_EQ(found.name, "TOY");
  EXPECT_EQ(read_tu_dataset(dir.file("unpacked"), "TOY").size(), 2);
  EXPECT_TRUE(contains(input_error_of([&] { read_tu_dataset(dir.file("unpacked"), "OTHER"); }),
                       "no TU data set named 'OTHER'"));
  EXPECT_TRUE(contains(input_error_of([&] { read_tu_dataset(dir.file("nothing")); }), "no such file or directory"));
}

TEST(TuOriginal, MissingRequiredFileIsNamed) {
  ScratchDir dir;
  ToyOriginal toy;
  for (const char* part : {"graph_indicator", "graph_labels"}) {
    ToyOriginal without = toy;
    without.parts[part] = "";
    EXPECT_TRUE(contains(input_error_of([&] { read_tu_dataset(without.write(dir)); }),
                         "missing required file " + toy.path_of(dir, part)));
  }
}

TEST(TuOriginal, BadEdgeFilesNameFileAndLine) {
  ScratchDir dir;
  const std::string a = ToyOriginal().path_of(dir, "A");
  const auto expect = [&](const std::string& text, const std::string& where, const std::string& what) {
    const std::string message = error_with(dir, "A", text);
    EXPECT_TRUE(contains(message, where)) << message;
    EXPECT_TRUE(contains(message, what)) << message;
  };
  expect("1, 2\n2, 6\n", a + ", line 2", "node id 6 is outside 1..5");
  expect("0, 2\n", a + ", line 1", "node id 0 is outside");
  expect("1, 2\n2, 1, 3\n", a + ", line 2", "found 3 fields");
  expect("1 2\n", a + ", line 1", "found 1 fields");
  expect("1, 2\n2, x\n", a + ", line 2", "'x' is not an integer");
  expect("1, 2\n\n2, 1\n", a + ", line 2", "found 0 fields");
  expect("1, 2\n3, 4\n", a + ", line 2", "joins graph 1 to graph 2");
  // edge_labels must have one line per A.txt line.
  const std::string labels = ToyOriginal().path_of(dir, "edge_labels");
  std::string message = error_with(dir, "edge_labels", "1\n1\n1\n1\n1\n");
  EXPECT_TRUE(contains(message, labels + ", line 6")) << message;
  EXPECT_TRUE(contains(message, "ends after 5 lines")) << message;
  message = error_with(dir, "edge_labels", "1\n1\n1\n1\n1\n1\n1\n");
  EXPECT_TRUE(contains(message, labels + ", line 7")) << message;
}

TEST(TuOriginal, BadNodeAndGraphFilesNameFileAndLine) {
  ScratchDir dir;
  const ToyOriginal toy;
  const auto expect = [&](const std::string& part, const std::string& text, int line, const std::string& what) {
    const std::string message = error_with(dir, part, text);
    EXPECT_TRUE(contains(message, toy.path_of(dir, part) + ", line " + std::to_string(line))) << message;
    EXPECT_TRUE(contains(message, what)) << message;
  };
  expect("graph_indicator", "1\n1\n2\n1\n2\n", 4, "graph id 1 goes backwards");
  expect("graph_indicator", "1\n1\n1\n3\n3\n", 4, "graph id 3 skips graph 2");
  expect("graph_indicator", "2\n2\n2\n3\n3\n", 1, "the first graph id is 2");
  expect("graph_indicator", "1\n1\n1\n2\n2.0\n", 5, "'2.0' is not an integer");
  expect("graph_labels", "1\n", 2, "ends after 1 lines");
  expect("graph_labels", "1\n-1\n1\n", 3, "gives 2 graphs, so this file should have 2 lines");
  expect("graph_labels", "1\nactive\n", 2, "'active' is not an integer");
  expect("node_labels", "5\n3\n5\n7\n", 5, "ends after 4 lines");
  expect("node_labels", "5\n3\n5\n7\n3\n3\n", 6, "gives 5 nodes");
  expect("node_labels", "5\n3\n5, 1\n7\n3\n", 3, "expected 1 field");
  expect("node_attributes", "1,2\n1,2\n1,2\n1,2\n", 5, "ends after 4 lines");
  expect("node_attributes", "1,2\n1,2\n1\n1,2\n1,2\n", 3, "expected 2 comma-separated attributes");
  expect("node_attributes", "1,2\n1,2\n1,nan\n1,2\n1,2\n", 3, "'nan' is not a finite number");
  expect("node_attributes", "1,2\n1,2\n1,2\n1,2\n1,2\n1,2\n", 6, "gives 5 nodes");
}

// A shortened graph_indicator makes A.txt name a node that no longer exists; the message is A.txt's.
TEST(TuOriginal, ShortGraphIndicatorShowsAsOutOfRangeEdge) {
  ScratchDir dir;
  ToyOriginal toy;
  toy.parts["graph_indicator"] = "1\n1\n1\n2\n";
  toy.parts["node_labels"] = toy.parts["node_attributes"] = "";
  const std::string message = input_error_of([&] { read_tu_dataset(toy.write(dir)); });
  EXPECT_TRUE(contains(message, toy.path_of(dir, "A") + ", line 5: node id 5 is outside 1..4")) << message;
}

// ---- Format B ----------------------------------------------------------------------------------------

// Two graphs: a star on 3 nodes (neighbour lists out of order) and an edge; labels 0/2 as REDDIT-BINARY's.
const char* const kToyDgcnn =
    "2\n"
    "3 2\n"
    "7 2 2 1\n"
    "7 1 0\n"
    "9 1 0\n"
    "2 0\r\n"
    "7 1 1\r\n"
    "7 1 0\r\n";

TEST(TuDgcnn, ReadsStructureTagsAndLabels) {
  ScratchDir dir;
  const GraphSet s = read_tu_dataset(dir.write("TOYB.txt", kToyDgcnn));
  EXPECT_EQ(s.name, "TOYB");
  EXPECT_EQ(s.node_offsets, (I64{0, 3, 5}));
  EXPECT_EQ(s.adjacency.row_ptr, (I64{0, 2, 3, 4, 5, 6}));
  EXPECT_EQ(columns(s), (I32{1, 2, 0, 0, 4, 3}));
  EXPECT_EQ(s.graph_labels, (I32{1, 0}));
  EXPECT_EQ(s.class_values, (Strings{"0", "2"}));
  EXPECT_EQ(s.node_labels, (I32{0, 0, 1, 0, 0}));
  EXPECT_EQ(s.node_label_values, (Strings{"7", "9"}));
  EXPECT_EQ(s.node_attributes.cols(), 0);
  EXPECT_TRUE(s.edge_labels.empty());
  EXPECT_EQ(s.self_loops + s.duplicate_entries_dropped + s.entries_added_by_symmetrising, 0);
  EXPECT_EQ(tu_format(dir.file("TOYB.txt")), TuFormat::kDgcnn);
}

TEST(TuDgcnn, GzippedFileInItsDirectoryWithNodeAttributes) {
  ScratchDir dir;
  // GIN's loader: fields after the m neighbour ids are float attributes.
  dir.write_gz("ATTR/ATTR.txt.gz", "1\n3 1\n0 1 1 0.5 -1\n0 2 0 2 2 3\n1 1 1 1e2 0\n");
  const TuDatasetLocation where = locate_tu_dataset(dir.file("ATTR"));
  EXPECT_EQ(where.format, TuFormat::kDgcnn);
  EXPECT_EQ(where.file, dir.file("ATTR/ATTR.txt.gz"));
  for (const std::string& path : {dir.file("ATTR"), dir.file("ATTR/ATTR.txt.gz")}) {
    const GraphSet s = read_tu_dataset(path);
    EXPECT_EQ(s.name, "ATTR");
    EXPECT_EQ(columns(s), (I32{1, 0, 2, 1}));
    EXPECT_EQ(s.node_labels, (I32{0, 0, 1}));
    ASSERT_EQ(s.node_attributes.rows(), 3);
    ASSERT_EQ(s.node_attributes.cols(), 2);
    EXPECT_EQ(s.node_attributes(0, 0), 0.5f);
    EXPECT_EQ(s.node_attributes(0, 1), -1.0f);
    EXPECT_EQ(s.node_attributes(1, 0), 2.0f);
    EXPECT_EQ(s.node_attributes(2, 0), 100.0f);
  }
}

TEST(TuDgcnn, KeepsSelfLoopsDropsRepeatsAndSymmetrises) {
  ScratchDir dir;
  // Node 0 lists itself; node 1 lists nobody although 0 and 2 list it; node 2 lists 1 twice.
  const GraphSet s = read_tu_dataset(dir.write("LOOPS.txt", "1\n3 0\n0 2 0 1\n0 0\n0 2 1 1\n"));
  EXPECT_EQ(s.adjacency.row_ptr, (I64{0, 2, 4, 5}));
  EXPECT_EQ(columns(s), (I32{0, 1, 0, 2, 1}));
  EXPECT_EQ(s.self_loops, 1);
  EXPECT_EQ(s.duplicate_entries_dropped, 1);
  EXPECT_EQ(s.entries_added_by_symmetrising, 2);
  EXPECT_EQ(s.degrees(), (I64{2, 2, 1}));
}

TEST(TuDgcnn, BadInputsNameFileAndLine) {
  ScratchDir dir;
  const auto expect = [&](const std::string& text, int line, const std::string& what) {
    const std::string path = dir.write("BAD.txt", text);
    const std::string message = input_error_of([&] { read_tu_dataset(path); });
    EXPECT_TRUE(contains(message, path + ", line " + std::to_string(line))) << message;
    EXPECT_TRUE(contains(message, what)) << message;
  };
  expect("3\n1 0\n0 0\n1 1\n0 0\n", 6, "ends after 2 graphs, but line 1 says 3");
  expect("1\n3 0\n0 1 1\n0 1 0\n", 5, "ends inside graph 1: line 2 gives 3 nodes, found 2");
  expect("1\n2 0\n0 2 1\n0 1 0\n", 3, "degree 2 disagrees with the 1 neighbour ids");
  expect("1\n2 0\n0 1 1\n0 1 0 1\n", 4, "degree 1 disagrees with the 2 neighbour ids");
  expect("1\n2 0\n0 1 1 0.5\n0 1 0\n", 4, "1 attributes as on line 3");
  expect("1\n2 0\n0 1 2\n0 1 0\n", 3, "neighbour id 2 is outside [0, 2) of graph 1");
  expect("1\n2 0\n0 1 -1\n0 1 0\n", 3, "neighbour id -1 is outside");
  expect("1\n2 0\n0 1 1\n0 1 0\n1 0\n", 5, "after the last of the 1 graphs");
  expect("1\n2 0 5\n0 1 1\n0 1 0\n", 2, "expected 2 fields");
  expect("1\n2 zero\n0 1 1\n0 1 0\n", 2, "'zero' is not an integer");
  expect("two\n", 1, "'two' is not an integer");
  expect("1\n2 0\n0 1 x\n0 1 0\n", 3, "'x' is not an integer");
  expect("", 1, "the file is empty");
  // Blank lines at the very end are not content.
  EXPECT_EQ(read_tu_dataset(dir.write("OK.txt", "1\n1 0\n0 0\n\n\r\n  \n")).num_nodes(), 1);
}

// ---- GraphSet ----------------------------------------------------------------------------------------

TEST(TuGraphSet, SubsetRenumbersAndKeepsLabelsAttributesAndMappings) {
  ScratchDir dir;
  const GraphSet s = read_tu_dataset(ToyOriginal().write(dir));
  const I64 order{1, 0, 1};
  const GraphSet sub = s.subset(order);
  EXPECT_NO_THROW(sub.validate());
  EXPECT_EQ(sub.node_offsets, (I64{0, 2, 5, 7}));
  EXPECT_EQ(sub.adjacency.row_ptr, (I64{0, 1, 2, 3, 5, 6, 7, 8}));
  EXPECT_EQ(columns(sub), (I32{1, 0, 3, 2, 4, 3, 6, 5}));
  EXPECT_EQ(sub.edge_labels, (I32{2, 2, 0, 0, 1, 1, 2, 2}));
  EXPECT_EQ(sub.graph_labels, (I32{0, 1, 0}));
  EXPECT_EQ(sub.class_values, s.class_values);
  EXPECT_EQ(sub.node_labels, (I32{2, 0, 1, 0, 1, 2, 0}));
  ASSERT_EQ(sub.node_attributes.rows(), 7);
  EXPECT_EQ(sub.node_attributes(0, 0), 1e-3f);
  EXPECT_EQ(sub.node_attributes(3, 1), 4.25f);
  EXPECT_EQ(sub.node_attributes(6, 1), -0.5f);
  EXPECT_EQ(s.subset(I64{}).size(), 0);
  EXPECT_THROW(s.subset(I64{2}), Error);
}

TEST(TuGraphSet, ValidateNamesTheFirstInconsistency) {
  ScratchDir dir;
  const GraphSet good = read_tu_dataset(ToyOriginal().write(dir));
  const auto message_of = [](const GraphSet& s) -> std::string {
    try {
      s.validate();
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(message_of(good), "");
  GraphSet s = good;
  s.adjacency.col[0] = 2;  // (0,2) has no mirror, and (0,1)'s mirror (1,0) is now one-sided
  EXPECT_TRUE(contains(message_of(s), "entry (0, 2) has no mirror"));
  s = good;
  std::swap(s.adjacency.col[1], s.adjacency.col[2]);
  EXPECT_TRUE(contains(message_of(s), "row 1 is not strictly ascending"));
  s = good;
  s.adjacency.col[0] = 3;
  EXPECT_TRUE(contains(message_of(s), "entry (0, 3) joins graph 0 to another graph"));
  s = good;
  s.edge_labels[0] = 1;
  EXPECT_TRUE(contains(message_of(s), "edge (0, 1) has labels 1 and 0"));
  s = good;
  s.graph_labels[0] = 2;
  EXPECT_TRUE(contains(message_of(s), "graph 0 has class 2 outside [0, 2)"));
  s = good;
  s.node_labels.pop_back();
  EXPECT_TRUE(contains(message_of(s), "4 node labels for 5 nodes"));
}

// ---- Real data ---------------------------------------------------------------------------------------

struct Published {
  const char* name;
  int64_t graphs, nodes, entries;
  std::vector<int64_t> class_counts;
  int64_t self_loops = 0, duplicates = 0;
  int32_t attribute_columns = 0;
};

void expect_counts(const GraphSet& s, const Published& p) {
  SCOPED_TRACE(p.name);
  EXPECT_EQ(s.size(), p.graphs);
  EXPECT_EQ(s.num_nodes(), p.nodes);
  EXPECT_EQ(s.adjacency.nnz(), p.entries);
  ASSERT_EQ(s.num_classes, static_cast<int32_t>(p.class_counts.size()));
  for (int32_t c = 0; c < s.num_classes; ++c) EXPECT_EQ(count_of(s.graph_labels, c), p.class_counts[c]) << c;
  EXPECT_EQ(s.self_loops, p.self_loops);
  EXPECT_EQ(s.duplicate_entries_dropped, p.duplicates);
  EXPECT_EQ(s.entries_added_by_symmetrising, 0);
  EXPECT_EQ(s.node_attributes.cols(), p.attribute_columns);
}

TEST(TuShipped, MutagHasThePublishedCounts) {
  const GraphSet s = read_tu_dataset(RELFM_SOURCE_DIR "/data/tu/MUTAG");
  expect_counts(s, {"MUTAG", 188, 3371, 7442, {63, 125}});
  EXPECT_EQ(s.class_values, (Strings{"-1", "1"}));
  EXPECT_EQ(s.num_node_labels, 7);  // C N O F I Cl Br
  EXPECT_EQ(s.node_label_values, (Strings{"0", "1", "2", "3", "4", "5", "6"}));
  EXPECT_EQ(s.num_edge_labels, 4);  // aromatic single double triple
  EXPECT_EQ(count_of(s.node_labels, 0), 2395);
  EXPECT_EQ(count_of(s.edge_labels, 3), 2);
}

// The larger sets live in the project's shared data folder, beside the repository.
const std::string kSharedTu = RELFM_SOURCE_DIR "/../shared/data/tu";

TEST(TuSharedData, ProteinsAndRedditBinaryHaveThePublishedCounts) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(kSharedTu + "/PROTEINS") || !fs::is_directory(kSharedTu + "/REDDIT-BINARY"))
    GTEST_SKIP() << "needs ../shared/data/tu/{PROTEINS,REDDIT-BINARY} beside the repository";
  const GraphSet proteins = read_tu_dataset(kSharedTu + "/PROTEINS");
  expect_counts(proteins, {"PROTEINS", 1113, 43471, 162088, {663, 450}, 0, 0, 1});
  EXPECT_EQ(proteins.class_values, (Strings{"1", "2"}));
  const GraphSet reddit = read_tu_dataset(kSharedTu + "/REDDIT-BINARY");
  expect_counts(reddit, {"REDDIT-BINARY", 2000, 859254, 1991016, {1000, 1000}});
  EXPECT_EQ(reddit.class_values, (Strings{"0", "2"}));
  EXPECT_EQ(reddit.num_node_labels, 1);  // every tag is 0: the set has no node labels
}

// Every set in ../shared with its counts and read time (COLLAB takes a few seconds, so not in the default run):
//   build/tests/relfm_src_tests --gtest_filter='TuSharedData.*' --gtest_also_run_disabled_tests
TEST(TuSharedData, DISABLED_EverySharedSetWithReadTimes) {
  if (!std::filesystem::is_directory(kSharedTu)) GTEST_SKIP() << "needs ../shared/data/tu beside the repository";
  const std::vector<Published> sets = {
      {"MUTAG", 188, 3371, 7442, {63, 125}},
      {"PROTEINS", 1113, 43471, 162088, {663, 450}, 0, 0, 1},
      {"NCI1", 4110, 122747, 265506, {2053, 2057}},
      {"IMDB-BINARY", 1000, 19773, 193062, {500, 500}, 0, 193062},
      {"IMDB-MULTI", 1500, 19502, 197806, {500, 500, 500}, 0, 197806},
      {"DD", 1178, 334925, 1686092, {691, 487}},
      {"COLLAB", 5000, 372474, 24574995, {2600, 775, 1625}, 2837},
      {"REDDIT-BINARY", 2000, 859254, 1991016, {1000, 1000}},
  };
  for (const Published& p : sets) {
    const auto start = std::chrono::steady_clock::now();
    const GraphSet s = read_tu_dataset(kSharedTu + "/" + p.name);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%-14s %6ld graphs %8ld nodes %9ld entries  %.3f s\n", p.name, s.size(), s.num_nodes(),
                s.adjacency.nnz(), seconds);
    expect_counts(s, p);
  }
}

}  // namespace
}  // namespace relfm
