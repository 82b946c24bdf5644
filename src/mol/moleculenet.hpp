// The MoleculeNet benchmark data sets: which file holds which data set, how it is scored, and whether OGB's
// official scaffold split exists. The files themselves are read by io/moleculenet_files.hpp.
#pragma once

#include "src/core/types.hpp"
#include "src/metrics/metrics.hpp"
#include "src/mol/scaffold.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace relfm {

enum class TaskType { kClassification, kRegression };
std::string_view task_type_name(TaskType type);  // "classification" | "regression"

struct MoleculeNetSpec {
  std::string_view name;       // registry key, e.g. "esol"
  std::string_view file_name;  // inside the data directory (io/moleculenet_files.hpp), e.g. "delaney.csv"
  int smiles_column = 0;       // every other column is a task, in file order
  int num_tasks = 0;
  TaskType task_type = TaskType::kClassification;
  Metric metric = Metric::kRocAuc;  // as OGB and MolGroup score it: AP for MUV, MAE for QM8, RMSE for other regressions
  // Folder under ogb/ holding OGB's official scaffold split for exactly this file's rows; empty when
  // none ships (the split is then recomputed with scaffold_split).
  std::string_view ogb_folder;

  bool has_official_split() const { return !ogb_folder.empty(); }
};

std::span<const MoleculeNetSpec> moleculenet_specs();
// InputError listing the known names when `name` is not one of them.
const MoleculeNetSpec& moleculenet_spec(std::string_view name);

struct LabelledSmiles {
  std::string source_path;
  std::vector<std::string> task_names;
  std::vector<std::string> smiles;
  std::vector<int64_t> source_lines;  // 1-based CSV line
  MatF labels;                        // rows = molecules, cols = tasks, NaN = missing

  int64_t num_molecules() const { return static_cast<int64_t>(smiles.size()); }
  int64_t num_tasks() const { return static_cast<int64_t>(task_names.size()); }
};

// Scaffold split over the SMILES (the rule OGB's official files came from), for a data set without them.
// InputError naming the file and line of a SMILES that has no scaffold.
IndexSplit scaffold_split_of(const LabelledSmiles& data);

}  // namespace relfm
