#include "src/mol/scaffold.hpp"

#include "io/csv.hpp"
#include "tests/src/mol/mol_test_util.hpp"

#include <gtest/gtest.h>

#include <set>

namespace relfm {
namespace {

using test::contains;
using test::input_error_of;
using Indices = std::vector<int64_t>;

std::vector<std::string> smiles_column(const std::string& csv_name) {
  const CsvTable table = read_csv(test::repo_moleculenet_dir() + "/" + csv_name);
  std::vector<std::string> smiles;
  for (const auto& row : table.rows) smiles.push_back(row[0]);
  return smiles;
}

IndexSplit official_split(const std::string& ogb_folder) {
  const std::string dir = test::repo_moleculenet_dir() + "/ogb/" + ogb_folder + "/split/scaffold/";
  return {read_index_file(dir + "train.csv.gz"), read_index_file(dir + "valid.csv.gz"),
          read_index_file(dir + "test.csv.gz")};
}

std::string scaffold_of(const std::string& smiles, bool include_chirality = true) {
  return murcko_scaffold_smiles(smiles, include_chirality).value_or("<parse failure>");
}

// Expected strings printed by python3-rdkit 2022.09: MurckoScaffold.MurckoScaffoldSmiles(s, includeChirality=...).
TEST(MurckoScaffold, MatchesRdkitPython) {
  EXPECT_EQ(scaffold_of("Cc1cc(Oc2nccc(CCC)c2)ccc1"), "c1ccc(Oc2ccccn2)cc1");
  EXPECT_EQ(scaffold_of("CCO"), "");  // no ring: every acyclic molecule shares the empty scaffold
  EXPECT_EQ(scaffold_of("c1ccc2ccccc2c1CC(=O)O"), "c1ccc2ccccc2c1");
  EXPECT_EQ(scaffold_of("C1CC1C2CC2"), "C1CC1C1CC1");
  EXPECT_EQ(scaffold_of("[H]C1=CC=CC=C1"), "c1ccccc1");
  EXPECT_EQ(scaffold_of("O=C(N[C@@H]1CCCC[C@H]1N)c1ccccc1"), "O=C(NC1CCCCC1)c1ccccc1");
}

TEST(MurckoScaffold, ChiralityIsKeptOnlyWhenAsked) {
  // bace rows 177 and 1475.
  EXPECT_EQ(scaffold_of("Brc1cc2c(OC(C[C@@]23N=C(N)N(C)C3=O)(C)C)cc1", true), "O=C1NC=N[C@@]12CCOc1ccccc12");
  EXPECT_EQ(scaffold_of("Brc1cc2c(OC(C[C@@]23N=C(N)N(C)C3=O)(C)C)cc1", false), "O=C1NC=NC12CCOc1ccccc12");
  EXPECT_EQ(scaffold_of("O=C1N(C)C(=NC(C1)(C)[C@H]1C[C@@H]1c1ccccc1)N", true), "O=C1CC([C@H]2C[C@@H]2c2ccccc2)N=CN1");
  EXPECT_EQ(scaffold_of("O=C1N(C)C(=NC(C1)(C)[C@H]1C[C@@H]1c1ccccc1)N", false), "O=C1CC(C2CC2c2ccccc2)N=CN1");
}

TEST(MurckoScaffold, UnparsableSmilesGiveNulloptWithReason) {
  std::string error;
  EXPECT_FALSE(murcko_scaffold_smiles("C1CC", true, &error).has_value());
  EXPECT_TRUE(contains(error, "unclosed ring"));
}

TEST(ScaffoldSplit, ReproducesOfficialOgbSplitOfBace) {
  const auto smiles = smiles_column("bace.csv");
  const IndexSplit official = official_split("ogbg_molbace");
  const IndexSplit ours = scaffold_split(smiles);
  EXPECT_EQ(ours.train, official.train);
  EXPECT_EQ(ours.valid, official.valid);
  EXPECT_EQ(ours.test, official.test);
  EXPECT_EQ(official.train.size() + official.valid.size() + official.test.size(), smiles.size());
  std::set<std::string> distinct;
  for (const auto& s : smiles) distinct.insert(scaffold_of(s));
  EXPECT_EQ(distinct.size(), 738u);  // counted by python3-rdkit
}

TEST(ScaffoldSplit, ReproducesOfficialOgbSplitOfBbbp) {
  const auto smiles = smiles_column("bbbp.csv");
  const IndexSplit official = official_split("ogbg_molbbbp");
  const IndexSplit ours = scaffold_split(smiles);
  EXPECT_EQ(ours.train, official.train);
  EXPECT_EQ(ours.valid, official.valid);
  EXPECT_EQ(ours.test, official.test);
  // Distinct scaffolds counted by python3-rdkit, the same strings C++ must produce.
  std::set<std::string> distinct;
  for (const auto& s : smiles) distinct.insert(scaffold_of(s));
  EXPECT_EQ(distinct.size(), 1102u);
}

TEST(ScaffoldSplit, BiggestFamiliesFillTrainFirst) {
  // Families: A = {0,1,2,3}, B = {4,5}, C = {6,7}, D = {8}, E = {9}. n = 10, cut-offs 6.5 and 8.5.
  // Order: A(4), C(2, last 7), B(2, last 5), E(1, last 9), D(1, last 8).
  // A → train (4); C → train (6); B → valid (8 > 6.5, 8 ≤ 8.5); E → test (9 > 8.5); D → test.
  const std::vector<std::string> keys = {"A", "A", "A", "A", "B", "B", "C", "C", "D", "E"};
  const IndexSplit s = split_by_scaffold(keys, 0.65, 0.2);
  EXPECT_EQ(s.train, (Indices{0, 1, 2, 3, 6, 7}));
  EXPECT_EQ(s.valid, (Indices{4, 5}));
  EXPECT_EQ(s.test, (Indices{8, 9}));
}

TEST(ScaffoldSplit, EqualSizesGoByLastIndexAndFamiliesThatDoNotFitAreSkipped) {
  // n = 7, cut-offs 4.2 and 4.9. B (size 3, last 5) comes before A (size 3, last 2): B → train;
  // A → test (6 > 4.2 and 6 > 4.9); the singleton C still fits train afterwards (no early stop).
  const std::vector<std::string> keys = {"A", "A", "A", "B", "B", "B", "C"};
  const IndexSplit s = split_by_scaffold(keys, 0.6, 0.1);
  EXPECT_EQ(s.train, (Indices{3, 4, 5, 6}));
  EXPECT_EQ(s.valid, (Indices{}));
  EXPECT_EQ(s.test, (Indices{0, 1, 2}));
}

TEST(ScaffoldSplit, RejectsBadFractionsAndUnparsableSmiles) {
  EXPECT_TRUE(contains(input_error_of([] { split_by_scaffold({"A"}, 0.9, 0.2); }), "fractions"));
  EXPECT_TRUE(contains(input_error_of([] { split_by_scaffold({"A"}, -0.1, 0.2); }), "fractions"));
  EXPECT_TRUE(contains(input_error_of([] { scaffold_split({"CCO", "C1CC"}); }), "molecule 1 (SMILES 'C1CC')"));
}

}  // namespace
}  // namespace relfm
