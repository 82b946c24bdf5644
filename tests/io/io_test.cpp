// io/ under real MPI ranks: collective HDF5 writes read back identically, shards and checkpoints round
// trip, and missing / foreign / truncated files are clear, collective input errors (never a crash or hang).
#include "io/checkpoint.hpp"
#include "io/results.hpp"
#include "io/shard.hpp"
#include "src/mol/molecule_set_builder.hpp"
#include "tests/mpi_test_util.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace relfm {
namespace {

using dist::CollectiveError;
using dist::Comm;

TEST(H5, RowsFromEveryRankStackInRankOrder) {
  Comm comm;
  const std::string path = testing::scratch_path(comm, "rows.h5");
  std::vector<int64_t> mine(static_cast<size_t>(2 * (comm.rank() + 1)));
  for (size_t i = 0; i < mine.size(); ++i) mine[i] = 100 * comm.rank() + static_cast<int64_t>(i);
  {
    h5::File f = h5::File::create(path, comm);
    f.write_rows("/g/rows", mine.data(), static_cast<int64_t>(mine.size()) / 2, 2);
    const std::vector<double> shared{1.5, 2.5};
    f.write_replicated("/shared", shared);
    f.write_text("/text", "hello [x]");
    f.set_attr("/", "format", std::string("relfm.test"));
    f.set_attr("/g", "count", int64_t{42});
    f.set_attr("/g", "names", std::vector<std::string>{"a", "bcd", ""});
    f.close();
  }
  h5::File f = h5::File::open(path, comm);
  const auto all = f.read_rows<int64_t>("/g/rows");
  size_t k = 0;
  for (int r = 0; r < comm.size(); ++r)
    for (int i = 0; i < 2 * (r + 1); ++i) EXPECT_EQ(all[k++], 100 * r + i);
  EXPECT_EQ(f.dims("/g/rows"), (std::vector<int64_t>{static_cast<int64_t>(all.size()) / 2, 2}));
  const int64_t rows = static_cast<int64_t>(all.size()) / 2;
  EXPECT_EQ(f.read_rows<int64_t>("/g/rows", rows - 1, rows), (std::vector<int64_t>{all[all.size() - 2], all.back()}));
  EXPECT_THROW(f.read_rows<int64_t>("/g/rows", rows, rows + 1), InputError);
  EXPECT_EQ(f.read_rows<double>("/shared"), (std::vector<double>{1.5, 2.5}));
  EXPECT_EQ(f.read_text("/text"), "hello [x]");
  EXPECT_EQ(f.attr_int("/g", "count"), 42);
  EXPECT_EQ(f.attr_strings("/g", "names"), (std::vector<std::string>{"a", "bcd", ""}));
  EXPECT_TRUE(f.exists("/g/rows"));
  EXPECT_FALSE(f.exists("/nope/deeper"));
  EXPECT_THROW(f.expect_format("relfm.results", 1), InputError);
  f.close();
}

// Opening must fail the same way on every rank, with the path in the message.
void expect_open_fails(const Comm& comm, const std::string& path, const std::string& words) {
  try {
    comm.collective([&] { h5::File f = h5::File::open(path, comm); });
    FAIL() << "opened " << path;
  } catch (const CollectiveError& e) {
    EXPECT_EQ(e.kind(), CollectiveError::Kind::kInput);
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
  }
}

TEST(H5, MissingForeignAndTruncatedFilesAreInputErrors) {
  Comm comm;
  expect_open_fails(comm, testing::scratch_path(comm, "absent.h5"), "does not exist");
  const std::string text = testing::scratch_path(comm, "text.h5");
  if (comm.is_root()) std::ofstream(text) << "smiles,label\nCCO,1\n";
  comm.barrier();
  expect_open_fails(comm, text, "not an HDF5 file");
  // A real file cut in half, as a crashed copy would leave it.
  const std::string cut = testing::scratch_path(comm, "cut.h5");
  {
    h5::File f = h5::File::create(cut, comm);
    std::vector<float> big(200000, 1.0f);
    f.write_replicated("/big", big);
    f.close();
  }
  if (comm.is_root()) std::filesystem::resize_file(cut, std::filesystem::file_size(cut) / 2);
  comm.barrier();
  expect_open_fails(comm, cut, "truncated");
}

MoleculeSet featurise(const std::vector<std::string>& smiles, int64_t first_row) {
  std::vector<MolGraph> graphs;
  MatF labels(static_cast<int64_t>(smiles.size()), 2);
  for (size_t i = 0; i < smiles.size(); ++i) {
    graphs.push_back(*smiles_to_graph(smiles[i]));
    labels(static_cast<int64_t>(i), 0) = static_cast<float>(first_row + static_cast<int64_t>(i));
    labels(static_cast<int64_t>(i), 1) = i % 2 ? std::nanf("") : 0.5f;
  }
  return build_molecule_set(graphs, labels);
}

TEST(Shard, CollectiveWriteReadsBackAsOneSet) {
  Comm comm;
  const std::vector<std::string> all{"CCO", "c1ccccc1O", "[Na+].[Cl-]", "CC(=O)Nc1ccc(O)cc1", "C", "N#N", "CCCCCC", "O=C=O"};
  const int64_t n = static_cast<int64_t>(all.size());
  const int64_t begin = n * comm.rank() / comm.size(), end = n * (comm.rank() + 1) / comm.size();
  const std::vector<std::string> mine(all.begin() + begin, all.begin() + end);
  std::vector<int64_t> lines;
  for (int64_t r = begin; r < end; ++r) lines.push_back(r + 2);
  ShardInfo info;
  info.dataset = "toy";
  info.task_type = "regression";
  info.metric = "rmse";
  info.split_method = "scaffold";
  info.task_names = {"t0", "t1"};
  info.skipped_lines = {99};
  ShardSplit split{{0, 1, 2, 3, 4}, {5, 6}, {7}};
  const std::string path = testing::scratch_path(comm, "toy_shard.h5");
  write_molecule_shard(path, comm, featurise(mine, begin), mine, lines, info, split);
  const MoleculeShard shard = read_molecule_shard(path, comm, true);
  const MoleculeSet expected = featurise(all, 0);
  EXPECT_EQ(shard.molecules.atom_offsets, expected.atom_offsets);
  EXPECT_EQ(shard.molecules.edge_offsets, expected.edge_offsets);
  EXPECT_EQ(shard.molecules.edge_row_ptr, expected.edge_row_ptr);
  EXPECT_EQ(shard.molecules.edge_src, expected.edge_src);
  EXPECT_EQ(shard.molecules.atom_features, expected.atom_features);
  EXPECT_EQ(shard.molecules.edge_features, expected.edge_features);
  for (int64_t i = 0; i < n; ++i) EXPECT_EQ(shard.molecules.labels(i, 0), static_cast<float>(i));
  EXPECT_TRUE(std::isnan(shard.molecules.labels(1, 1)));
  EXPECT_EQ(shard.smiles, all);
  EXPECT_EQ(shard.split.valid, split.valid);
  EXPECT_EQ(shard.info.task_names, info.task_names);
  EXPECT_EQ(shard.info.skipped_lines, info.skipped_lines);
  EXPECT_EQ(shard.info.num_atoms, expected.num_atoms());
  // Not a shard: a clear error.
  const std::string other = testing::scratch_path(comm, "not_a_shard.h5");
  {
    h5::File f = h5::File::create(other, comm);
    f.set_attr("/", "format", std::string("relfm.results"));
    f.set_attr("/", "format_version", int64_t{1});
    f.close();
  }
  try {
    read_molecule_shard(other, comm);
    FAIL();
  } catch (const CollectiveError& e) {
    EXPECT_NE(std::string(e.what()).find("relfm.results"), std::string::npos) << e.what();
  }
}

struct Model {
  ParamStore<float> store;
  std::unique_ptr<Optimizer<float>> opt;
  explicit Model(float fill) {
    store.add("layer.weight", MatF::Constant(3, 4, fill));
    store.add("layer.running_mean", MatF::Constant(1, 4, fill), false);
    opt = make_optimizer(store, OptimizerConfig{});
  }
};

TEST(Checkpoint, RoundTripsParametersOptimiserStateAndPerRankBuffers) {
  Comm comm;
  const std::string path = testing::scratch_path(comm, "ckpt.h5");
  Model a(1.0f);
  a.store.get("layer.weight").grad = MatF::Constant(3, 4, 0.5f);
  a.store.get("layer.weight").has_grad = true;
  a.opt->step();
  a.store.get("layer.running_mean").value = MatF::Constant(1, 4, static_cast<float>(comm.rank()));
  TrainerState st;
  st.ints["epoch"] = 3;
  st.reals["loss"] = 0.25;
  st.arrays["history"] = {0.5, 0.4, 0.3};
  write_checkpoint(path, comm, a.store, *a.opt, st, CheckpointMeta{comm.size(), "[train]\nlr = 1e-3\n"});

  Model b(0.0f);
  TrainerState got;
  CheckpointMeta meta;
  read_checkpoint(path, comm, b.store, *b.opt, got, meta);
  EXPECT_EQ(b.store.get("layer.weight").value, a.store.get("layer.weight").value);
  EXPECT_EQ(b.store.get("layer.running_mean").value, MatF::Constant(1, 4, static_cast<float>(comm.rank())));
  EXPECT_EQ(b.opt->steps(), 1);
  for (size_t i = 0; i < a.opt->state().size(); ++i) EXPECT_EQ(*b.opt->state()[i].second, *a.opt->state()[i].second);
  EXPECT_EQ(got.get_int("epoch"), 3);
  EXPECT_EQ(got.get_real("loss"), 0.25);
  EXPECT_EQ(got.get_array("history"), (std::vector<double>{0.5, 0.4, 0.3}));
  EXPECT_EQ(meta.world_size, comm.size());
  EXPECT_EQ(meta.config, "[train]\nlr = 1e-3\n");
}

TEST(Checkpoint, AnInterruptedWriteLeavesThePreviousOneLoadable) {
  Comm comm;
  const std::string path = testing::scratch_path(comm, "ckpt_interrupted.h5");
  Model first(1.0f), second(2.0f);
  TrainerState st;
  st.ints["epoch"] = 1;
  write_checkpoint(path, comm, first.store, *first.opt, st, CheckpointMeta{comm.size(), ""});
  st.ints["epoch"] = 2;
  EXPECT_THROW(write_checkpoint(path, comm, second.store, *second.opt, st, CheckpointMeta{comm.size(), ""},
                                [] { throw std::runtime_error("killed mid-write"); }),
               std::runtime_error);
  comm.barrier();
  Model loaded(0.0f);
  TrainerState got;
  CheckpointMeta meta;
  read_checkpoint(path, comm, loaded.store, *loaded.opt, got, meta);
  EXPECT_EQ(got.get_int("epoch"), 1);
  EXPECT_EQ(loaded.store.get("layer.weight").value, MatF::Constant(3, 4, 1.0f));
}

TEST(Checkpoint, ADifferentModelIsAnInputErrorNamingTheTensor) {
  Comm comm;
  const std::string path = testing::scratch_path(comm, "ckpt_model.h5");
  Model a(1.0f);
  write_checkpoint(path, comm, a.store, *a.opt, TrainerState{}, CheckpointMeta{comm.size(), ""});
  ParamStore<float> other;
  other.add("layer.weight", MatF::Zero(3, 5));
  auto opt = make_optimizer(other, OptimizerConfig{});
  TrainerState st;
  CheckpointMeta meta;
  try {
    read_checkpoint(path, comm, other, *opt, st, meta);
    FAIL();
  } catch (const CollectiveError& e) {
    EXPECT_EQ(e.kind(), CollectiveError::Kind::kInput);
    EXPECT_NE(std::string(e.what()).find("layer.weight"), std::string::npos) << e.what();
  }
}

TEST(Results, WritesSummaryOverCompletedSeeds) {
  Comm comm;
  const std::string path = testing::scratch_path(comm, "results.h5");
  ResultsDocument doc;
  doc.job = "t";
  doc.metric = "rocauc";
  doc.world_size = comm.size();
  for (int s = 0; s < 3; ++s) {
    SeedResults r;
    r.seed = s;
    r.completed = s < 2;
    r.epoch = {1, 2};
    r.valid_metric = {0.5, 0.6};
    r.test_metric = {0.4, 0.7 + 0.1 * s};
    r.train_loss = r.train_seconds = r.eval_seconds = r.molecules_per_second = {1, 1};
    r.rank_train_seconds.assign(2 * static_cast<size_t>(comm.size()), 1.0);
    r.rank_allreduce_seconds = r.rank_train_seconds;
    r.best_epoch = 2;
    r.test_at_best = r.test_metric[1];
    doc.seeds.push_back(r);
  }
  write_results(path, comm, doc);
  h5::File f = h5::File::open(path, comm);
  EXPECT_EQ(f.attr_string("/", "format"), kResultsFormat);
  EXPECT_EQ(f.attr_int("/", "seeds_completed"), 2);
  EXPECT_NEAR(f.attr_double("/", "test_mean"), 0.75, 1e-12);
  EXPECT_NEAR(f.attr_double("/", "test_std"), 0.05, 1e-12);
  EXPECT_EQ(f.dims("/seeds/1/rank_train_seconds"), (std::vector<int64_t>{2, comm.size()}));
  EXPECT_DOUBLE_EQ(f.read_rows<double>("/seeds/2/test_rocauc")[1], 0.7 + 0.1 * 2);
  f.close();
}

}  // namespace
}  // namespace relfm
