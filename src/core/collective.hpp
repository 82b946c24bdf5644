// The one collective interface: what src/ sees of "the other ranks", with no MPI in it.
//
// Communicator has a few type-erased virtual primitives (a DataType tag, void pointers and 64-bit
// counts) and typed, non-virtual template front-ends on top, so a new collective is written once here
// and once per implementation (dist::Comm over MPI; LocalCommunicator for one process), not once per
// scalar type. Ops that span ranks (all_gather_rows, which lets InfoNCE contrast every rank's anchors
// against every rank's candidates) take a Communicator, so src/ never needs to know how ranks talk.
//
// Counts are int64 throughout: MPI's int counts are an implementation detail of dist::Comm, which splits
// larger messages.
//
// Failure is collective: a phase that can fail on some ranks only (reading a file, parsing input) runs
// inside collective(); if any rank throws, every rank throws the same CollectiveError carrying the
// lowest failing rank's message, so all ranks leave together and nothing hangs in a later collective.
#pragma once

#include "src/core/error.hpp"

#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

namespace relfm {

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

enum class DataType : uint8_t { kFloat, kDouble, kInt32, kInt64, kUInt64, kUInt8, kChar };
enum class ReduceOp : uint8_t { kSum, kMax, kMin };

template <typename T>
constexpr DataType data_type_of() {
  using U = std::remove_cv_t<T>;
  if constexpr (std::is_same_v<U, float>) return DataType::kFloat;
  else if constexpr (std::is_same_v<U, double>) return DataType::kDouble;
  else if constexpr (std::is_same_v<U, int32_t>) return DataType::kInt32;
  else if constexpr (std::is_same_v<U, int64_t>) return DataType::kInt64;
  else if constexpr (std::is_same_v<U, uint64_t>) return DataType::kUInt64;
  else if constexpr (std::is_same_v<U, uint8_t>) return DataType::kUInt8;
  else if constexpr (std::is_same_v<U, char>) return DataType::kChar;
  else static_assert(sizeof(U) == 0, "no DataType for this element type");
}

inline size_t data_type_size(DataType t) {
  switch (t) {
    case DataType::kFloat: return sizeof(float);
    case DataType::kDouble: return sizeof(double);
    case DataType::kInt32: return sizeof(int32_t);
    case DataType::kInt64: return sizeof(int64_t);
    case DataType::kUInt64: return sizeof(uint64_t);
    case DataType::kUInt8: return sizeof(uint8_t);
    case DataType::kChar: return sizeof(char);
  }
  return 0;
}

// A non-blocking collective in flight. The buffers it was given stay in use until wait() returns; the
// destructor waits too, so a request dropped early (an exception) never leaves MPI writing into freed
// memory.
class Request {
 public:
  class Pending {
   public:
    virtual ~Pending() = default;
    virtual void wait() = 0;
  };
  Request() = default;  // already complete
  explicit Request(std::unique_ptr<Pending> pending) : pending_(std::move(pending)) {}
  Request(Request&&) noexcept = default;
  Request& operator=(Request&& other) noexcept {
    if (this != &other) {
      wait();
      pending_ = std::move(other.pending_);
    }
    return *this;
  }
  ~Request() { wait(); }
  void wait() {
    if (pending_) {
      pending_->wait();
      pending_.reset();
    }
  }
  bool pending() const { return pending_ != nullptr; }

 private:
  std::unique_ptr<Pending> pending_;
};

// A fixed pattern of point-to-point neighbours (a distributed graph topology), created once from the
// neighbour lists and reused for every exchange: the halo rows of a partitioned graph at each hop.
// sources: the ranks this rank receives from; destinations: the ranks it sends to. Both sides must
// agree (rank a lists b as a destination exactly when b lists a as a source).
class Neighbourhood {
 public:
  virtual ~Neighbourhood() = default;
  const std::vector<int>& sources() const { return sources_; }
  const std::vector<int>& destinations() const { return destinations_; }

  // Sends send_counts[j] values to destinations()[j] (blocks consecutive in `send`) and receives
  // recv_counts[i] values from sources()[i] into consecutive blocks of `recv`. Collective over every
  // rank of the communicator the neighbourhood was made from.
  template <typename T>
  void exchange(const T* send, const std::vector<int64_t>& send_counts, T* recv,
                const std::vector<int64_t>& recv_counts) const {
    check_counts(send_counts, recv_counts);
    exchange_raw(send, send_counts.data(), recv, recv_counts.data(), data_type_of<T>());
  }

