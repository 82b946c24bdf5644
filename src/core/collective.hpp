// Collective operations as seen from src/: an interface with no MPI in it. dist/ implements it over MPI
// (dist::MpiCollective); LocalCollective is the single-process case. Ops that span ranks (for example
// all_gather_rows, which lets InfoNCE contrast every rank's anchors against every rank's candidates)
// take one of these, so src/ never needs to know how many ranks there are or how they talk.
#pragma once

#include <cstdint>
#include <vector>

namespace relfm {

class Collective {
 public:
  virtual ~Collective() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // counts[r] = the value rank r passed.
  virtual std::vector<int64_t> allgather_counts(int64_t local) const = 0;
  // Concatenates every rank's `counts[rank]` values in rank order into `out`.
  virtual void allgatherv(const float* local, float* out, const std::vector<int64_t>& counts) const = 0;
  virtual void allgatherv(const double* local, double* out, const std::vector<int64_t>& counts) const = 0;
  virtual void allreduce_sum(float* data, int64_t n) const = 0;
  virtual void allreduce_sum(double* data, int64_t n) const = 0;
};

// One process: gathering is copying and reducing is the identity.
class LocalCollective final : public Collective {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::vector<int64_t> allgather_counts(int64_t local) const override { return {local}; }
  void allgatherv(const float* local, float* out, const std::vector<int64_t>& counts) const override {
    for (int64_t i = 0; i < counts[0]; ++i) out[i] = local[i];
  }
  void allgatherv(const double* local, double* out, const std::vector<int64_t>& counts) const override {
    for (int64_t i = 0; i < counts[0]; ++i) out[i] = local[i];
  }
  void allreduce_sum(float*, int64_t) const override {}
  void allreduce_sum(double*, int64_t) const override {}
};

}  // namespace relfm
