#include "src/mol/fingerprints.hpp"

#include "src/core/error.hpp"
#include "src/mol/rdkit_smiles.hpp"

#include <DataStructs/ExplicitBitVect.h>
#include <GraphMol/Fingerprints/MACCS.h>
#include <GraphMol/Fingerprints/MorganFingerprints.h>
#include <GraphMol/RWMol.h>

#include <memory>

namespace relfm {

FingerprintKind parse_fingerprint_kind(std::string_view name) {
  if (name == "maccs") return FingerprintKind::kMaccs;
  if (name == "morgan") return FingerprintKind::kMorgan;
  fail_input("unknown fingerprint '{}' (choices: maccs, morgan)", name);
}

std::string_view fingerprint_kind_name(FingerprintKind kind) {
  return kind == FingerprintKind::kMaccs ? "maccs" : "morgan";
}

MatF fingerprints(const std::vector<std::string>& smiles, const FingerprintSpec& spec) {
  if (spec.kind == FingerprintKind::kMorgan && (spec.morgan_radius < 0 || spec.morgan_bits < 1))
    fail_input("Morgan fingerprint needs radius >= 0 and at least 1 bit, got radius {} and {} bits", spec.morgan_radius,
               spec.morgan_bits);
  const int bits = spec.bits();
  MatF out = MatF::Zero(static_cast<Eigen::Index>(smiles.size()), bits);
  for (size_t i = 0; i < smiles.size(); ++i) {
    std::string reason;
    std::unique_ptr<RDKit::RWMol> mol = mol_detail::parse_smiles(smiles[i], &reason);
    if (!mol) fail_input("molecule {} (SMILES '{}'): no fingerprint: {}", i, smiles[i], reason);
    std::unique_ptr<ExplicitBitVect> fp(
        spec.kind == FingerprintKind::kMaccs
            ? RDKit::MACCSFingerprints::getFingerprintAsBitVect(*mol)
            : RDKit::MorganFingerprints::getFingerprintAsBitVect(*mol, static_cast<unsigned>(spec.morgan_radius),
                                                                 static_cast<unsigned>(spec.morgan_bits)));
    RELFM_CHECK(static_cast<int>(fp->getNumBits()) == bits, "fingerprint of {} bits, expected {}", fp->getNumBits(), bits);
    std::vector<int> on;
    fp->getOnBits(on);
    for (int b : on) out(static_cast<Eigen::Index>(i), b) = 1.0f;
  }
  return out;
}

}  // namespace relfm
