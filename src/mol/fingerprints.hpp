// Molecular fingerprints, the structure input of MolGroup's router (research/molgroup.md §1.3): RDKit's
// MACCS keys (167 bits, what the official grouping script uses) or Morgan bits (radius 2, 2048 bits by
// default, the official code's default). One row of 0/1 values per molecule.
#pragma once

#include "src/core/types.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace relfm {

enum class FingerprintKind { kMaccs, kMorgan };
FingerprintKind parse_fingerprint_kind(std::string_view name);  // "maccs" | "morgan"; InputError otherwise
std::string_view fingerprint_kind_name(FingerprintKind kind);

struct FingerprintSpec {
  FingerprintKind kind = FingerprintKind::kMaccs;
  int morgan_radius = 2;
  int morgan_bits = 2048;
  int bits() const { return kind == FingerprintKind::kMaccs ? 167 : morgan_bits; }
};

// Rows = molecules, cols = spec.bits(). InputError naming the molecule (index and SMILES) that RDKit
// cannot parse, and for a Morgan spec with a radius < 0 or fewer than 1 bit.
MatF fingerprints(const std::vector<std::string>& smiles, const FingerprintSpec& spec);

}  // namespace relfm
