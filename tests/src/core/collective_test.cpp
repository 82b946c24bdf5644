// The one-process Communicator: every collective degenerates to a copy or the identity, with the same
// argument checks and error agreement as the MPI implementation (tests/dist/collective_test.cpp).
#include "src/core/collective.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace relfm {
namespace {

TEST(LocalCommunicator, CollectivesAreCopiesOnOneRank) {
  const LocalCommunicator comm;
  EXPECT_EQ(comm.rank(), 0);
  EXPECT_EQ(comm.size(), 1);
  EXPECT_TRUE(comm.is_root());
  std::vector<double> v = {1.5, -2.0};
  comm.allreduce_sum(v.data(), v.size());
  comm.broadcast(v);
  EXPECT_EQ(v, (std::vector<double>{1.5, -2.0}));
  EXPECT_EQ(comm.sum(3), 3);
  EXPECT_EQ(comm.max(2.5f), 2.5f);
  EXPECT_EQ(comm.exclusive_scan(9), 0);
  EXPECT_EQ(comm.allgather(int64_t{4}), std::vector<int64_t>{4});
  EXPECT_EQ(comm.allgatherv(std::vector<int32_t>{1, 2, 3}), (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(comm.allgather_strings({"a", "bc"}), (std::vector<std::string>{"a", "bc"}));
  std::vector<float> out(3);
  const std::vector<float> in = {1, 2, 3};
  comm.reduce_scatter_sum(in.data(), out.data(), {3});
  EXPECT_EQ(out, in);
  EXPECT_EQ(comm.alltoallv(std::vector<uint8_t>{7, 8}, {2}), (std::vector<uint8_t>{7, 8}));
  EXPECT_THROW(comm.alltoallv(std::vector<uint8_t>{7, 8}, {3}), Error);  // counts disagree with the data
  Request r = comm.iallreduce_sum(v.data(), v.size());
  EXPECT_FALSE(r.pending());
  r.wait();
  EXPECT_EQ(comm.split(3, 1)->size(), 1);
}

TEST(LocalCommunicator, NeighbourhoodOfSelfLoops) {
  const LocalCommunicator comm;
  const auto halo = comm.neighbourhood({0, 0}, {0, 0});
  const std::vector<double> send = {1, 2, 3};
  std::vector<double> recv(3);
  halo->exchange(send.data(), {1, 2}, recv.data(), {1, 2});
  EXPECT_EQ(recv, send);
  EXPECT_THROW(halo->exchange(send.data(), {1, 2}, recv.data(), {3}), Error);  // one count per source
  EXPECT_THROW(comm.neighbourhood({1}, {1}), Error);                         // rank 1 does not exist
  EXPECT_EQ(comm.neighbourhood({}, {})->sources().size(), 0u);
}

TEST(LocalCommunicator, AgreementRethrowsAsOneCollectiveError) {
  const LocalCommunicator comm;
  try {
    comm.collective([] { fail_input("bad.csv:3: missing column"); });
    FAIL();
  } catch (const CollectiveError& e) {
    EXPECT_EQ(std::string(e.what()), "bad.csv:3: missing column");
    EXPECT_EQ(e.kind(), CollectiveError::Kind::kInput);
    EXPECT_EQ(e.origin_rank(), 0);
  }
  EXPECT_EQ(comm.collective([] { return 5; }), 5);
  EXPECT_THROW(comm.collective([] { throw std::runtime_error("x"); }), CollectiveError);
}

TEST(DataType, SizesMatchTheirTypes) {
  EXPECT_EQ(data_type_size(data_type_of<float>()), sizeof(float));
  EXPECT_EQ(data_type_size(data_type_of<double>()), sizeof(double));
  EXPECT_EQ(data_type_size(data_type_of<int64_t>()), sizeof(int64_t));
  EXPECT_EQ(data_type_size(data_type_of<char>()), 1u);
}

}  // namespace
}  // namespace relfm
