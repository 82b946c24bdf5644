// Helpers for tests that run on several MPI ranks.
#pragma once

#include "dist/comm.hpp"

#include <unistd.h>

#include <filesystem>
#include <string>

namespace relfm::testing {

// A scratch path unique to this test run (rank 0's pid, shared with all ranks), so that the 1-, 2- and
// 4-rank variants of a suite can run concurrently.
inline std::string scratch_path(const dist::Comm& comm, const std::string& name) {
  int64_t pid = getpid();
  comm.broadcast(&pid, 1);
  const auto dir = std::filesystem::temp_directory_path() / ("relfm-test-" + std::to_string(pid));
  if (comm.is_root()) std::filesystem::create_directories(dir);
  comm.barrier();
  return (dir / name).string();
}

}  // namespace relfm::testing
