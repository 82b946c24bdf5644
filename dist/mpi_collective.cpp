#include "dist/mpi_collective.hpp"

#include <limits>

namespace relfm::dist {
namespace {

template <typename T>
void gather(const Comm& comm, const T* local, T* out, const std::vector<int64_t>& counts) {
  std::vector<int> c(counts.size()), d(counts.size(), 0);
  for (size_t r = 0; r < counts.size(); ++r) {
    if (counts[r] > std::numeric_limits<int>::max()) fail("all-gather of {} values exceeds MPI's int counts", counts[r]);
    c[r] = static_cast<int>(counts[r]);
    if (r > 0) d[r] = d[r - 1] + c[r - 1];
  }
  MPI_Allgatherv(local, c[static_cast<size_t>(comm.rank())], mpi_type<T>(), out, c.data(), d.data(), mpi_type<T>(), comm.get());
}

}  // namespace

void MpiCollective::allgatherv(const float* local, float* out, const std::vector<int64_t>& counts) const {
  gather(comm_, local, out, counts);
}
void MpiCollective::allgatherv(const double* local, double* out, const std::vector<int64_t>& counts) const {
  gather(comm_, local, out, counts);
}

}  // namespace relfm::dist
