// io/ under real MPI ranks: collective HDF5 writes read back identically, shards and checkpoints round
// trip, and missing / foreign / truncated files are clear, collective input errors (never a crash or hang).
#include "io/checkpoint.hpp"
#include "io/results.hpp"
#include "io/shard.hpp"
#include "src/mol/molecule_set_builder.hpp"
#include "tests/mpi_test_util.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
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

void write_one(const std::string& path, const Comm& comm, Model& m, StateSection st,
               const std::function<void()>& before_commit = {}) {
  CheckpointWriter w(comm, CheckpointMeta{comm.size(), "[train]\nlr = 1e-3\n", "test_kind"});
  w.add_state("trainer", std::move(st));
  w.add_params("model", m.store);
  w.add_optimizer("optimizer", *m.opt);
  w.write(path, before_commit);
}

TEST(Checkpoint, RoundTripsSectionsParametersOptimiserStateAndPerRankBuffers) {
  Comm comm;
  const std::string path = testing::scratch_path(comm, "ckpt.h5");
  Model a(1.0f);
  a.store.get("layer.weight").grad = MatF::Constant(3, 4, 0.5f);
  a.store.get("layer.weight").has_grad = true;
  a.opt->step();
  a.store.get("layer.running_mean").value = MatF::Constant(1, 4, static_cast<float>(comm.rank()));
  StateSection st;
  st.ints["epoch"] = 3;
  st.reals["loss"] = 0.25;
  st.texts["sampler"] = "walk";
  st.arrays["history"] = {0.5, 0.4, 0.3};
  // Per-rank state of different lengths per rank (a queue position, a walker pool).
  StateSection mine;
  mine.arrays["queue"] = std::vector<double>(static_cast<size_t>(comm.rank() + 1), 10.0 * comm.rank());
  // Two parameter stores and two optimisers, as a bi-level job has.
  Model router(3.0f);
  {
    CheckpointWriter w(comm, CheckpointMeta{comm.size(), "[train]\nlr = 1e-3\n", "test_kind"});
    w.add_state("trainer", st);
    w.add_params("model", a.store);
    w.add_optimizer("optimizer", *a.opt);
    w.add_params("router", router.store);
    w.add_optimizer("router_optimizer", *router.opt);
    w.add_rank_state("queue", mine);
    w.write(path);
  }
  Model b(0.0f), router_b(0.0f);
  CheckpointReader r(path, comm);
  EXPECT_EQ(r.meta().world_size, comm.size());
  EXPECT_EQ(r.meta().job_kind, "test_kind");
  EXPECT_EQ(r.meta().config, "[train]\nlr = 1e-3\n");
  EXPECT_TRUE(r.has_section("router"));
  EXPECT_FALSE(r.has_section("sampler"));
  r.read_params("model", b.store);
  r.read_optimizer("optimizer", *b.opt);
  r.read_params("router", router_b.store);
  const StateSection got = r.read_state("trainer");
  const StateSection queue = r.read_rank_state("queue");
  r.close();
  EXPECT_EQ(b.store.get("layer.weight").value, a.store.get("layer.weight").value);
  EXPECT_EQ(b.store.get("layer.running_mean").value, MatF::Constant(1, 4, static_cast<float>(comm.rank())));
  EXPECT_EQ(router_b.store.get("layer.weight").value, MatF::Constant(3, 4, 3.0f));
  EXPECT_EQ(b.opt->steps(), 1);
  for (size_t i = 0; i < a.opt->state().size(); ++i) EXPECT_EQ(*b.opt->state()[i].second, *a.opt->state()[i].second);
  EXPECT_EQ(got.get_int("epoch"), 3);
  EXPECT_EQ(got.get_real("loss"), 0.25);
  EXPECT_EQ(got.get_text("sampler"), "walk");
  EXPECT_EQ(got.get_array("history"), (std::vector<double>{0.5, 0.4, 0.3}));
  EXPECT_EQ(queue.get_array("queue"), mine.arrays["queue"]);
}

TEST(Checkpoint, AnInterruptedWriteLeavesThePreviousOneLoadable) {
  Comm comm;
  const std::string path = testing::scratch_path(comm, "ckpt_interrupted.h5");
  Model first(1.0f), second(2.0f);
  StateSection st;
  st.ints["epoch"] = 1;
  write_one(path, comm, first, st);
  st.ints["epoch"] = 2;
  EXPECT_THROW(write_one(path, comm, second, st, [] { throw std::runtime_error("killed mid-write"); }), std::runtime_error);
  comm.barrier();
  Model loaded(0.0f);
  CheckpointReader r(path, comm);
  r.read_params("model", loaded.store);
  EXPECT_EQ(r.read_state("trainer").get_int("epoch"), 1);
  EXPECT_EQ(loaded.store.get("layer.weight").value, MatF::Constant(3, 4, 1.0f));
}

