#include "src/mol/scaffold.hpp"

#include "src/core/error.hpp"
#include "src/mol/rdkit_smiles.hpp"

#include <GraphMol/ChemTransforms/ChemTransforms.h>
#include <GraphMol/MolOps.h>
#include <GraphMol/RWMol.h>
#include <GraphMol/SmilesParse/SmilesWrite.h>

#include <algorithm>
#include <unordered_map>

namespace relfm {
namespace {

void check_fractions(double frac_train, double frac_valid) {
  const bool in_range = frac_train >= 0 && frac_valid >= 0 && frac_train + frac_valid <= 1 + 1e-9;
  if (!in_range)
    fail_input("scaffold split fractions must be non-negative and sum to at most 1, got train {} valid {}",
               frac_train, frac_valid);
}

// Members of each scaffold family in ascending index order, families in the order the rule visits them.
std::vector<std::vector<int64_t>> ordered_scaffold_families(const std::vector<std::string>& scaffolds) {
  std::unordered_map<std::string_view, size_t> family_of;
  std::vector<std::vector<int64_t>> families;
  for (size_t i = 0; i < scaffolds.size(); ++i) {
    const auto [it, inserted] = family_of.try_emplace(scaffolds[i], families.size());
    if (inserted) families.emplace_back();
    families[it->second].push_back(static_cast<int64_t>(i));
  }
  // Families are disjoint, so their last indices differ and this order has no ties.
  std::sort(families.begin(), families.end(), [](const auto& a, const auto& b) {
    if (a.size() != b.size()) return a.size() > b.size();
    return a.back() > b.back();
  });
  return families;
}

}  // namespace

std::optional<std::string> murcko_scaffold_smiles(std::string_view smiles, bool include_chirality,
                                                  std::string* error) {
  const auto mol = mol_detail::parse_smiles(smiles, error);
  if (!mol) return std::nullopt;
  try {
    // The clean-up steps are those of Python's MurckoScaffold.GetScaffoldForMol, whose ring
    // perception feeds the canonical SMILES.
    std::unique_ptr<RDKit::ROMol> scaffold(RDKit::MurckoDecompose(*mol));
    if (!scaffold) return std::string();
    scaffold->clearComputedProps();
    scaffold->updatePropertyCache();
    RDKit::MolOps::symmetrizeSSSR(*scaffold);
    return RDKit::MolToSmiles(*scaffold, include_chirality);
  } catch (const std::exception& e) {
    if (error != nullptr) *error = std::string("Murcko decomposition failed: ") + e.what();
    return std::nullopt;
  }
}

IndexSplit split_by_scaffold(const std::vector<std::string>& scaffolds, double frac_train, double frac_valid) {
  check_fractions(frac_train, frac_valid);
  const double n = static_cast<double>(scaffolds.size());
  // Same floating-point expressions as pretrain-gnns, so the boundary comparisons agree bit for bit.
  const double train_cutoff = frac_train * n;
  const double valid_cutoff = (frac_train + frac_valid) * n;
  IndexSplit split;
  for (const auto& family : ordered_scaffold_families(scaffolds)) {
    const double size = static_cast<double>(family.size());
    std::vector<int64_t>* part = &split.train;
    if (static_cast<double>(split.train.size()) + size > train_cutoff) {
      const double train_and_valid = static_cast<double>(split.train.size() + split.valid.size());
      part = train_and_valid + size > valid_cutoff ? &split.test : &split.valid;
    }
    part->insert(part->end(), family.begin(), family.end());
  }
  for (auto* part : {&split.train, &split.valid, &split.test}) std::sort(part->begin(), part->end());
  return split;
}

IndexSplit scaffold_split(const std::vector<std::string>& smiles, double frac_train, double frac_valid) {
  check_fractions(frac_train, frac_valid);
  std::vector<std::string> scaffolds;
  scaffolds.reserve(smiles.size());
  for (size_t i = 0; i < smiles.size(); ++i) {
    std::string reason;
    auto scaffold = murcko_scaffold_smiles(smiles[i], /*include_chirality=*/true, &reason);
    if (!scaffold) fail_input("molecule {} (SMILES '{}'): no scaffold: {}", i, smiles[i], reason);
    scaffolds.push_back(std::move(*scaffold));
  }
  return split_by_scaffold(scaffolds, frac_train, frac_valid);
}

}  // namespace relfm
