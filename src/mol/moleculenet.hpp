// The MoleculeNet benchmark files shipped in data/moleculenet (see its SOURCES.md): which file holds
// which dataset, how it is scored, and where OGB's official scaffold split exists. Labels are read from
// any "SMILES + label columns" CSV, so user datasets load the same way.
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
  std::string_view file_name;  // inside moleculenet_data_dir(), e.g. "delaney.csv"
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

// RELFM_SOURCE_DIR/data/moleculenet, or $RELFM_DATA_DIR/moleculenet when RELFM_DATA_DIR is set
// (RELFM_DATA_DIR names the folder holding all of relfm's data sets, like the repository's data/).
std::string moleculenet_data_dir();

struct LabelledSmiles {
  std::string source_path;
  std::vector<std::string> task_names;
  std::vector<std::string> smiles;
  std::vector<int64_t> source_lines;  // 1-based CSV line
  MatF labels;                        // rows = molecules, cols = tasks, NaN = missing

  int64_t num_molecules() const { return static_cast<int64_t>(smiles.size()); }
  int64_t num_tasks() const { return static_cast<int64_t>(task_names.size()); }
};

// Any CSV: column `smiles_column` is the SMILES, every other column a task. An empty field (or "nan")
// is a missing label; anything else must be a number, or InputError
// "<path>:<line>: column '<name>': cannot parse '<text>' as a number".
LabelledSmiles read_labelled_csv(const std::string& path, int smiles_column = 0);

// Reads spec.file_name from `data_dir` and checks its task count against the registry.
LabelledSmiles load_moleculenet(const MoleculeNetSpec& spec, const std::string& data_dir = moleculenet_data_dir());

// OGB's official split files when the data set has them (checked: indices within the data, no index in two
// parts), otherwise scaffold_split over the SMILES. Recomputing is not a substitute for the official files:
// with RDKit 2022.09 it breaks ties between equal-size scaffold families differently for esol and freesolv.
IndexSplit moleculenet_split(const MoleculeNetSpec& spec, const LabelledSmiles& data,
                             const std::string& data_dir = moleculenet_data_dir());

// Path of one official split file ("train", "valid" or "test"); only for specs with has_official_split().
std::string official_split_path(const MoleculeNetSpec& spec, std::string_view part,
                                const std::string& data_dir = moleculenet_data_dir());

}  // namespace relfm
