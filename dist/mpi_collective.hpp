// The MPI implementation of src/'s Collective interface.
#pragma once

#include "dist/comm.hpp"
#include "src/core/collective.hpp"

namespace relfm::dist {

class MpiCollective final : public Collective {
 public:
  explicit MpiCollective(const Comm& comm) : comm_(comm) {}
  int rank() const override { return comm_.rank(); }
  int size() const override { return comm_.size(); }
  std::vector<int64_t> allgather_counts(int64_t local) const override { return comm_.allgather(local); }
  void allgatherv(const float* local, float* out, const std::vector<int64_t>& counts) const override;
  void allgatherv(const double* local, double* out, const std::vector<int64_t>& counts) const override;
  void allreduce_sum(float* data, int64_t n) const override { comm_.allreduce_sum(data, static_cast<size_t>(n)); }
  void allreduce_sum(double* data, int64_t n) const override { comm_.allreduce_sum(data, static_cast<size_t>(n)); }

 private:
  const Comm& comm_;
};

}  // namespace relfm::dist
