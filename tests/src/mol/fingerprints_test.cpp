// Fingerprints against Python RDKit 2022.09 (Debian's python3-rdkit, the same release as the C++ library):
// MACCSkeys.GenMACCSKeys(m).GetOnBits() and AllChem.GetMorganFingerprintAsBitVect(m, 2, nBits=64).
#include "src/mol/fingerprints.hpp"

#include "tests/src/mol/mol_test_util.hpp"

#include <gtest/gtest.h>

namespace relfm {
namespace {

struct Expected {
  std::string smiles;
  std::vector<int> maccs, morgan64;
};

const std::vector<Expected>& expected() {
  static const std::vector<Expected> e = {
      {"CCO", {82, 109, 114, 139, 153, 155, 157, 160, 164}, {2, 16, 30, 33, 38, 39}},
      {"c1ccccc1O", {113, 127, 139, 143, 152, 157, 162, 163, 164, 165}, {0, 1, 2, 5, 17, 22, 36, 39, 41, 47, 50}},
      {"CC(=O)Nc1ccc(O)cc1",
       {92, 110, 113, 117, 127, 131, 133, 135, 139, 143, 151, 152, 154, 156, 157, 158, 159, 160, 161, 162, 163, 164, 165},
       {0, 2, 10, 11, 17, 18, 22, 24, 33, 36, 39, 41, 50, 53, 57, 61, 63}},
      {"[Na+].[Cl-]", {35, 44, 49, 103, 134, 166}, {10, 61}},
  };
  return e;
}

std::vector<int> on_bits(const MatF& fp, int64_t row) {
  std::vector<int> on;
  for (int64_t b = 0; b < fp.cols(); ++b) {
    EXPECT_TRUE(fp(row, b) == 0.0f || fp(row, b) == 1.0f);
    if (fp(row, b) != 0.0f) on.push_back(static_cast<int>(b));
  }
  return on;
}

TEST(Fingerprints, MaccsAndMorganMatchPythonRdkit) {
  std::vector<std::string> smiles;
  for (const auto& e : expected()) smiles.push_back(e.smiles);
  const MatF maccs = fingerprints(smiles, {});
  const MatF morgan = fingerprints(smiles, {FingerprintKind::kMorgan, 2, 64});
  ASSERT_EQ(maccs.cols(), 167);
  ASSERT_EQ(morgan.cols(), 64);
  for (size_t i = 0; i < smiles.size(); ++i) {
    EXPECT_EQ(on_bits(maccs, static_cast<int64_t>(i)), expected()[i].maccs) << smiles[i];
    EXPECT_EQ(on_bits(morgan, static_cast<int64_t>(i)), expected()[i].morgan64) << smiles[i];
  }
}

TEST(Fingerprints, BadInputsNameTheMoleculeOrTheSetting) {
  EXPECT_TRUE(test::contains(test::input_error_of([] { fingerprints({"CCO", "C1CC"}, {}); }), "molecule 1 (SMILES 'C1CC')"));
  EXPECT_TRUE(test::contains(test::input_error_of([] { fingerprints({"CCO"}, {FingerprintKind::kMorgan, 2, 0}); }),
                             "at least 1 bit"));
  EXPECT_TRUE(test::contains(test::input_error_of([] { parse_fingerprint_kind("ecfp"); }), "choices: maccs, morgan"));
  EXPECT_EQ(parse_fingerprint_kind("morgan"), FingerprintKind::kMorgan);
}

}  // namespace
}  // namespace relfm