TEST(Checkpoint, ADifferentModelIsAnInputErrorNamingTheTensor) {
  Comm comm;
  const std::string path = testing::scratch_path(comm, "ckpt_model.h5");
  Model a(1.0f);
  write_one(path, comm, a, StateSection{});
  ParamStore<float> other;
  other.add("layer.weight", MatF::Zero(3, 5));
  CheckpointReader r(path, comm);
  try {
    r.read_params("model", other);
    FAIL();
  } catch (const CollectiveError& e) {
    EXPECT_EQ(e.kind(), CollectiveError::Kind::kInput);
    EXPECT_NE(std::string(e.what()).find("layer.weight"), std::string::npos) << e.what();
  }
  try {
    r.read_state("sampler");
    FAIL();
  } catch (const CollectiveError& e) {
    EXPECT_NE(std::string(e.what()).find("no section 'sampler'"), std::string::npos) << e.what();
  }
  try {
    r.read_state("model");  // a params section read as state
    FAIL();
  } catch (const CollectiveError& e) {
    EXPECT_NE(std::string(e.what()).find("holds params"), std::string::npos) << e.what();
  }
}

TEST(Checkpoint, AVersionOneCheckpointIsRefusedNamingBothVersions) {
  Comm comm;
  const std::string path = testing::scratch_path(comm, "ckpt_v1.h5");
  h5::write_atomically(path, comm, [&](h5::File& f) {
    f.set_attr("/", "format", std::string(kCheckpointFormat));
    f.set_attr("/", "format_version", int64_t{1});
    f.set_attr("/", "world_size", int64_t{comm.size()});
    f.write_text("/config", "");
  });
  try {
    CheckpointReader r(path, comm);
    FAIL();
  } catch (const CollectiveError& e) {
    EXPECT_EQ(e.kind(), CollectiveError::Kind::kInput);
    const std::string m = e.what();
    EXPECT_NE(m.find("format_version 1"), std::string::npos) << m;
    EXPECT_NE(m.find("format_version 2"), std::string::npos) << m;
  }
}

TEST(H5, ListsGroupsAttributesAndTheirTypes) {
  Comm comm;
  const std::string path = testing::scratch_path(comm, "list.h5");
  h5::write_atomically(path, comm, [&](h5::File& f) {
    f.write_replicated("/a/x", std::vector<double>{1.0});
    f.write_replicated("/a/b/y", std::vector<int64_t>{2});
    f.set_attr("/a", "n", int64_t{3});
    f.set_attr("/a", "r", 0.5);
    f.set_attr("/a", "s", std::string("text"));
  });
  h5::File f = h5::File::open(path, comm);
  EXPECT_EQ(f.list("/a"), (std::vector<std::string>{"b", "x"}));
  EXPECT_TRUE(f.is_group("/a/b"));
  EXPECT_FALSE(f.is_group("/a/x"));
  const auto all = f.walk("/");
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0], (std::pair<std::string, bool>{"/a", false}));
  EXPECT_EQ(all[2], (std::pair<std::string, bool>{"/a/b/y", true}));
  EXPECT_EQ(f.attr_names("/a"), (std::vector<std::string>{"n", "r", "s"}));
  EXPECT_TRUE(f.attr_is_integer("/a", "n"));
  EXPECT_FALSE(f.attr_is_integer("/a", "r"));
  EXPECT_TRUE(f.attr_is_string("/a", "s"));
  f.close();
}

TEST(H5, VariableLengthStringsRoundTripFromAnyRankCount) {
  Comm comm;
  const std::string path = testing::scratch_path(comm, "strings.h5");
  const std::vector<std::string> values = {"solve", "", "propose \"analogous\" problems", "aggregate — «UTF-8»"};
  h5::write_on_root(path, comm, [&](h5::File& f) {
    f.write_strings("/llm/replies", values);
    f.write_replicated("/llm/calls", std::vector<int64_t>{1, 2, 3, 4});
    f.set_attr("/", "format", std::string("relfm.test"));
  });
  h5::File f = h5::File::open(path, comm);
  EXPECT_EQ(f.read_strings("/llm/replies"), values);
  EXPECT_EQ(f.read_rows<int64_t>("/llm/calls"), (std::vector<int64_t>{1, 2, 3, 4}));
  f.close();
  // Through MPI-IO they are refused with a message that says what to do instead.
  const std::string other = testing::scratch_path(comm, "strings_mpiio.h5");
  h5::File g = h5::File::create(other, comm);
  try {
    g.write_strings("/x", values);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("write_on_root"), std::string::npos) << e.what();
  }
  g.close();
}

