// dist::agree_gemm_backend: every rank runs rank 0's GEMM choice, and a choice that fails its check on
// any rank is one collective error on all of them.
#include "dist/gemm_select.hpp"

#include <gtest/gtest.h>

namespace relfm::dist {
namespace {

// Wrong on every rank but rank 0: the check passes where rank 0 chose it and fails elsewhere.
class WrongOffRootBackend final : public gemm::Backend {
 public:
  explicit WrongOffRootBackend(int rank) : rank_(rank) {}
  std::string key() const override { return "wrong_off_root"; }
  std::string kernel() const override { return "test"; }
  void multiply(const gemm::Product& p) const override {
    gemm::make_backend("eigen")->multiply(p);
    if (rank_ != 0 && p.m > 0 && p.n > 0) p.c[0] += 1e-2f;
  }

 private:
  int rank_;
};

TEST(GemmSelect, EveryRankRunsRankZerosChoice) {
  Comm comm;
  gemm::reset_for_tests();
  // Ranks disagree locally (as auto selection can when two candidates time alike); rank 0's wins.
  gemm::apply_gemm_request(comm.is_root() ? "eigen" : "auto");
  const gemm::Selection& s = agree_gemm_backend(comm);
  EXPECT_EQ(s.key, "eigen");
  EXPECT_EQ(gemm::active().key(), "eigen");
  std::string key = s.key;
  comm.broadcast(key);
  EXPECT_EQ(key, s.key);
  gemm::reset_for_tests();
}

TEST(GemmSelect, ChoiceFailingOnOneRankIsACollectiveInputError) {
  Comm comm;
  gemm::reset_for_tests();
  const int rank = comm.rank();
  gemm::Factory previous = gemm::register_backend(
      "wrong_off_root", [rank](const std::string&) { return std::make_unique<WrongOffRootBackend>(rank); });
  try {
    select_gemm_backend(comm, "wrong_off_root");
    if (comm.size() > 1) FAIL() << "no error on rank " << comm.rank();
    EXPECT_EQ(gemm::active().key(), "wrong_off_root");  // one rank: rank 0's check passes
  } catch (const CollectiveError& e) {
    EXPECT_GT(comm.size(), 1);
    EXPECT_EQ(e.kind(), CollectiveError::Kind::kInput);
    EXPECT_EQ(e.origin_rank(), 1);
    EXPECT_NE(std::string(e.what()).find("rank 1: GEMM backend 'wrong_off_root'"), std::string::npos) << e.what();
  }
  gemm::register_backend("wrong_off_root", previous);
  gemm::reset_for_tests();
}

TEST(GemmSelect, UnknownBackendIsACollectiveInputError) {
  Comm comm;
  gemm::reset_for_tests();
  try {
    select_gemm_backend(comm, "cublas");
    FAIL();
  } catch (const CollectiveError& e) {
    EXPECT_EQ(e.kind(), CollectiveError::Kind::kInput);
    EXPECT_NE(std::string(e.what()).find("unknown GEMM backend 'cublas'"), std::string::npos) << e.what();
  }
  gemm::reset_for_tests();
}

}  // namespace
}  // namespace relfm::dist
