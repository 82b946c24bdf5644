#include "dist/partition.hpp"

#include "src/core/error.hpp"

#include <metis.h>

#include <algorithm>
#include <limits>

namespace relfm::dist {

std::vector<int32_t> partition_molecules(const std::vector<int64_t>& atom_counts, int parts, uint64_t seed) {
  const size_t n = atom_counts.size();
  std::vector<int32_t> part(n, 0);
  if (parts <= 1 || n == 0) return part;
  if (static_cast<size_t>(parts) > n)
    fail_input("cannot split {} molecules over {} ranks: use at most {} ranks", n, parts, n);
  if (n > static_cast<size_t>(std::numeric_limits<idx_t>::max()))
    fail("too many molecules ({}) for METIS's 32-bit indices", n);
  idx_t nvtxs = static_cast<idx_t>(n), ncon = 2, nparts = parts, objval = 0;
  std::vector<idx_t> xadj(n + 1, 0);  // no edges: molecules are independent
  std::vector<idx_t> vwgt(2 * n);
  for (size_t i = 0; i < n; ++i) {
    if (atom_counts[i] > std::numeric_limits<idx_t>::max() / 2) fail("molecule {} has too many atoms for METIS", i);
    vwgt[2 * i] = static_cast<idx_t>(std::max<int64_t>(atom_counts[i], 1));
    vwgt[2 * i + 1] = 1;
  }
  idx_t options[METIS_NOPTIONS];
  METIS_SetDefaultOptions(options);
  options[METIS_OPTION_SEED] = static_cast<idx_t>(seed & 0x7fffffff);
  options[METIS_OPTION_UFACTOR] = 1;  // 0.1% tolerated imbalance
  std::vector<idx_t> result(n);
  const int status = METIS_PartGraphKway(&nvtxs, &ncon, xadj.data(), nullptr, vwgt.data(), nullptr, nullptr, &nparts,
                                         nullptr, nullptr, options, &objval, result.data());
  if (status != METIS_OK) fail("METIS_PartGraphKway failed with status {} for {} molecules over {} parts", status, n, parts);
  for (size_t i = 0; i < n; ++i) part[i] = static_cast<int32_t>(result[i]);
  return part;
}

std::vector<int32_t> partition_molecules(const Comm& comm, const std::vector<int64_t>& atom_counts, uint64_t seed) {
  std::vector<int32_t> part = comm.collective([&] {
    return comm.is_root() ? partition_molecules(atom_counts, comm.size(), seed) : std::vector<int32_t>{};
  });
  comm.broadcast(part);
  return part;
}

double imbalance(const std::vector<int32_t>& part, const std::vector<int64_t>& weights, int parts) {
  std::vector<int64_t> total(static_cast<size_t>(parts), 0);
  for (size_t i = 0; i < part.size(); ++i) total[part[i]] += weights[i];
  const auto [lo, hi] = std::minmax_element(total.begin(), total.end());
  return *lo > 0 ? static_cast<double>(*hi) / static_cast<double>(*lo) : std::numeric_limits<double>::infinity();
}

}  // namespace relfm::dist