TEST(H5, AppendedRowsGrowAChunkedDatasetInRankOrder) {
  Comm comm;
  const std::string path = testing::scratch_path(comm, "append.h5");
  h5::write_atomically(path, comm, [&](h5::File& f) {
    // Three appends; rank r adds r + 1 rows of (step, rank) each time, and rank 0 none in the second.
    for (int64_t step = 0; step < 3; ++step) {
      const int64_t rows = step == 1 && comm.rank() == 0 ? 0 : comm.rank() + 1;
      std::vector<int64_t> block;
      for (int64_t i = 0; i < rows; ++i) block.insert(block.end(), {step, comm.rank()});
      f.append_rows("/gates/trajectory", block.data(), rows, 2, /*chunk_rows=*/4);
    }
  });
  h5::File f = h5::File::open(path, comm);
  const auto all = f.read_rows<int64_t>("/gates/trajectory");
  size_t k = 0;
  for (int64_t step = 0; step < 3; ++step)
    for (int r = 0; r < comm.size(); ++r)
      for (int64_t i = 0; i < (step == 1 && r == 0 ? 0 : r + 1); ++i) {
        ASSERT_LT(k + 1, all.size());
        EXPECT_EQ(all[k], step);
        EXPECT_EQ(all[k + 1], r);
        k += 2;
      }
  EXPECT_EQ(k, all.size());
  f.close();
}

TEST(Results, WritesAnyJobsSeriesAndTheDeclaredSummary) {
  Comm comm;
  const std::string path = testing::scratch_path(comm, "results.h5");
  ResultsDocument doc;
  doc.job = "t";
  doc.job_kind = "test_kind";
  doc.rule = {"valid_rmse", "test_rmse", false};  // lower is better
  doc.attrs["dataset"] = "toy";
  doc.world_size = comm.size();
  for (int s = 0; s < 3; ++s) {
    SeedResults r;
    r.seed = s;
    r.best_select = std::nan("");
    for (int e = 1; e <= 3; ++e) {
      const std::map<std::string, double> values = {{"valid_rmse", e == 2 ? 0.1 : 0.5 + e},
                                                    {"test_rmse", 1.0 + s + 0.01 * e},
                                                    {"train_loss", 1.0 / e}};
      r.add_epoch(e, values, {{"rank_train_seconds", std::vector<double>(static_cast<size_t>(comm.size()), 1.0)}}, doc.rule);
    }
    r.rank_counts["rank_items"] = std::vector<int64_t>(static_cast<size_t>(comm.size()), 7);
    r.completed = s < 2;
    doc.seeds.push_back(r);
  }
  EXPECT_EQ(doc.seeds[0].best_epoch, 2);
  write_results(path, comm, doc);
  h5::File f = h5::File::open(path, comm);
  EXPECT_EQ(f.attr_string("/", "format"), kResultsFormat);
  EXPECT_EQ(f.attr_int("/", "seeds_completed"), 2);
  EXPECT_EQ(f.attr_string("/", "report_series"), "test_rmse");
  EXPECT_EQ(f.attr_string("/", "dataset"), "toy");
  EXPECT_NEAR(f.attr_double("/", "summary_mean"), (1.02 + 2.02) / 2, 1e-12);
  EXPECT_NEAR(f.attr_double("/", "summary_std"), 0.5, 1e-12);
  EXPECT_EQ(f.dims("/seeds/1/rank_train_seconds"), (std::vector<int64_t>{3, comm.size()}));
  EXPECT_EQ(f.read_rows<int64_t>("/summary/best_epoch"), (std::vector<int64_t>{2, 2, 2}));
  EXPECT_DOUBLE_EQ(f.read_rows<double>("/seeds/2/test_rmse")[1], 1.0 + 2 + 0.02);
  EXPECT_EQ(f.read_rows<int64_t>("/seeds/0/rank_items")[0], 7);
  f.close();
}


