// Job files: typed keys with bounds, list and table-array values, resume-blocking keys, and job kinds
// picked by job.kind with errors that name the key, the line and the choices.
#include <algorithm>
#include <fstream>
#include "jobs/job_kinds.hpp"

#include <gtest/gtest.h>

namespace relfm::jobs {
namespace {

const Schema& schema() {
  static const Schema s({
      {"a.n", ValueKind::kInt, "3", "an int", {}, 1, 10, Resume::kBlocks},
      {"a.x", ValueKind::kReal, "0.5", "a real", {}, 0.0, 1.0},
      {"a.xs", ValueKind::kRealList, "[0.1, 0.2]", "reals", {}, 0.0},
      {"a.names", ValueKind::kStringList, "[]", "datasets", {"bace", "bbbp", "tox21"}},
      {"a.points", ValueKind::kTableList, "[]", "endpoints"},
      {"b.s", ValueKind::kString, "\"k\"", "a string"},
      {"b.seeds", ValueKind::kIntList, "[0]", "seeds", {}, 0, {}, Resume::kExtends},
  });
  return s;
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(JobConfig, ReadsListsAndArraysOfTables) {
  const JobConfig c = JobConfig::parse(
      "[a]\nxs = [1, 0.25]\nnames = [\"bace\", \"tox21\"]\n[[a.points]]\nurl = \"http://127.0.0.1:8080\"\nslots = 4\n"
      "[[a.points]]\nurl = \"http://127.0.0.1:8081\"\nslots = 2\nkey = true\n",
      "t.toml", {}, schema());
  EXPECT_EQ(c.get_real_list("a.xs"), (std::vector<double>{1.0, 0.25}));
  EXPECT_EQ(c.get_string_list("a.names"), (std::vector<std::string>{"bace", "tox21"}));
  const auto& points = c.get_table_list("a.points");
  ASSERT_EQ(points.size(), 2u);
  EXPECT_EQ(std::get<std::string>(points[1].at("url")), "http://127.0.0.1:8081");
  EXPECT_EQ(std::get<int64_t>(points[0].at("slots")), 4);
  EXPECT_TRUE(std::get<bool>(points[1].at("key")));
  // The effective configuration is valid TOML that reads back to the same values.
  const JobConfig again = JobConfig::parse(c.to_toml(), "again", {}, schema());
  for (const auto& spec : schema().keys()) EXPECT_EQ(again.value_text(spec.key), c.value_text(spec.key)) << spec.key;
  // A single string where a list is expected is a list of one (handy with --set).
  EXPECT_EQ(JobConfig::parse("", "t", {"a.names=bbbp"}, schema()).get_string_list("a.names"),
            (std::vector<std::string>{"bbbp"}));
}

TEST(JobConfig, BoundsAndChoicesNameTheKeyAndLine) {
  EXPECT_EQ(message_of([] { JobConfig::parse("[a]\nn = 0\n", "t.toml", {}, schema()); }),
            "t.toml, line 2: key 'a.n' must be between 1 and 10, not 0");
  EXPECT_EQ(message_of([] { JobConfig::parse("", "t.toml", {"a.x=1.5"}, schema()); }),
            "--set a.x=1.5: key 'a.x' must be between 0 and 1, not 1.5");
  EXPECT_EQ(message_of([] { JobConfig::parse("[a]\nxs = [0.5, -1]\n", "t.toml", {}, schema()); }),
            "t.toml, line 2: key 'a.xs' must be at least 0, not -1");
  EXPECT_EQ(message_of([] { JobConfig::parse("[a]\nnames = [\"bace\", \"muv2\"]\n", "t.toml", {}, schema()); }),
            "t.toml, line 2: key 'a.names' must be one of bace, bbbp, tox21, not 'muv2'");
  EXPECT_NE(message_of([] { JobConfig::parse("[a]\npoints = 3\n", "t.toml", {}, schema()); }).find("array of tables"),
            std::string::npos);
}

TEST(JobConfig, ResumeConflictsListOnlyBlockingKeys) {
  const JobConfig saved = JobConfig::parse("[a]\nn = 3\nx = 0.1\n", "saved", {}, schema());
  const JobConfig same_but_free = JobConfig::parse("[a]\nn = 3\nx = 0.9\n", "now", {}, schema());
  EXPECT_TRUE(same_but_free.resume_conflicts(saved).empty());
  const JobConfig changed = JobConfig::parse("[a]\nn = 4\n", "now", {}, schema());
  EXPECT_EQ(changed.resume_conflicts(saved), (std::vector<std::string>{"a.n = 3 in the checkpoint, 4 now"}));
  EXPECT_NE(schema().reference_markdown().find("Must match to resume."), std::string::npos);
  EXPECT_NE(schema().reference_markdown().find("Range 1 to 10."), std::string::npos);
}

TEST(JobConfig, AGrowingListResumesOnlyWhenTheSavedOneIsItsPrefix) {
  const JobConfig saved = JobConfig::parse("[b]\nseeds = [3, 1]\n", "saved", {}, schema());
  auto conflicts = [&](const char* now) {
    return JobConfig::parse(std::string("[b]\nseeds = ") + now + "\n", "now", {}, schema()).resume_conflicts(saved);
  };
  EXPECT_TRUE(conflicts("[3, 1]").empty());
  EXPECT_TRUE(conflicts("[3, 1, 0, 7]").empty());
  EXPECT_EQ(conflicts("[3]"), (std::vector<std::string>{"b.seeds = [3, 1] in the checkpoint, [3] now (it may only grow at its end)"}));
  EXPECT_EQ(conflicts("[1, 3, 0]").size(), 1u);
  EXPECT_EQ(conflicts("[3, 2, 1]").size(), 1u);
  EXPECT_NE(schema().reference_markdown().find("May only grow at its end to resume"), std::string::npos);
}

TEST(JobKinds, JobKindDefaultsToGinAndPicksTheKindsSchema) {
  const JobConfig gin = parse_job_config("[data]\nshard = \"s.h5\"\n[output]\ndir = \"o\"\n", "g.toml", {});
  EXPECT_EQ(gin.get_string("job.kind"), "gin");
  EXPECT_EQ(gin.get_int("model.hidden"), 300);
  const JobConfig reg = parse_job_config("[job]\nkind = \"synthetic_regression\"\n[output]\ndir = \"o\"\n", "r.toml", {});
  EXPECT_EQ(reg.get_int("data.rows"), 600);
  EXPECT_EQ(reg.get_int("train.epochs"), 50);  // the trainer's shared keys
  // A GIN key is unknown to the regression job.
  EXPECT_NE(message_of([] {
              parse_job_config("[job]\nkind = \"synthetic_regression\"\n[model]\nhidden = 3\n", "r.toml", {});
            }).find("unknown key 'model.hidden'"),
            std::string::npos);
  // The message lists every registered kind in name order; the kinds this build must have are checked
  // by name so that a kind lost from the registry fails here, while a new kind needs no edit of this test.
  const std::vector<std::string> kinds = job_kind_names();
  for (const char* expected : {"gin", "gin_group", "graphcl", "molgroup", "squares", "synthetic_regression", "tp"})
    EXPECT_NE(std::find(kinds.begin(), kinds.end(), expected), kinds.end()) << expected;
  EXPECT_TRUE(std::is_sorted(kinds.begin(), kinds.end()));
  std::string choices;
  for (const std::string& k : kinds) choices += (choices.empty() ? "" : ", ") + k;
  EXPECT_EQ(message_of([] { parse_job_config("[job]\nkind = \"gni\"\n", "k.toml", {}); }),
            "k.toml, line 2: key 'job.kind' must be one of " + choices + ", not 'gni'");
  EXPECT_EQ(message_of([] { parse_job_config("", "k.toml", {"job.kind=x"}); }),
            "--set job.kind=x: key 'job.kind' must be one of " + choices + ", not 'x'");
  // Every kind's schema builds (no key declared twice) and documents every key.
  for (const std::string& kind : job_kind_names())
    for (const KeySpec& k : job_schema(kind).keys()) EXPECT_FALSE(k.doc.empty()) << kind << " " << k.key;
}

TEST(JobKinds, ResultsNameTheCpu) {
  const std::string cpu = cpu_description();
  EXPECT_FALSE(cpu.empty());
  if (std::ifstream("/proc/cpuinfo").good()) {  // Linux: the model name and its family / model numbers
    EXPECT_NE(cpu, "unknown");
    EXPECT_NE(cpu.find("family "), std::string::npos) << cpu;
  }
  EXPECT_EQ(run_environment_attrs().at("cpu"), cpu);
}

}  // namespace
}  // namespace relfm::jobs
