#include "src/mol/moleculenet.hpp"

#include "src/core/error.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <array>

namespace relfm {
namespace {

using enum TaskType;
using enum Metric;

// Task counts are those of the shipped files (qm8 keeps DeepChem's 4 duplicated columns, as MolGroup does).
constexpr std::array<MoleculeNetSpec, 12> kSpecs = {{
    {"bace", "bace.csv", 0, 1, kClassification, kRocAuc, "ogbg_molbace"},
    {"bbbp", "bbbp.csv", 0, 1, kClassification, kRocAuc, "ogbg_molbbbp"},
    {"clintox", "clintox.csv", 0, 2, kClassification, kRocAuc, ""},  // 1478 rows vs OGB's 1477: no official split
    {"esol", "delaney.csv", 0, 1, kRegression, kRmse, "ogbg_molesol"},
    {"freesolv", "freesolv.csv", 0, 1, kRegression, kRmse, "ogbg_molfreesolv"},
    {"lipo", "lipo.csv", 0, 1, kRegression, kRmse, ""},
    {"sider", "sider.csv", 0, 27, kClassification, kRocAuc, ""},
    {"tox21", "tox21.csv", 0, 12, kClassification, kRocAuc, ""},
    {"toxcast", "toxcast.csv.gz", 0, 617, kClassification, kRocAuc, ""},
    {"hiv", "hiv.csv.gz", 0, 1, kClassification, kRocAuc, ""},
    {"muv", "muv.csv.gz", 0, 17, kClassification, kAveragePrecision, ""},
    {"qm8", "qm8.csv.gz", 0, 16, kRegression, kMae, ""},
}};

}  // namespace

std::string_view task_type_name(TaskType type) {
  return type == kClassification ? "classification" : "regression";
}

std::span<const MoleculeNetSpec> moleculenet_specs() { return kSpecs; }

const MoleculeNetSpec& moleculenet_spec(std::string_view name) {
  for (const auto& spec : kSpecs)
    if (spec.name == name) return spec;
  std::vector<std::string_view> names;
  for (const auto& spec : kSpecs) names.push_back(spec.name);
  fail_input("unknown MoleculeNet data set '{}' (known: {})", name, fmt::join(names, ", "));
}

IndexSplit scaffold_split_of(const LabelledSmiles& data) {
  std::vector<std::string> scaffolds;
  scaffolds.reserve(data.smiles.size());
  for (int64_t i = 0; i < data.num_molecules(); ++i) {
    std::string reason;
    auto scaffold = murcko_scaffold_smiles(data.smiles[i], /*include_chirality=*/true, &reason);
    if (!scaffold)
      fail_input("{}:{}: SMILES '{}' has no scaffold: {}", data.source_path, data.source_lines[i], data.smiles[i],
                 reason);
    scaffolds.push_back(std::move(*scaffold));
  }
  return split_by_scaffold(scaffolds);
}

}  // namespace relfm
