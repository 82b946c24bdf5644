// Bemis–Murcko scaffold split, the deterministic rule of pretrain-gnns' `scaffold_split` that produced
// OGB's official splits: molecules sharing a scaffold always land in the same part, and the biggest
// scaffold families fill the training part first, leaving rarer scaffolds for validation and test.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace relfm {

// RDKit's MurckoScaffoldSmiles(smiles, includeChirality): canonical SMILES of the ring systems and their
// linkers. "" for a molecule without rings; nullopt when RDKit cannot parse the SMILES (*error, if
// given, receives the reason).
std::optional<std::string> murcko_scaffold_smiles(std::string_view smiles, bool include_chirality = true,
                                                  std::string* error = nullptr);

struct IndexSplit {
  std::vector<int64_t> train, valid, test;  // sorted ascending
};

// Groups molecules by scaffold, orders the groups by (size, largest index) descending, and gives each
// group whole to train while train stays within frac_train·n, else to valid while train+valid stays
// within (frac_train+frac_valid)·n, else to test. InputError when a SMILES does not parse.
IndexSplit scaffold_split(const std::vector<std::string>& smiles, double frac_train = 0.8,
                          double frac_valid = 0.1);

// The same rule over precomputed group keys (scaffold strings), one per molecule.
IndexSplit split_by_scaffold(const std::vector<std::string>& scaffolds, double frac_train = 0.8,
                             double frac_valid = 0.1);

}  // namespace relfm
