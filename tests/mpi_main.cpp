// GoogleTest main for suites that run under mpiexec: every rank runs every test; only rank 0 prints;
// the exit code is the worst over the ranks, so a failure on any rank fails the test.
#include <gtest/gtest.h>
#include <mpi.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    if (GTEST_FLAG_GET(list_tests)) std::freopen("/dev/null", "w", stdout);
  }
  int code = RUN_ALL_TESTS();
  MPI_Allreduce(MPI_IN_PLACE, &code, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  // Remove the scratch folder of tests/mpi_test_util.hpp (named after rank 0's pid).
  if (rank == 0) {
    std::error_code ec;
    std::filesystem::remove_all(std::filesystem::temp_directory_path() / ("relfm-test-" + std::to_string(getpid())), ec);
  }
  MPI_Finalize();
  return code;
}
