// The 12 shipped MoleculeNet files load with the counts of data/moleculenet/SOURCES.md, labels keep NaN
// for missing values, and data sets with official OGB splits use those files.
#include "io/moleculenet_files.hpp"

#include "io/csv.hpp"

#include "src/mol/featurize.hpp"
#include "tests/src/mol/mol_test_util.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <optional>

namespace relfm {
namespace {

using test::contains;
using test::input_error_of;

struct LabelStats {
  int64_t present = 0, missing = 0;
  double mean = 0;  // over present labels
};

LabelStats label_stats(const MatF& labels) {
  LabelStats s;
  double sum = 0;
  for (Eigen::Index k = 0; k < labels.size(); ++k) {
    const float v = labels.data()[k];
    if (std::isnan(v)) {
      ++s.missing;
    } else {
      ++s.present;
      sum += v;
    }
  }
  s.mean = s.present ? sum / static_cast<double>(s.present) : 0;
  return s;
}

LabelledSmiles load(std::string_view name) {
  return load_moleculenet(moleculenet_spec(name), test::repo_moleculenet_dir());
}

void expect_every_smiles_parses(const LabelledSmiles& data) {
  int failures = 0;
  for (int64_t i = 0; i < data.num_molecules(); ++i) {
    std::string error;
    if (!smiles_to_graph(data.smiles[i], &error) && ++failures <= 5)
      ADD_FAILURE() << data.source_path << ":" << data.source_lines[i] << ": " << error;
  }
  EXPECT_EQ(failures, 0) << data.source_path;
}

struct Expected {
  const char* name;
  int64_t rows;
  int64_t tasks;
  int64_t missing;  // counted with Python's csv module
  double mean;      // of the present labels (= fraction positive for classification)
  bool parse_all;   // RDKit-parse every SMILES here (the big sets only load, to keep the suite fast)
};

class MoleculeNetFile : public ::testing::TestWithParam<Expected> {};

TEST_P(MoleculeNetFile, LoadsWithDocumentedCountsAndLabels) {
  const Expected& want = GetParam();
  const MoleculeNetSpec& spec = moleculenet_spec(want.name);
  const LabelledSmiles data = load(want.name);
  EXPECT_EQ(data.num_molecules(), want.rows);
  EXPECT_EQ(data.num_tasks(), want.tasks);
  EXPECT_EQ(spec.num_tasks, want.tasks);
  EXPECT_EQ(data.labels.rows(), want.rows);
  EXPECT_EQ(data.labels.cols(), want.tasks);
  ASSERT_EQ(static_cast<int64_t>(data.source_lines.size()), want.rows);
  EXPECT_EQ(data.source_lines.front(), 2);
  EXPECT_EQ(data.source_lines.back(), want.rows + 1);  // one physical line per row in every shipped file
  const LabelStats stats = label_stats(data.labels);
  EXPECT_EQ(stats.missing, want.missing);
  EXPECT_NEAR(stats.mean, want.mean, 1e-4);  // want.mean is rounded to 4 decimals
  if (spec.task_type == TaskType::kClassification) {
    for (Eigen::Index k = 0; k < data.labels.size(); ++k) {
      const float v = data.labels.data()[k];
      ASSERT_TRUE(std::isnan(v) || v == 0.0f || v == 1.0f) << want.name << " label " << v;
    }
  }
  if (want.parse_all) expect_every_smiles_parses(data);
}

INSTANTIATE_TEST_SUITE_P(
    AllTwelve, MoleculeNetFile,
    ::testing::Values(Expected{"bace", 1513, 1, 0, 0.4567, true}, Expected{"bbbp", 2039, 1, 0, 0.7651, true},
                      Expected{"clintox", 1478, 2, 0, 0.5061, true}, Expected{"esol", 1128, 1, 0, -3.0501, true},
                      Expected{"freesolv", 642, 1, 0, -3.8030, true}, Expected{"lipo", 4200, 1, 0, 2.1863, true},
                      Expected{"sider", 1427, 27, 0, 0.5676, true}, Expected{"tox21", 7831, 12, 16026, 0.0752, true},
                      Expected{"toxcast", 8576, 617, 3757732, 0.0826, false},
                      Expected{"hiv", 41127, 1, 0, 0.0351, false}, Expected{"muv", 93087, 17, 1332593, 0.0020, false},
                      Expected{"qm8", 21786, 16, 0, 0.1301, false}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(MoleculeNet, Tox21KeepsMissingLabelsAsNaN) {
  const LabelledSmiles data = load("tox21");
  const LabelStats stats = label_stats(data.labels);
  EXPECT_NEAR(static_cast<double>(stats.present) / static_cast<double>(data.labels.size()), 0.829, 0.0005);
  // First row: CCOc1ccc2nc(S(N)(=O)=O)sc2c1,0,0,1,,,0,0,1,0,0,0,0
  EXPECT_EQ(data.smiles[0], "CCOc1ccc2nc(S(N)(=O)=O)sc2c1");
  EXPECT_EQ(data.labels(0, 2), 1.0f);
  EXPECT_TRUE(std::isnan(data.labels(0, 3)));
  EXPECT_TRUE(std::isnan(data.labels(0, 4)));
  EXPECT_EQ(data.labels(0, 5), 0.0f);
  EXPECT_EQ(data.task_names.front(), "NR-AR");
  EXPECT_EQ(data.task_names.back(), "SR-p53");
}

TEST(MoleculeNet, Qm8KeepsItsDuplicatedColumns) {
  const LabelledSmiles data = load("qm8");
  ASSERT_EQ(data.num_tasks(), 16);
  for (int t = 4; t < 8; ++t) {
    EXPECT_EQ(data.task_names[t], data.task_names[t + 4]);
    EXPECT_TRUE(data.labels.col(t) == data.labels.col(t + 4)) << data.task_names[t];
  }
}

TEST(MoleculeNet, RegistryNamesFilesMetricsAndSplits) {
  EXPECT_EQ(moleculenet_specs().size(), 12u);
  EXPECT_EQ(moleculenet_spec("esol").file_name, "delaney.csv");
  EXPECT_EQ(moleculenet_spec("muv").metric, Metric::kAveragePrecision);
  EXPECT_EQ(moleculenet_spec("qm8").metric, Metric::kMae);
  EXPECT_EQ(moleculenet_spec("lipo").metric, Metric::kRmse);
  EXPECT_EQ(moleculenet_spec("freesolv").task_type, TaskType::kRegression);
  EXPECT_EQ(moleculenet_spec("hiv").metric, Metric::kRocAuc);
  EXPECT_EQ(metric_name(Metric::kAveragePrecision), "ap");
  EXPECT_FALSE(higher_is_better(Metric::kMae));
  EXPECT_TRUE(higher_is_better(Metric::kRocAuc));
  for (const auto& spec : moleculenet_specs()) {
    const bool official = spec.name == "bace" || spec.name == "bbbp" || spec.name == "esol" || spec.name == "freesolv";
    EXPECT_EQ(spec.has_official_split(), official) << spec.name;
    const bool regression = spec.name == "esol" || spec.name == "freesolv" || spec.name == "lipo" || spec.name == "qm8";
    EXPECT_EQ(spec.task_type == TaskType::kRegression, regression) << spec.name;
  }
  const std::string message = input_error_of([] { moleculenet_spec("pcba"); });
  EXPECT_TRUE(contains(message, "unknown MoleculeNet data set 'pcba'"));
  EXPECT_TRUE(contains(message, "bace, bbbp, clintox, esol, freesolv, lipo, sider, tox21, toxcast, hiv, muv, qm8"));
}

TEST(MoleculeNet, OfficialSplitFilesAreUsedWhereTheyExist) {
  // esol and freesolv: recomputing breaks ties differently, so only the files give OGB's split.
  for (const char* name : {"esol", "freesolv", "bace"}) {
    const MoleculeNetSpec& spec = moleculenet_spec(name);
    const LabelledSmiles data = load(name);
    const IndexSplit split = moleculenet_split(spec, data, test::repo_moleculenet_dir());
    const std::string dir = test::repo_moleculenet_dir();
    EXPECT_EQ(split.train, read_index_file(official_split_path(spec, "train", dir))) << name;
    EXPECT_EQ(split.valid, read_index_file(official_split_path(spec, "valid", dir))) << name;
    EXPECT_EQ(split.test, read_index_file(official_split_path(spec, "test", dir))) << name;
    const IndexSplit recomputed = scaffold_split(data.smiles);
    const bool same = recomputed.train == split.train && recomputed.valid == split.valid && recomputed.test == split.test;
    EXPECT_EQ(same, std::string(name) == "bace") << name;
  }
}

TEST(MoleculeNet, RecomputesTheScaffoldSplitWithoutOfficialFiles) {
  const MoleculeNetSpec& spec = moleculenet_spec("clintox");
  const LabelledSmiles data = load("clintox");
  const IndexSplit split = moleculenet_split(spec, data, test::repo_moleculenet_dir());
  const IndexSplit recomputed = scaffold_split(data.smiles);
  EXPECT_EQ(split.train, recomputed.train);
  EXPECT_EQ(split.valid, recomputed.valid);
  EXPECT_EQ(split.test, recomputed.test);
  EXPECT_EQ(static_cast<int64_t>(split.train.size() + split.valid.size() + split.test.size()), data.num_molecules());
  EXPECT_LE(static_cast<double>(split.train.size()), 0.8 * static_cast<double>(data.num_molecules()));
}

TEST(MoleculeNet, BrokenOfficialSplitFilesAreInputErrors) {
  test::ScratchDir dir;
  dir.write("bace.csv", "mol,Class\nCCO,1\nc1ccccc1,0\nCCN,1\n");
  const MoleculeNetSpec& spec = moleculenet_spec("bace");
  const LabelledSmiles data = load_moleculenet(spec, dir.file(""));
  const std::string split_dir = "ogb/ogbg_molbace/split/scaffold/";
  dir.write_gz(split_dir + "train.csv.gz", "0\n1\n");
  dir.write_gz(split_dir + "valid.csv.gz", "5\n");
  dir.write_gz(split_dir + "test.csv.gz", "2\n");
  const std::string out_of_range = input_error_of([&] { moleculenet_split(spec, data, dir.file("")); });
  EXPECT_TRUE(contains(out_of_range, "valid.csv.gz:1: row index 5 is out of range for 3 molecules"));
  dir.write_gz(split_dir + "valid.csv.gz", "1\n");
  const std::string twice = input_error_of([&] { moleculenet_split(spec, data, dir.file("")); });
  EXPECT_TRUE(contains(twice, "valid.csv.gz:1: row index 1 appears twice"));
  dir.write_gz(split_dir + "valid.csv.gz", "");
  std::filesystem::remove(dir.file(split_dir + "test.csv.gz"));
  EXPECT_TRUE(contains(input_error_of([&] { moleculenet_split(spec, data, dir.file("")); }), "cannot open"));
}

TEST(ReadLabelledCsv, ParsesNumbersEmptyAsNaNAndAnySmilesColumn) {
  test::ScratchDir dir;
  const std::string path = dir.write("x.csv", "id,smiles,a,b\n1,CCO, 2.5 ,\n2,CCN,+1e-3,nan\n3,\"C,C\",-4,NaN\n");
  const LabelledSmiles data = read_labelled_csv(path, 1);
  EXPECT_EQ(data.task_names, (std::vector<std::string>{"id", "a", "b"}));
  EXPECT_EQ(data.smiles, (std::vector<std::string>{"CCO", "CCN", "C,C"}));
  EXPECT_EQ(data.source_lines, (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(data.labels(0, 1), 2.5f);
  EXPECT_EQ(data.labels(1, 1), static_cast<float>(1e-3));
  EXPECT_EQ(data.labels(2, 1), -4.0f);
  for (int r = 0; r < 3; ++r) EXPECT_TRUE(std::isnan(data.labels(r, 2)));
  EXPECT_EQ(data.labels(2, 0), 3.0f);
}

TEST(ReadLabelledCsv, UnparsableLabelNamesFileLineAndColumn) {
  test::ScratchDir dir;
  const std::string path = dir.write("bad.csv", "smiles,y1,y2\nCCO,1,0\nCCN,0,active\n");
  EXPECT_EQ(input_error_of([&] { read_labelled_csv(path); }),
            path + ":3: column 'y2': cannot parse 'active' as a number");
  const std::string inf = dir.write("inf.csv", "smiles,y\nCCO,inf\n");
  EXPECT_EQ(input_error_of([&] { read_labelled_csv(inf); }), inf + ":2: column 'y': cannot parse 'inf' as a number");
  EXPECT_TRUE(contains(input_error_of([&] { read_labelled_csv(path, 3); }), "SMILES column 3 does not exist"));
}

TEST(ReadLabelledCsv, TaskCountMustMatchTheRegistry) {
  test::ScratchDir dir;
  dir.write("bbbp.csv", "smiles,p_np,extra\nCCO,1,0\n");
  EXPECT_TRUE(contains(input_error_of([&] { load_moleculenet(moleculenet_spec("bbbp"), dir.file("")); }),
                       "expected 1 task columns for 'bbbp', found 2"));
}

TEST(MoleculeNet, DataDirFollowsRelfmDataDir) {
  const char* before = std::getenv("RELFM_DATA_DIR");
  const std::optional<std::string> saved = before ? std::optional<std::string>(before) : std::nullopt;
  ::setenv("RELFM_DATA_DIR", "/somewhere/data", 1);
  EXPECT_EQ(moleculenet_data_dir(), "/somewhere/data/moleculenet");
  ::unsetenv("RELFM_DATA_DIR");
  EXPECT_EQ(moleculenet_data_dir(), std::string(RELFM_SOURCE_DIR) + "/data/moleculenet");
  if (saved) ::setenv("RELFM_DATA_DIR", saved->c_str(), 1);
}

}  // namespace
}  // namespace relfm
