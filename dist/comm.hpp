// The MPI implementation of src/'s Communicator (src/core/collective.hpp): every collective relfm uses,
// with 64-bit counts, and the communicator handle for the few places (collective HDF5 I/O) that need it.
//
// MPI counts and displacements are int. A message that does not fit (more than max_count_per_call()
// elements in one call, INT_MAX by default) is sent in rounds through a staging buffer; every rank takes
// the same decision from information all ranks share, or agrees on it first, so the calls always match.
#pragma once

#include "src/core/collective.hpp"
#include "src/core/error.hpp"

#include <mpi.h>

#include <climits>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace relfm::dist {

using relfm::CollectiveError;

template <typename T>
MPI_Datatype mpi_type();
MPI_Datatype mpi_type(DataType type);

class Comm final : public Communicator {
 public:
  // Wraps `comm` without owning it (MPI_COMM_WORLD, or a communicator someone else frees).
  explicit Comm(MPI_Comm comm = MPI_COMM_WORLD);
  // A copy is a non-owning view of the same communicator (Comm was a cheap handle before it became a
  // Communicator, and code may still pass it by value); it must not outlive an owning original.
  Comm(const Comm& other);
  Comm& operator=(const Comm&) = delete;
  ~Comm() override;
  MPI_Comm get() const { return comm_; }

  void barrier() const override;

  // The owning split, typed: the same as split() but keeps get() reachable (collective I/O on a group).
  std::unique_ptr<Comm> split_comm(int color, int key) const;
  std::unique_ptr<Communicator> split(int color, int key) const override { return split_comm(color, key); }
  std::unique_ptr<Neighbourhood> neighbourhood(const std::vector<int>& sources,
                                               const std::vector<int>& destinations) const override;

  // Largest element count passed to one MPI call. Tests lower it to exercise the rounds that messages
  // past INT_MAX elements take, without allocating gigabytes. Every rank must set the same value.
  int64_t max_count_per_call() const { return max_count_; }
  void set_max_count_per_call(int64_t n) {
    RELFM_CHECK(n >= 1 && n <= INT_MAX, "max count per MPI call {} outside [1, INT_MAX]", n);
    max_count_ = n;
  }

 protected:
  void broadcast_raw(void* data, int64_t count, DataType type, int root) const override;
  void allreduce_raw(void* data, int64_t count, DataType type, ReduceOp op) const override;
  Request iallreduce_raw(void* data, int64_t count, DataType type, ReduceOp op) const override;
  int64_t exclusive_scan_raw(int64_t v) const override;
  void allgather_raw(const void* local, int64_t count, void* out, DataType type) const override;
  void allgatherv_raw(const void* local, void* out, const int64_t* counts, DataType type) const override;
  void reduce_scatter_raw(const void* in, void* out, const int64_t* counts, DataType type, ReduceOp op) const override;
  void alltoallv_raw(const void* send, const int64_t* send_counts, void* recv, const int64_t* recv_counts,
                     DataType type) const override;

 private:
  struct Owned {};
  Comm(MPI_Comm comm, Owned);

  MPI_Comm comm_;
  bool owned_ = false;
  int64_t max_count_ = INT_MAX;
};

}  // namespace relfm::dist