// What a job resumed without its checkpoint keeps: every part of the document written comes back equal,
// told apart by shape and type (per-epoch, per-rank, counts, tables), with run labels and attributes.
TEST(Results, ReadBackEqualsTheDocumentWritten) {
  Comm comm;
  const std::string path = testing::scratch_path(comm, "results_roundtrip.h5");
  ResultsDocument doc;
  doc.job = "t";
  doc.job_kind = "test_kind";
  doc.config = "[train]\nepochs = 2\n";
  doc.rule = {"valid_auc", "test_auc", true};
  doc.attrs["dataset"] = "toy";
  doc.number_attrs["scale"] = 2.5;
  doc.integer_attrs["rounds"] = (int64_t{1} << 53) + 1;  // beyond a double's integers: must stay exact
  doc.world_size = comm.size();
  for (int s = 0; s < 2; ++s) {
    SeedResults r;
    r.seed = 10 + s;
    r.label = s == 1 ? "round2" : "";
    r.best_select = std::nan("");
    for (int e = 1; e <= 2; ++e) {
      std::vector<double> per_rank;
      for (int p = 0; p < comm.size(); ++p) per_rank.push_back(100.0 * e + p);
      r.add_epoch(e, {{"valid_auc", 0.5 + 0.1 * e}, {"test_auc", 0.3 * e + s}}, {{"rank_seconds", per_rank}}, doc.rule);
      ResultsTable rows;
      rows.columns = {"a", "b"};
      rows.values = {1.0 * e, 2.0, 3.0, 4.0 * s};
      r.add_table_rows("gates", e, rows);
    }
    r.rank_counts["rank_items"] = std::vector<int64_t>(static_cast<size_t>(comm.size()), 7 + s);
    r.attrs["kept"] = "x, y";
    r.completed = s == 0;
    doc.seeds.push_back(r);
  }
  write_results(path, comm, doc);
  h5::File f = h5::File::open(path, comm);
  const ResultsDocument back = read_results(f);
  f.close();
  EXPECT_EQ(back.job, doc.job);
  EXPECT_EQ(back.job_kind, doc.job_kind);
  EXPECT_EQ(back.config, doc.config);
  EXPECT_EQ(back.world_size, doc.world_size);
  EXPECT_EQ(back.rule.select, "valid_auc");
  EXPECT_EQ(back.rule.report, "test_auc");
  EXPECT_TRUE(back.rule.higher_is_better);
  EXPECT_EQ(back.attrs.at("dataset"), "toy");
  EXPECT_EQ(back.number_attrs.at("scale"), 2.5);
  EXPECT_EQ(back.integer_attrs.at("rounds"), (int64_t{1} << 53) + 1);
  EXPECT_EQ(back.number_attrs.count("rounds"), 0u);
  ASSERT_EQ(back.seeds.size(), 2u);
  for (size_t s = 0; s < 2; ++s) {
    const SeedResults &a = doc.seeds[s], &b = back.seeds[s];
    EXPECT_EQ(b.seed, a.seed);
    EXPECT_EQ(b.name(), a.name());
    EXPECT_EQ(b.completed, a.completed);
    EXPECT_EQ(b.epoch, a.epoch);
    EXPECT_EQ(b.series, a.series);
    EXPECT_EQ(b.rank_series, a.rank_series);
    EXPECT_EQ(b.rank_counts, a.rank_counts);
    EXPECT_EQ(b.best_epoch, a.best_epoch);
    EXPECT_EQ(b.best_select, a.best_select);
    EXPECT_EQ(b.report_at_best, a.report_at_best);
    EXPECT_EQ(b.attrs, a.attrs);
    ASSERT_EQ(b.tables.size(), 1u);
    EXPECT_EQ(b.tables.at("gates").columns, a.tables.at("gates").columns);
    EXPECT_EQ(b.tables.at("gates").values, a.tables.at("gates").values);
    EXPECT_EQ(b.tables.at("gates").epochs, a.tables.at("gates").epochs);
  }
}

// A run resumed on another number of ranks: its per-rank series keeps the widest row, NaN elsewhere.
TEST(Results, PerRankSeriesOfARunThatChangedRankCountKeepsTheWidestRows) {
  SeedResults r;
  const SummaryRule rule{"v", "t", true};
  r.add_epoch(1, {{"v", 1.0}, {"t", 1.0}}, {{"sec", {1.0, 2.0}}}, rule);
  r.add_epoch(2, {{"v", 1.0}, {"t", 1.0}}, {{"sec", {3.0}}}, rule);
  r.add_epoch(3, {{"v", 1.0}, {"t", 1.0}}, {{"sec", {4.0, 5.0, 6.0, 7.0}}}, rule);
  const std::vector<double>& rows = r.rank_series.at("sec");
  ASSERT_EQ(rows.size(), 12u);
  const std::vector<double> expect = {1, 2, NAN, NAN, 3, NAN, NAN, NAN, 4, 5, 6, 7};
  for (size_t i = 0; i < rows.size(); ++i) {
    if (std::isnan(expect[i])) EXPECT_TRUE(std::isnan(rows[i])) << i;
    else EXPECT_EQ(rows[i], expect[i]) << i;
  }
}

}  // namespace
}  // namespace relfm