 protected:
  Neighbourhood(std::vector<int> sources, std::vector<int> destinations)
      : sources_(std::move(sources)), destinations_(std::move(destinations)) {}
  virtual void exchange_raw(const void* send, const int64_t* send_counts, void* recv, const int64_t* recv_counts,
                            DataType type) const = 0;

 private:
  void check_counts(const std::vector<int64_t>& send_counts, const std::vector<int64_t>& recv_counts) const {
    RELFM_CHECK(send_counts.size() == destinations_.size(), "neighbour exchange: {} send counts for {} destinations",
                send_counts.size(), destinations_.size());
    RELFM_CHECK(recv_counts.size() == sources_.size(), "neighbour exchange: {} receive counts for {} sources",
                recv_counts.size(), sources_.size());
  }
  std::vector<int> sources_;
  std::vector<int> destinations_;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool is_root() const { return rank_ == 0; }

  virtual void barrier() const = 0;

  // ---- typed front-ends ------------------------------------------------------------------------
  template <typename T>
  void broadcast(T* data, size_t count, int root = 0) const {
    if (size_ > 1 && count > 0) broadcast_raw(data, static_cast<int64_t>(count), data_type_of<T>(), root);
  }
  template <typename T>
  void broadcast(std::vector<T>& v, int root = 0) const {
    uint64_t n = v.size();
    broadcast(&n, 1, root);
    v.resize(n);
    broadcast(v.data(), v.size(), root);
  }
  void broadcast(std::string& s, int root = 0) const {
    uint64_t n = s.size();
    broadcast(&n, 1, root);
    s.resize(n);
    broadcast(s.data(), n, root);
  }

  template <typename T>
  void allreduce_sum(T* data, size_t count) const {
    if (size_ > 1 && count > 0) allreduce_raw(data, static_cast<int64_t>(count), data_type_of<T>(), ReduceOp::kSum);
  }
  template <typename T>
  void allreduce_max(T* data, size_t count) const {
    if (size_ > 1 && count > 0) allreduce_raw(data, static_cast<int64_t>(count), data_type_of<T>(), ReduceOp::kMax);
  }
  template <typename T>
  T sum(T v) const {
    allreduce_sum(&v, 1);
    return v;
  }
  template <typename T>
  T max(T v) const {
    if (size_ > 1) allreduce_raw(&v, 1, data_type_of<T>(), ReduceOp::kMax);
    return v;
  }
  template <typename T>
  T min(T v) const {
    if (size_ > 1) allreduce_raw(&v, 1, data_type_of<T>(), ReduceOp::kMin);
    return v;
  }
  // Starts an in-place sum over ranks; `data` is complete (and must not be touched) until wait().
  template <typename T>
  [[nodiscard]] Request iallreduce_sum(T* data, size_t count) const {
    if (size_ <= 1 || count == 0) return Request();
    return iallreduce_raw(data, static_cast<int64_t>(count), data_type_of<T>(), ReduceOp::kSum);
  }

  // Exclusive prefix sum over ranks (0 on rank 0).
  int64_t exclusive_scan(int64_t v) const { return exclusive_scan_raw(v); }

  // Every rank's value, in rank order.
  template <typename T>
  std::vector<T> allgather(T v) const {
    std::vector<T> out(static_cast<size_t>(size_));
    allgather_raw(&v, 1, out.data(), data_type_of<T>());
    return out;
  }
  // Concatenates every rank's counts[rank] values in rank order into `out` (sum(counts) values). Every
  // rank passes the same counts.
  template <typename T>
  void allgatherv(const T* local, T* out, const std::vector<int64_t>& counts) const {
    RELFM_CHECK(counts.size() == static_cast<size_t>(size_), "allgatherv: {} counts for {} ranks", counts.size(), size_);
    allgatherv_raw(local, out, counts.data(), data_type_of<T>());
  }
  // Concatenation of every rank's vector, in rank order, on every rank.
  template <typename T>
  std::vector<T> allgatherv(const std::vector<T>& local) const {
    const std::vector<int64_t> counts = allgather(static_cast<int64_t>(local.size()));
    int64_t total = 0;
    for (int64_t c : counts) total += c;
    std::vector<T> out(static_cast<size_t>(total));
    allgatherv(local.data(), out.data(), counts);
    return out;
  }
  std::vector<std::string> allgather_strings(const std::vector<std::string>& local) const {
    std::vector<char> chars;
    std::vector<int64_t> lengths;
    for (const auto& s : local) {
      chars.insert(chars.end(), s.begin(), s.end());
      lengths.push_back(static_cast<int64_t>(s.size()));
    }
    const std::vector<char> all_chars = allgatherv(chars);
    const std::vector<int64_t> all_lengths = allgatherv(lengths);
    std::vector<std::string> out;
    out.reserve(all_lengths.size());
    size_t pos = 0;
    for (int64_t len : all_lengths) {
      out.emplace_back(all_chars.data() + pos, static_cast<size_t>(len));
      pos += static_cast<size_t>(len);
    }
    return out;
  }

