#include "dist/comm.hpp"

namespace relfm::dist {

template <> MPI_Datatype mpi_type<float>() { return MPI_FLOAT; }
template <> MPI_Datatype mpi_type<double>() { return MPI_DOUBLE; }
template <> MPI_Datatype mpi_type<int32_t>() { return MPI_INT32_T; }
template <> MPI_Datatype mpi_type<int64_t>() { return MPI_INT64_T; }
template <> MPI_Datatype mpi_type<uint64_t>() { return MPI_UINT64_T; }
template <> MPI_Datatype mpi_type<uint8_t>() { return MPI_UINT8_T; }
template <> MPI_Datatype mpi_type<char>() { return MPI_CHAR; }

Comm::Comm(MPI_Comm comm) : comm_(comm) {
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
}

void Comm::barrier() const { MPI_Barrier(comm_); }

void Comm::broadcast(std::string& s, int root) const {
  uint64_t n = s.size();
  broadcast(&n, 1, root);
  s.resize(n);
  broadcast(s.data(), n, root);
}

int64_t Comm::exclusive_scan(int64_t v) const {
  int64_t out = 0;
  MPI_Exscan(&v, &out, 1, MPI_INT64_T, MPI_SUM, comm_);
  return rank_ == 0 ? 0 : out;
}

std::vector<std::string> Comm::allgather_strings(const std::vector<std::string>& local) const {
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

void Comm::agree(const std::exception_ptr& local_error) const {
  // Lowest failing rank, or size_ when nobody failed.
  int failing = local_error ? rank_ : size_;
  if (size_ > 1) MPI_Allreduce(MPI_IN_PLACE, &failing, 1, MPI_INT, MPI_MIN, comm_);
  if (failing == size_) return;
  std::string message;
  int kind = static_cast<int>(CollectiveError::Kind::kInternal);
  if (rank_ == failing) {
    try {
      std::rethrow_exception(local_error);
    } catch (const CollectiveError& e) {
      message = e.what();
      kind = static_cast<int>(e.kind());
    } catch (const InputError& e) {
      message = e.what();
      kind = static_cast<int>(CollectiveError::Kind::kInput);
    } catch (const DivergedError& e) {
      message = e.what();
      kind = static_cast<int>(CollectiveError::Kind::kDiverged);
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

}  // namespace relfm::dist
