// The MPI communicator relfm uses, with the few collectives it needs, and collective error agreement.
//
// Failure is collective: a phase that can fail on some ranks only (reading a file, parsing input) runs
// inside Comm::collective(); if any rank throws, every rank throws the same CollectiveError carrying the
// lowest failing rank's message, so all ranks leave together and nothing hangs in a later collective.
#pragma once

#include "src/core/error.hpp"

#include <mpi.h>

#include <cstdint>
#include <exception>
#include <string>
#include <type_traits>
#include <vector>

namespace relfm::dist {

// An error every rank raised together (after agreement). `kind` keeps the original error's category.
class CollectiveError : public Error {
 public:
  enum class Kind { kInternal = 0, kInput = 1, kDiverged = 2 };
  CollectiveError(const std::string& message, Kind kind, int origin_rank)
      : Error(message), kind_(kind), origin_rank_(origin_rank) {}
  Kind kind() const { return kind_; }
  int origin_rank() const { return origin_rank_; }

 private:
  Kind kind_;
  int origin_rank_;
};

template <typename T>
MPI_Datatype mpi_type();

class Comm {
 public:
  explicit Comm(MPI_Comm comm = MPI_COMM_WORLD);
  MPI_Comm get() const { return comm_; }
  int rank() const { return rank_; }
  int size() const { return size_; }
  bool is_root() const { return rank_ == 0; }

  void barrier() const;

  template <typename T>
  void broadcast(T* data, size_t count, int root = 0) const {
    if (size_ > 1 && count > 0) MPI_Bcast(data, static_cast<int>(count), mpi_type<T>(), root, comm_);
  }
  template <typename T>
  void broadcast(std::vector<T>& v, int root = 0) const {
    uint64_t n = v.size();
    broadcast(&n, 1, root);
    v.resize(n);
    broadcast(v.data(), v.size(), root);
  }
  void broadcast(std::string& s, int root = 0) const;

  template <typename T>
  void allreduce_sum(T* data, size_t count) const {
    if (size_ > 1 && count > 0) MPI_Allreduce(MPI_IN_PLACE, data, static_cast<int>(count), mpi_type<T>(), MPI_SUM, comm_);
  }
  template <typename T>
  T sum(T v) const {
    allreduce_sum(&v, 1);
    return v;
  }
  template <typename T>
  T max(T v) const {
    if (size_ > 1) MPI_Allreduce(MPI_IN_PLACE, &v, 1, mpi_type<T>(), MPI_MAX, comm_);
    return v;
  }
  template <typename T>
  T min(T v) const {
    if (size_ > 1) MPI_Allreduce(MPI_IN_PLACE, &v, 1, mpi_type<T>(), MPI_MIN, comm_);
    return v;
  }
  // Exclusive prefix sum over ranks (0 on rank 0).
  int64_t exclusive_scan(int64_t v) const;
  // Every rank's value, in rank order.
  template <typename T>
  std::vector<T> allgather(T v) const {
    std::vector<T> out(static_cast<size_t>(size_));
    MPI_Allgather(&v, 1, mpi_type<T>(), out.data(), 1, mpi_type<T>(), comm_);
    return out;
  }
  // Concatenation of every rank's vector, in rank order, on every rank.
  template <typename T>
  std::vector<T> allgatherv(const std::vector<T>& local) const {
    const std::vector<int> counts = allgather(static_cast<int>(local.size()));
    std::vector<int> displs(counts.size(), 0);
    for (size_t i = 1; i < counts.size(); ++i) displs[i] = displs[i - 1] + counts[i - 1];
    std::vector<T> out(static_cast<size_t>(displs.back() + counts.back()));
    MPI_Allgatherv(local.data(), static_cast<int>(local.size()), mpi_type<T>(), out.data(), counts.data(),
                   displs.data(), mpi_type<T>(), comm_);
    return out;
  }
  std::vector<std::string> allgather_strings(const std::vector<std::string>& local) const;

  // Runs f on every rank; if any rank throws, all ranks throw one CollectiveError (the lowest failing
  // rank's message). f must not itself call collectives that a failing rank could skip.
  template <typename F>
  auto collective(F&& f) const -> std::invoke_result_t<F> {
    std::exception_ptr error;
    if constexpr (std::is_void_v<std::invoke_result_t<F>>) {
      try {
        f();
      } catch (...) {
        error = std::current_exception();
      }
      agree(error);
    } else {
      std::invoke_result_t<F> result{};
      try {
        result = f();
      } catch (...) {
        error = std::current_exception();
      }
      agree(error);
      return result;
    }
  }
  // The agreement step of collective(): throws CollectiveError on every rank if any rank has an error.
  void agree(const std::exception_ptr& local_error) const;

 private:
  MPI_Comm comm_;
  int rank_ = 0;
  int size_ = 1;
};

}  // namespace relfm::dist