  // The reverse of allgatherv: `in` holds sum(counts) values on every rank; rank r receives in `out`
  // the sum over ranks of block r (counts[r] values). Every rank passes the same counts.
  template <typename T>
  void reduce_scatter_sum(const T* in, T* out, const std::vector<int64_t>& counts) const {
    RELFM_CHECK(counts.size() == static_cast<size_t>(size_), "reduce_scatter: {} counts for {} ranks", counts.size(),
                size_);
    reduce_scatter_raw(in, out, counts.data(), data_type_of<T>(), ReduceOp::kSum);
  }

  // Personalised exchange: send_counts[r] consecutive values of `send` go to rank r; recv_counts[r]
  // values arrive from rank r, stored consecutively in rank order. recv_counts[r] on this rank must equal
  // send_counts[me] on rank r.
  template <typename T>
  void alltoallv(const T* send, const std::vector<int64_t>& send_counts, T* recv,
                 const std::vector<int64_t>& recv_counts) const {
    RELFM_CHECK(send_counts.size() == static_cast<size_t>(size_) && recv_counts.size() == static_cast<size_t>(size_),
                "alltoallv: {} send and {} receive counts for {} ranks", send_counts.size(), recv_counts.size(), size_);
    alltoallv_raw(send, send_counts.data(), recv, recv_counts.data(), data_type_of<T>());
  }
  // The same when only the senders know the counts (walkers moving to the rank that owns their vertex):
  // exchanges the counts first. *recv_counts (if given) receives them.
  template <typename T>
  std::vector<T> alltoallv(const std::vector<T>& send, const std::vector<int64_t>& send_counts,
                           std::vector<int64_t>* recv_counts = nullptr) const {
    std::vector<int64_t> counts = alltoall_counts(send_counts);
    int64_t total = 0, sent = 0;
    for (int64_t c : counts) total += c;
    for (int64_t c : send_counts) sent += c;
    RELFM_CHECK(sent == static_cast<int64_t>(send.size()), "alltoallv: counts sum to {}, {} values given", sent,
                send.size());
    std::vector<T> out(static_cast<size_t>(total));
    alltoallv(send.data(), send_counts, out.data(), counts);
    if (recv_counts) *recv_counts = std::move(counts);
    return out;
  }
  // counts[r] from every rank r to this one: out[r] = what rank r passed as counts[me].
  std::vector<int64_t> alltoall_counts(const std::vector<int64_t>& counts) const {
    RELFM_CHECK(counts.size() == static_cast<size_t>(size_), "alltoall: {} counts for {} ranks", counts.size(), size_);
    std::vector<int64_t> out(static_cast<size_t>(size_));
    const std::vector<int64_t> ones(static_cast<size_t>(size_), 1);
    alltoallv_raw(counts.data(), ones.data(), out.data(), ones.data(), DataType::kInt64);
    return out;
  }

  // A new communicator of the ranks that passed the same color, ordered by (key, rank): e.g. the
  // sequence-parallel group (color = data-parallel index) and the data-parallel group (color =
  // sequence-parallel index) of a 2-D layout. Collective. The result frees itself.
  virtual std::unique_ptr<Communicator> split(int color, int key) const = 0;

  // A neighbourhood over this communicator (see Neighbourhood). Collective; reuse it across exchanges.
  virtual std::unique_ptr<Neighbourhood> neighbourhood(const std::vector<int>& sources,
                                                       const std::vector<int>& destinations) const = 0;

