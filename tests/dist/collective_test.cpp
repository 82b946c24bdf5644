// dist::Comm's collectives at 1, 2 and 4 ranks: every primitive in one call and in rounds (a forced
// tiny per-call limit stands in for messages past INT_MAX elements), owning splits into 2-D groups,
// neighbourhood exchange, non-blocking all-reduce, and collective nodes on the tape that must run their
// backward on every rank.
#include "dist/comm.hpp"
#include "src/tensor/ops.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

namespace relfm::dist {
namespace {

// A hang in a collective would otherwise block until ctest's 300 s timeout kills the whole suite; this
// ends the process after `seconds` with a message naming the test, which fails the run at once.
class Watchdog {
 public:
  Watchdog(int seconds, const char* what) : thread_([this, seconds, what] {
      std::unique_lock<std::mutex> lock(mutex_);
      if (!done_cv_.wait_for(lock, std::chrono::seconds(seconds), [this] { return done_; })) {
        std::fprintf(stderr, "watchdog: '%s' still running after %d s (a collective hangs)\n", what, seconds);
        std::fflush(stderr);
        std::_Exit(124);
      }
    }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    done_cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;
  std::thread thread_;
};

class CommLimits : public ::testing::TestWithParam<int64_t> {
 protected:
  void SetUp() override { comm.set_max_count_per_call(GetParam()); }
  Comm comm;
};
// INT_MAX: one MPI call per collective. 3 and 1: several rounds through the staging buffers.
INSTANTIATE_TEST_SUITE_P(Limits, CommLimits, ::testing::Values(int64_t{INT_MAX}, int64_t{3}, int64_t{1}));

TEST_P(CommLimits, BroadcastAndAllReduceSplitLongMessages) {
  std::vector<double> v(10);
  for (size_t i = 0; i < v.size(); ++i) v[i] = comm.rank() == 0 ? static_cast<double>(i) : -1.0;
  comm.broadcast(v.data(), v.size());
  for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(v[i], static_cast<double>(i));
  std::vector<int64_t> w(11);
  for (size_t i = 0; i < w.size(); ++i) w[i] = comm.rank() + static_cast<int64_t>(i);
  comm.allreduce_sum(w.data(), w.size());
  const int64_t s = comm.size(), ranks = s * (s - 1) / 2;
  for (size_t i = 0; i < w.size(); ++i) EXPECT_EQ(w[i], ranks + s * static_cast<int64_t>(i));
  EXPECT_EQ(comm.max(comm.rank()), s - 1);
  EXPECT_EQ(comm.min(static_cast<double>(comm.rank()) + 0.5), 0.5);
  std::string text = comm.is_root() ? std::string("a longer message than the limit") : std::string();
  comm.broadcast(text);
  EXPECT_EQ(text, "a longer message than the limit");
}

TEST_P(CommLimits, AllGathervAndAllGatherInRankOrder) {
  std::vector<float> mine(static_cast<size_t>(2 * comm.rank() + 1));
  for (size_t i = 0; i < mine.size(); ++i) mine[i] = static_cast<float>(100 * comm.rank() + static_cast<int>(i));
  const std::vector<float> all = comm.allgatherv(mine);
  size_t k = 0;
  for (int r = 0; r < comm.size(); ++r)
    for (int i = 0; i < 2 * r + 1; ++i) EXPECT_EQ(all[k++], static_cast<float>(100 * r + i));
  EXPECT_EQ(k, all.size());
  const std::vector<int64_t> ranks = comm.allgather(static_cast<int64_t>(comm.rank()));
  for (int r = 0; r < comm.size(); ++r) EXPECT_EQ(ranks[static_cast<size_t>(r)], r);
  const auto words = comm.allgather_strings({"rank" + std::to_string(comm.rank())});
  for (int r = 0; r < comm.size(); ++r) EXPECT_EQ(words[static_cast<size_t>(r)], "rank" + std::to_string(r));
}

TEST_P(CommLimits, ReduceScatterSumsEachRanksBlock) {
  const int s = comm.size();
  std::vector<int64_t> counts(static_cast<size_t>(s));
  int64_t total = 0;
  for (int r = 0; r < s; ++r) total += counts[static_cast<size_t>(r)] = 2 + r;  // unequal blocks
  std::vector<double> in(static_cast<size_t>(total));
  for (size_t j = 0; j < in.size(); ++j) in[j] = (comm.rank() + 1) * 1000.0 + static_cast<double>(j);
  std::vector<double> out(static_cast<size_t>(counts[static_cast<size_t>(comm.rank())]), -1.0);
  comm.reduce_scatter_sum(in.data(), out.data(), counts);
  const int64_t first = comm.exclusive_scan(counts[static_cast<size_t>(comm.rank())]);
  for (size_t j = 0; j < out.size(); ++j)
    EXPECT_EQ(out[j], 1000.0 * s * (s + 1) / 2 + static_cast<double>(s) * static_cast<double>(first + static_cast<int64_t>(j)));
}

TEST_P(CommLimits, AllToAllvDeliversEachRanksShare) {
  const int s = comm.size(), me = comm.rank();
  auto count = [](int from, int to) { return static_cast<int64_t>((from + 2 * to) % 4); };  // some are empty
  auto value = [](int from, int to, int64_t i) { return static_cast<int32_t>(10000 * from + 100 * to + i); };
  std::vector<int64_t> send_counts(static_cast<size_t>(s));
  std::vector<int32_t> send;
  for (int q = 0; q < s; ++q) {
    send_counts[static_cast<size_t>(q)] = count(me, q);
    for (int64_t i = 0; i < count(me, q); ++i) send.push_back(value(me, q, i));
  }
  std::vector<int64_t> recv_counts;
  const std::vector<int32_t> got = comm.alltoallv(send, send_counts, &recv_counts);
  size_t k = 0;
  for (int r = 0; r < s; ++r) {
    EXPECT_EQ(recv_counts[static_cast<size_t>(r)], count(r, me));
    for (int64_t i = 0; i < count(r, me); ++i) EXPECT_EQ(got[k++], value(r, me, i));
  }
  EXPECT_EQ(k, got.size());
  EXPECT_THROW(comm.alltoallv(send, std::vector<int64_t>(static_cast<size_t>(s) + 1, 0)), Error);
}

TEST_P(CommLimits, NonBlockingAllReduceCompletesOnWait) {
  std::vector<float> a(7, static_cast<float>(comm.rank() + 1)), b(5, 1.0f);
  Request ra = comm.iallreduce_sum(a.data(), a.size());
  {
    Request rb = comm.iallreduce_sum(b.data(), b.size());  // completed by its destructor
  }
  const float total = comm.size() * (comm.size() + 1) / 2.0f;
  ra.wait();
  EXPECT_FALSE(ra.pending());
  for (float x : a) EXPECT_EQ(x, total);
  for (float x : b) EXPECT_EQ(x, static_cast<float>(comm.size()));
}

TEST_P(CommLimits, NeighbourExchangeAlongARingBothWays) {
  // Halo rows of a partitioned path graph: each rank talks to its predecessor and successor (at 1 rank
  // both are itself, at 2 ranks both are the other rank: duplicate edges carry equal data here).
  const int s = comm.size(), me = comm.rank();
  const int prev = (me + s - 1) % s, next = (me + 1) % s;
  const std::vector<int> peers = {prev, next};
  const auto halo = comm.neighbourhood(peers, peers);
  auto count = [](int from, int to) { return static_cast<int64_t>(1 + from + 2 * to); };
  for (int repeat = 0; repeat < 2; ++repeat) {  // one topology, reused
    std::vector<int64_t> send_counts, recv_counts;
    std::vector<double> send;
    for (int q : peers) {
      send_counts.push_back(count(me, q));
      for (int64_t i = 0; i < count(me, q); ++i) send.push_back(me * 100.0 + static_cast<double>(i) + repeat);
    }
    int64_t total = 0;
    for (int q : peers) recv_counts.push_back(count(q, me)), total += count(q, me);
    std::vector<double> recv(static_cast<size_t>(total), -1.0);
    halo->exchange(send.data(), send_counts, recv.data(), recv_counts);
    size_t k = 0;
    for (int q : peers)
      for (int64_t i = 0; i < count(q, me); ++i) EXPECT_EQ(recv[k++], q * 100.0 + static_cast<double>(i) + repeat);
  }
}

TEST_P(CommLimits, SplitIntoSequenceAndDataParallelGroups) {
  // A 2-D layout: sequence-parallel groups of `seq` consecutive ranks, data-parallel groups across them.
  const int s = comm.size(), me = comm.rank();
  const int seq = s % 2 == 0 ? 2 : 1;
  std::unique_ptr<Communicator> seq_group = comm.split(me / seq, me);
  std::unique_ptr<Communicator> data_group = comm.split(me % seq, me);
  EXPECT_EQ(seq_group->size(), seq);
  EXPECT_EQ(seq_group->rank(), me % seq);
  EXPECT_EQ(data_group->size(), s / seq);
  EXPECT_EQ(data_group->rank(), me / seq);
  // Sums stay inside a group; the split inherits the per-call limit, so long messages still go in rounds.
  std::vector<int64_t> v(5, me);
  seq_group->allreduce_sum(v.data(), v.size());
  const int64_t base = (me / seq) * seq;
  int64_t expected = 0;
  for (int r = 0; r < seq; ++r) expected += base + r;
  for (int64_t x : v) EXPECT_EQ(x, expected);
  // Reverse order by key; a split of a split frees itself as well.
  std::unique_ptr<Comm> reversed = comm.split_comm(0, s - me);
  EXPECT_EQ(reversed->rank(), s - 1 - me);
  EXPECT_EQ(reversed->max_count_per_call(), comm.max_count_per_call());
  const Comm view = *reversed;  // a non-owning copy: reversed still frees the communicator
  EXPECT_EQ(view.get(), reversed->get());
  EXPECT_EQ(view.sum(1), s);
  std::unique_ptr<Communicator> alone = reversed->split(me, 0);
  EXPECT_EQ(alone->size(), 1);
  EXPECT_EQ(alone->sum(7), 7);
}

TEST_P(CommLimits, NegativeSplitColourOnOneRankStopsEveryRank) {
  // The last rank alone passes a bad colour; every rank must throw (none may wait in MPI_Comm_split).
  const int me = comm.rank(), last = comm.size() - 1;
  try {
    comm.split(me == last ? -3 : 0, me);
    ADD_FAILURE() << "split with a negative colour on rank " << last << " returned on rank " << me;
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find(fmt::format("rank {} passed -3", last)), std::string::npos) << e.what();
  }
  EXPECT_EQ(comm.sum(1), comm.size());  // the communicator is still usable
}

// The defect this guards against: Tape::backward skipped nodes that received no gradient, so on a rank
// whose loss ignores the gathered rows the all_gather_rows backward never ran, while the other ranks
// waited in its reduce-scatter for ever.
TEST(CollectiveBackward, RunsOnEveryRankEvenWhereTheLossIgnoresTheGatheredRows) {
  Watchdog watchdog(60, "CollectiveBackward");
  Comm comm;
  const bool ignores = comm.rank() % 2 == 1;
  for (int variant = 0; variant < 2; ++variant) {
    Tape<double> tape;
    Var<double> x = tape.input(MatD::Constant(2, 3, comm.rank() + 1.0), true);
    Var<double> all = all_gather_rows(x, comm);
    Var<double> loss;
    if (!ignores) loss = sum(all);
    else if (variant == 0) loss = sum(x);  // depends on x, not on the gathered rows
    else loss = sum(tape.input(MatD::Ones(1, 1)));  // depends on nothing differentiable at all
    tape.backward(loss);
    // Each gathered row gets gradient 1 from every rank that sums them; x's own sum adds 1 more.
    const int64_t summing = (comm.size() + 1) / 2;
    const double expected = static_cast<double>(summing) + (ignores && variant == 0 ? 1.0 : 0.0);
    ASSERT_TRUE(x.has_grad());
    EXPECT_EQ(x.grad(), MatD::Constant(2, 3, expected)) << "variant " << variant;
  }
}

TEST(CollectiveBackward, ARankWithNoRowsStillJoins) {
  Watchdog watchdog(60, "CollectiveBackward.NoRows");
  Comm comm;
  Tape<float> tape;
  const int64_t rows = comm.rank() == 0 ? 0 : 2;  // rank 0 holds no rows of this batch
  Var<float> x = tape.input(MatF::Constant(rows, 2, 1.0f), true);
  Var<float> all = all_gather_rows(x, comm);
  EXPECT_EQ(all.rows(), 2 * (comm.size() - 1));
  tape.backward(comm.rank() == 0 ? sum(tape.input(MatF::Zero(1, 1))) : sum(all));
  if (rows > 0) {
    EXPECT_EQ(x.grad(), MatF::Constant(2, 2, static_cast<float>(comm.size() - 1)));
  }
}

}  // namespace
}  // namespace relfm::dist
