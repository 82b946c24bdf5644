// Readers of the TU graph-classification data sets (Morris et al., TUDataset) in their two text formats.
//
// Format A, the TU original: a directory of files named NAME_<part>.txt.
//   NAME_A.txt                one directed edge "i, j" per line, 1-based global node ids      (required)
//   NAME_graph_indicator.txt  one line per node: its 1-based graph id, non-decreasing         (required)
//   NAME_graph_labels.txt     one integer per graph                                            (required)
//   NAME_node_labels.txt      one integer per node
//   NAME_node_attributes.txt  comma-separated floats per node, the same number on every line
//   NAME_edge_labels.txt      one integer per NAME_A.txt line
// Format B, of DGCNN and GIN: one file NAME.txt or NAME.txt.gz,
//   N                         the number of graphs
//   n y                       per graph: its number of nodes and its label, then n lines
//   t m v_1 ... v_m [a_1 ...] node tag, degree, 0-based neighbour ids in the graph, optional attributes
//                             (as in GIN's loader: fields after the m ids are float attributes; the count is
//                             fixed by the first node line)
//
// What the reader normalises, and counts in the GraphSet so the caller can log it:
//  * labels of every kind (graph, node/tag, edge) become the sorted distinct values mapped to 0..C-1, and
//    the original values are kept as text (MUTAG's -1/1 → 0/1, REDDIT-BINARY's 0/2 → 0/1);
//  * repeated entries are dropped (the IMDB sets list every directed edge twice): duplicate_entries_dropped;
//  * a one-sided entry gets its mirror: entries_added_by_symmetrising (0 for the eight public TU sets described in data/tu/SOURCES.md);
//  * self-loops are kept, as GraphCL and PyG keep them, and counted (COLLAB has 2,837).
// Edge labels: an undirected edge's label is the label on its NAME_A.txt line; every line that lists the
// edge, in either direction, must give the same label, else an InputError names two disagreeing lines.
//
// Every error is an InputError naming the file and the 1-based line ("path, line N: ...").
#pragma once

#include "src/graph/graph_set.hpp"

#include <string>

namespace relfm {

enum class TuFormat { kOriginal, kDgcnn };

struct TuDatasetLocation {
  TuFormat format = TuFormat::kOriginal;
  std::string name;       // the data set's name: the files' prefix (A) or the file name without .txt[.gz] (B)
  std::string directory;  // format A: the directory holding NAME_A.txt
  std::string file;       // format B: NAME.txt or NAME.txt.gz
};

// Which format `path` holds and where its files are. `path` is a format A directory, a format B file, or a
// directory holding NAME.txt[.gz]. NAME is `name` when given, else the directory's (or file's) base name;
// a format A directory whose base name is not the prefix is accepted when it holds exactly one *_A.txt.
// InputError when nothing matches.
TuDatasetLocation locate_tu_dataset(const std::string& path, const std::string& name = "");
inline TuFormat tu_format(const std::string& path, const std::string& name = "") {
  return locate_tu_dataset(path, name).format;
}

// Reads a data set in either format; the result passes GraphSet::validate().
GraphSet read_tu_dataset(const std::string& path, const std::string& name = "");

}  // namespace relfm