  // ---- error agreement -------------------------------------------------------------------------
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
  void agree(const std::exception_ptr& local_error) const {
    // Lowest failing rank, or size_ when nobody failed.
    const int32_t failing = min<int32_t>(local_error ? rank_ : size_);
    if (failing == size_) return;
    std::string message;
    int32_t kind = static_cast<int32_t>(CollectiveError::Kind::kInternal);
    if (rank_ == failing) {
      try {
        std::rethrow_exception(local_error);
      } catch (const CollectiveError& e) {
        message = e.what();
        kind = static_cast<int32_t>(e.kind());
      } catch (const InputError& e) {
        message = e.what();
        kind = static_cast<int32_t>(CollectiveError::Kind::kInput);
      } catch (const DivergedError& e) {
        message = e.what();
        kind = static_cast<int32_t>(CollectiveError::Kind::kDiverged);
      } catch (const std::exception& e) {
        message = e.what();
      } catch (...) {
        message = "unknown error";
      }
    }
    broadcast(message, failing);
    broadcast(&kind, 1, failing);
    throw CollectiveError(message, static_cast<CollectiveError::Kind>(kind), failing);
  }

 protected:
  Communicator(int rank, int size) : rank_(rank), size_(size) {}

  // ---- the primitives an implementation provides (counts in elements, 64-bit) --------------------
  virtual void broadcast_raw(void* data, int64_t count, DataType type, int root) const = 0;
  virtual void allreduce_raw(void* data, int64_t count, DataType type, ReduceOp op) const = 0;
  virtual Request iallreduce_raw(void* data, int64_t count, DataType type, ReduceOp op) const = 0;
  virtual int64_t exclusive_scan_raw(int64_t v) const = 0;
  // `count` values from every rank, in rank order.
  virtual void allgather_raw(const void* local, int64_t count, void* out, DataType type) const = 0;
  virtual void allgatherv_raw(const void* local, void* out, const int64_t* counts, DataType type) const = 0;
  virtual void reduce_scatter_raw(const void* in, void* out, const int64_t* counts, DataType type,
                                  ReduceOp op) const = 0;
  virtual void alltoallv_raw(const void* send, const int64_t* send_counts, void* recv, const int64_t* recv_counts,
                             DataType type) const = 0;

 private:
  int rank_ = 0;
  int size_ = 1;
};

// Kept so that code written against the first interface still reads naturally.
using Collective = Communicator;

// One process: gathering and exchanging are copies, reductions are the identity.
class LocalCommunicator final : public Communicator {
 public:
  LocalCommunicator() : Communicator(0, 1) {}
  void barrier() const override {}
  std::unique_ptr<Communicator> split(int, int) const override { return std::make_unique<LocalCommunicator>(); }
  std::unique_ptr<Neighbourhood> neighbourhood(const std::vector<int>& sources,
                                               const std::vector<int>& destinations) const override;

 protected:
  void broadcast_raw(void*, int64_t, DataType, int root) const override { check_root(root); }
  void allreduce_raw(void*, int64_t, DataType, ReduceOp) const override {}
  Request iallreduce_raw(void*, int64_t, DataType, ReduceOp) const override { return Request(); }
  int64_t exclusive_scan_raw(int64_t) const override { return 0; }
  void allgather_raw(const void* local, int64_t count, void* out, DataType type) const override {
    copy(local, out, count, type);
  }
  void allgatherv_raw(const void* local, void* out, const int64_t* counts, DataType type) const override {
    copy(local, out, counts[0], type);
  }
  void reduce_scatter_raw(const void* in, void* out, const int64_t* counts, DataType type, ReduceOp) const override {
    copy(in, out, counts[0], type);
  }
  void alltoallv_raw(const void* send, const int64_t* send_counts, void* recv, const int64_t* recv_counts,
                     DataType type) const override {
    RELFM_CHECK(send_counts[0] == recv_counts[0], "alltoallv on one rank: sends {} values to itself, expects {}",
                send_counts[0], recv_counts[0]);
    copy(send, recv, send_counts[0], type);
  }

 private:
  static void copy(const void* from, void* to, int64_t count, DataType type);
  static void check_root(int root) { RELFM_CHECK(root == 0, "broadcast from rank {} on one rank", root); }
};

using LocalCollective = LocalCommunicator;

}  // namespace relfm
