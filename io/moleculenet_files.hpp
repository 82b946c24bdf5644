// Readers of the MoleculeNet files shipped in data/moleculenet (see its SOURCES.md) and of any
// "SMILES + label columns" CSV, so user data sets load the same way; the official OGB split files.
#pragma once

#include "src/mol/moleculenet.hpp"

#include <string>
#include <string_view>

namespace relfm {

// RELFM_SOURCE_DIR/data/moleculenet, or $RELFM_DATA_DIR/moleculenet when RELFM_DATA_DIR is set
// (RELFM_DATA_DIR names the folder holding all of relfm's data sets, like the repository's data/).
std::string moleculenet_data_dir();

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
