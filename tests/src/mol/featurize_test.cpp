// The featuriser against OGB's precomputed graphs (data/moleculenet/ogb/ogbg_mol*/raw), every atom and
// every bond, plus hand-checked molecules whose values come from python3-rdkit with OGB's rules.
#include "src/mol/featurize.hpp"

#include "io/csv.hpp"
#include "tests/src/mol/mol_test_util.hpp"

#include <gtest/gtest.h>

#include <charconv>

namespace relfm {
namespace {

using test::contains;

// OGB's raw files have no header, so one is made up for the CSV reader.
std::vector<std::vector<int>> read_int_rows(const std::string& path, size_t width) {
  std::string header;
  for (size_t c = 0; c < width; ++c) {
    if (c > 0) header += ',';
    header += 'c';
    header += std::to_string(c);
  }
  const CsvTable table = parse_csv(header + "\n" + read_text_file(path), path);
  std::vector<std::vector<int>> out;
  out.reserve(table.rows.size());
  for (const auto& row : table.rows) {
    std::vector<int> values(width);
    for (size_t c = 0; c < width; ++c) {
      const auto [end, ec] = std::from_chars(row[c].data(), row[c].data() + row[c].size(), values[c]);
      EXPECT_TRUE(ec == std::errc() && end == row[c].data() + row[c].size()) << path << ": '" << row[c] << "'";
    }
    out.push_back(std::move(values));
  }
  return out;
}

struct OracleReport {
  int64_t molecules = 0, atoms = 0, bonds = 0, mismatches = 0;
};

OracleReport compare_with_ogb(const std::string& csv_name, const std::string& ogb_folder) {
  const std::string dir = test::repo_moleculenet_dir();
  const std::string raw = dir + "/ogb/" + ogb_folder + "/raw/";
  const CsvTable molecules = read_csv(dir + "/" + csv_name);
  const auto atom_counts = read_int_rows(raw + "num-node-list.csv.gz", 1);
  const auto bond_counts = read_int_rows(raw + "num-edge-list.csv.gz", 1);
  const auto atom_rows = read_int_rows(raw + "node-feat.csv.gz", 9);
  const auto bond_rows = read_int_rows(raw + "edge.csv.gz", 2);
  const auto bond_feature_rows = read_int_rows(raw + "edge-feat.csv.gz", 3);
  EXPECT_EQ(atom_counts.size(), molecules.rows.size());
  EXPECT_EQ(bond_counts.size(), molecules.rows.size());

  OracleReport report;
  int reported = 0;
  auto mismatch = [&](int64_t mol, const std::string& what) {
    ++report.mismatches;
    if (++reported <= 5) ADD_FAILURE() << csv_name << " molecule " << mol << " (" << molecules.rows[mol][0] << "): " << what;
  };
  size_t atom_at = 0, bond_at = 0;
  for (size_t m = 0; m < molecules.rows.size() && m < atom_counts.size() && m < bond_counts.size(); ++m) {
    const int n_atoms = atom_counts[m][0], n_bonds = bond_counts[m][0];
    std::string error;
    const auto graph = smiles_to_graph(molecules.rows[m][0], &error);
    if (!graph) {
      mismatch(m, "RDKit failed: " + error);
    } else if (graph->num_atoms != n_atoms || graph->num_bonds() != n_bonds) {
      mismatch(m, "size " + std::to_string(graph->num_atoms) + "/" + std::to_string(graph->num_bonds()) + " vs OGB " +
                      std::to_string(n_atoms) + "/" + std::to_string(n_bonds));
    } else {
      for (int a = 0; a < n_atoms; ++a)
        for (int c = 0; c < 9; ++c)
          if (graph->atom_features[a][c] != atom_rows[atom_at + a][c])
            mismatch(m, "atom " + std::to_string(a) + " feature " + std::to_string(c) + ": " +
                            std::to_string(graph->atom_features[a][c]) + " vs OGB " + std::to_string(atom_rows[atom_at + a][c]));
      for (int b = 0; b < n_bonds; ++b) {
        for (int k = 0; k < 2; ++k)
          if (graph->bonds[b][k] != bond_rows[bond_at + b][k]) mismatch(m, "bond " + std::to_string(b) + " endpoints");
        for (int c = 0; c < 3; ++c)
          if (graph->bond_features[b][c] != bond_feature_rows[bond_at + b][c])
            mismatch(m, "bond " + std::to_string(b) + " feature " + std::to_string(c) + ": " +
                            std::to_string(graph->bond_features[b][c]) + " vs OGB " +
                            std::to_string(bond_feature_rows[bond_at + b][c]));
      }
    }
    atom_at += n_atoms;
    bond_at += n_bonds;
    ++report.molecules;
  }
  EXPECT_EQ(atom_at, atom_rows.size());
  EXPECT_EQ(bond_at, bond_rows.size());
  EXPECT_EQ(bond_at, bond_feature_rows.size());
  report.atoms = static_cast<int64_t>(atom_at);
  report.bonds = static_cast<int64_t>(bond_at);
  return report;
}

TEST(FeaturizeOgbOracle, BaceEveryAtomAndBondMatches) {
  const OracleReport r = compare_with_ogb("bace.csv", "ogbg_molbace");
  EXPECT_EQ(r.molecules, 1513);
  EXPECT_EQ(r.atoms, 51577);
  EXPECT_EQ(r.bonds, 55768);
  EXPECT_EQ(r.mismatches, 0);
}

TEST(FeaturizeOgbOracle, BbbpEveryAtomAndBondMatches) {
  const OracleReport r = compare_with_ogb("bbbp.csv", "ogbg_molbbbp");
  EXPECT_EQ(r.molecules, 2039);
  EXPECT_EQ(r.atoms, 49068);
  EXPECT_EQ(r.bonds, 52921);
  EXPECT_EQ(r.mismatches, 0);
}

using Atom = std::array<uint8_t, 9>;
using BondFeatures = std::array<uint8_t, 3>;

MolGraph graph_of(const std::string& smiles) {
  std::string error;
  auto graph = smiles_to_graph(smiles, &error);
  EXPECT_TRUE(graph.has_value()) << smiles << ": " << error;
  return graph.value_or(MolGraph{});
}

// Expected values printed by python3-rdkit 2022.09 with OGB's atom_to_feature_vector / bond_to_feature_vector.
TEST(Featurize, ExplicitHydrogensAreRemovedAsInMolFromSmiles) {
  const MolGraph g = graph_of("[H]C([H])([H])O");
  ASSERT_EQ(g.num_atoms, 2);
  EXPECT_EQ(g.atom_features[0], (Atom{5, 0, 4, 5, 3, 0, 2, 0, 0}));
  EXPECT_EQ(g.atom_features[1], (Atom{7, 0, 2, 5, 1, 0, 2, 0, 0}));
}

TEST(Featurize, ChiralityChargeRadicalsAndMiscValues) {
  EXPECT_EQ(graph_of("C[C@H](N)O").atom_features[1], (Atom{5, 2, 4, 5, 1, 0, 2, 0, 0}));
  EXPECT_EQ(graph_of("C[S@](=O)c1ccccc1").atom_features[1], (Atom{15, 2, 3, 5, 0, 0, 2, 0, 0}));
  EXPECT_EQ(graph_of("[NH4+]").atom_features[0], (Atom{6, 0, 4, 6, 4, 0, 2, 0, 0}));
  EXPECT_EQ(graph_of("[CH2]C").atom_features[0], (Atom{5, 0, 3, 5, 2, 1, 2, 0, 0}));
  EXPECT_EQ(graph_of("*C").atom_features[0], (Atom{118, 0, 1, 5, 0, 0, 5, 0, 0}));  // dummy atom, unspecified hybridisation
  const MolGraph salt = graph_of("[Cl-].[Na+]");
  EXPECT_EQ(salt.atom_features[0], (Atom{16, 0, 0, 4, 0, 0, 2, 0, 0}));
  EXPECT_EQ(salt.atom_features[1], (Atom{10, 0, 0, 6, 0, 0, 5, 0, 0}));
  EXPECT_EQ(salt.num_bonds(), 0);
  EXPECT_EQ(graph_of("[U]").atom_features[0], (Atom{91, 0, 0, 5, 0, 0, 5, 0, 0}));
}

TEST(Featurize, BondTypeStereoConjugationAndOrder) {
  const MolGraph e = graph_of("F/C=C/F");
  ASSERT_EQ(e.num_bonds(), 3);
  EXPECT_EQ(e.bond_features[1], (BondFeatures{1, 2, 0}));  // double, STEREOE
  EXPECT_EQ(graph_of("F/C=C\\F").bond_features[1], (BondFeatures{1, 1, 0}));  // STEREOZ
  EXPECT_EQ(graph_of("CC#N").bond_features[1], (BondFeatures{2, 0, 0}));

  const MolGraph phenol = graph_of("c1ccccc1O");
  ASSERT_EQ(phenol.num_bonds(), 7);
  EXPECT_EQ(phenol.bonds[5], (std::array<int32_t, 2>{5, 6}));
  EXPECT_EQ(phenol.bond_features[5], (BondFeatures{0, 0, 1}));  // single but conjugated with the ring
  EXPECT_EQ(phenol.bonds[6], (std::array<int32_t, 2>{5, 0}));   // ring closure comes last, as RDKit stores it
  EXPECT_EQ(phenol.bond_features[6], (BondFeatures{3, 0, 1}));
  EXPECT_EQ(phenol.atom_features[0], (Atom{5, 0, 3, 5, 1, 0, 1, 1, 1}));
}

TEST(Featurize, EmptySmilesIsAMoleculeWithoutAtoms) {
  const MolGraph g = graph_of("");
  EXPECT_EQ(g.num_atoms, 0);
  EXPECT_TRUE(g.atom_features.empty());
  EXPECT_TRUE(g.bonds.empty());
}

TEST(Featurize, UnparsableSmilesGiveNulloptAndRdkitsReason) {
  const std::pair<const char*, const char*> cases[] = {
      {"C1CC", "unclosed ring"},
      {"xyz", "syntax error"},
      {"CC(C", "extra open parentheses"},
      {"C(C)(C)(C)(C)C", "Explicit valence"},
      {"c1cccc1", "kekulize"},
  };
  for (const auto& [smiles, reason] : cases) {
    std::string error;
    EXPECT_FALSE(smiles_to_graph(smiles, &error).has_value()) << smiles;
    EXPECT_TRUE(contains(error, reason)) << smiles;
    EXPECT_FALSE(smiles_to_graph(smiles).has_value()) << smiles;  // no error string asked for
  }
}

TEST(FeatureSet, SimpleKeepsAtomicNumberChiralityBondTypeAndStereo) {
  const auto atoms = atom_feature_columns(FeatureSet::kSimple);
  const auto bonds = bond_feature_columns(FeatureSet::kSimple);
  EXPECT_EQ(std::vector<int>(atoms.begin(), atoms.end()), (std::vector<int>{0, 1}));
  EXPECT_EQ(std::vector<int>(bonds.begin(), bonds.end()), (std::vector<int>{0, 1}));
  const auto atom_dims = atom_feature_dims(FeatureSet::kSimple);
  const auto bond_dims = bond_feature_dims(FeatureSet::kSimple);
  EXPECT_EQ(std::vector<int32_t>(atom_dims.begin(), atom_dims.end()), (std::vector<int32_t>{119, 5}));
  EXPECT_EQ(std::vector<int32_t>(bond_dims.begin(), bond_dims.end()), (std::vector<int32_t>{5, 6}));
}

TEST(FeatureSet, FullKeepsEveryColumnWithOgbTableSizes) {
  const auto atoms = atom_feature_columns(FeatureSet::kFull);
  const auto bonds = bond_feature_columns(FeatureSet::kFull);
  EXPECT_EQ(std::vector<int>(atoms.begin(), atoms.end()), (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(std::vector<int>(bonds.begin(), bonds.end()), (std::vector<int>{0, 1, 2}));
  const auto atom_dims = atom_feature_dims(FeatureSet::kFull);
  const auto bond_dims = bond_feature_dims(FeatureSet::kFull);
  EXPECT_TRUE(std::equal(atom_dims.begin(), atom_dims.end(), kOgbAtomFeatureDims.begin(), kOgbAtomFeatureDims.end()));
  EXPECT_TRUE(std::equal(bond_dims.begin(), bond_dims.end(), kOgbBondFeatureDims.begin(), kOgbBondFeatureDims.end()));
}

TEST(FeatureSet, ParsesNamesAndRejectsOthers) {
  EXPECT_EQ(parse_feature_set("simple"), FeatureSet::kSimple);
  EXPECT_EQ(parse_feature_set("full"), FeatureSet::kFull);
  EXPECT_EQ(feature_set_name(FeatureSet::kSimple), "simple");
  EXPECT_TRUE(contains(test::input_error_of([] { parse_feature_set("fancy"); }), "unknown feature set 'fancy'"));
}

TEST(FeatureSet, SelectedColumnsStayInsideTheirTables) {
  for (const FeatureSet set : {FeatureSet::kFull, FeatureSet::kSimple}) {
    const MolGraph g = graph_of("C[C@H](N)c1ccc(/C=C/[N+](=O)[O-])cc1*");
    const auto columns = atom_feature_columns(set);
    const auto dims = atom_feature_dims(set);
    ASSERT_EQ(columns.size(), dims.size());
    for (const auto& atom : g.atom_features)
      for (size_t k = 0; k < columns.size(); ++k) EXPECT_LT(atom[columns[k]], dims[k]);
  }
}

}  // namespace
}  // namespace relfm
