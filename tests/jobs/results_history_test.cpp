// note_run_environment (jobs/results_history.hpp): each run records where it trained, every distinct
// machine and kernel once, in the order the run met them.
#include "jobs/results_history.hpp"

#include <gtest/gtest.h>

namespace relfm::jobs {
namespace {

TEST(RunEnvironment, ListsEachMachineARunMetOnceInOrder) {
  SeedResults run;
  run.attrs["survivors"] = "bbbp";  // what a job concluded stays as it is
  note_run_environment(run, {{"cpu", "Zen 5"}, {"gemm_key", "eigen"}});
  EXPECT_EQ(run.attrs.at("cpu"), "Zen 5");
  EXPECT_EQ(run.attrs.at("gemm_key"), "eigen");
  note_run_environment(run, {{"cpu", "Zen 5"}, {"gemm_key", "eigen"}});  // resumed on the same machine
  EXPECT_EQ(run.attrs.at("cpu"), "Zen 5");
  note_run_environment(run, {{"cpu", "Zen 3"}, {"gemm_key", "eigen"}});  // then on another
  EXPECT_EQ(run.attrs.at("cpu"), "Zen 5; Zen 3");
  EXPECT_EQ(run.attrs.at("gemm_key"), "eigen");
  note_run_environment(run, {{"cpu", "Zen 5"}, {"gemm_key", "openblas"}});  // back on the first
  EXPECT_EQ(run.attrs.at("cpu"), "Zen 5; Zen 3");
  EXPECT_EQ(run.attrs.at("gemm_key"), "eigen; openblas");
  EXPECT_EQ(run.attrs.at("survivors"), "bbbp");
}

TEST(RunEnvironment, AValueThatContainsAnotherIsStillItsOwnEntry) {
  SeedResults run;
  note_run_environment(run, {{"cpu", "AMD EPYC (family 25 model 1)"}});
  note_run_environment(run, {{"cpu", "AMD EPYC"}});  // a prefix of the first, not the same machine
  EXPECT_EQ(run.attrs.at("cpu"), "AMD EPYC (family 25 model 1); AMD EPYC");
  note_run_environment(run, {{"cpu", "AMD EPYC"}});
  EXPECT_EQ(run.attrs.at("cpu"), "AMD EPYC (family 25 model 1); AMD EPYC");
}

}  // namespace
}  // namespace relfm::jobs
