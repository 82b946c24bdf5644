#include "dist/partition.hpp"

#include "src/core/error.hpp"

#include <metis.h>

#include <algorithm>
#include <cmath>
#include <utility>
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

std::vector<int32_t> partition_graph(const Csr& graph, const std::vector<int64_t>& vertex_weights, int parts,
                                     uint64_t seed, double imbalance_tolerance) {
  const int64_t n = graph.num_rows;
  if (graph.num_cols != n) fail_input("partition_graph needs a square adjacency, got {}x{}", n, graph.num_cols);
  if (static_cast<int64_t>(graph.row_ptr.size()) != n + 1 || static_cast<int64_t>(graph.col.size()) != graph.nnz())
    fail("partition_graph: CSR with {} rows has {} offsets and {} columns for {} entries", n, graph.row_ptr.size(),
         graph.col.size(), graph.nnz());
  if (!vertex_weights.empty() && static_cast<int64_t>(vertex_weights.size()) != n)
    fail_input("partition_graph: {} vertex weights for {} vertices", vertex_weights.size(), n);
  if (parts < 1) fail_input("partition_graph: {} parts", parts);
  std::vector<int32_t> part(static_cast<size_t>(n), 0);
  if (parts == 1 || n == 0) return part;
  if (parts > n) fail_input("cannot split a graph of {} vertices into {} parts", n, parts);
  constexpr int64_t kIdxMax = std::numeric_limits<idx_t>::max();
  if (n > kIdxMax) fail("graph of {} vertices too large for METIS's 32-bit indices", n);

  // Undirected edges as (min, max) pairs packed in 64 bits; sorting groups repeats, whose number is the
  // edge weight. Self loops never cross a cut, so METIS (which refuses them) does not see them.
  std::vector<uint64_t> edges;
  edges.reserve(static_cast<size_t>(graph.nnz()));
  for (int64_t u = 0; u < n; ++u)
    for (int64_t k = graph.row_begin(u); k < graph.row_end(u); ++k) {
      const int64_t v = graph.col[static_cast<size_t>(k)];
      if (v < 0 || v >= n) fail_input("partition_graph: entry {} of row {} points at vertex {} of {}", k, u, v, n);
      if (v == u) continue;
      const uint64_t a = static_cast<uint64_t>(std::min(u, v)), b = static_cast<uint64_t>(std::max(u, v));
      edges.push_back(a << 32 | b);
    }
  std::sort(edges.begin(), edges.end());
  // Each distinct pair appears in both endpoints' adjacency lists.
  std::vector<idx_t> degree(static_cast<size_t>(n), 0);
  std::vector<std::pair<uint64_t, idx_t>> weighted;
  for (size_t i = 0; i < edges.size();) {
    size_t j = i;
    while (j < edges.size() && edges[j] == edges[i]) ++j;
    if (j - i > static_cast<size_t>(kIdxMax)) fail("edge repeated {} times: too heavy for METIS", j - i);
    weighted.emplace_back(edges[i], static_cast<idx_t>(j - i));
    degree[edges[i] >> 32] += 1;
    degree[edges[i] & 0xffffffffu] += 1;
    i = j;
  }
  edges = {};
  if (2 * static_cast<int64_t>(weighted.size()) > kIdxMax)
    fail("graph of {} undirected edges too large for METIS's 32-bit indices", weighted.size());
  std::vector<idx_t> xadj(static_cast<size_t>(n) + 1, 0);
  for (int64_t v = 0; v < n; ++v) xadj[static_cast<size_t>(v) + 1] = xadj[static_cast<size_t>(v)] + degree[static_cast<size_t>(v)];
  std::vector<idx_t> adjncy(static_cast<size_t>(xadj.back())), adjwgt(adjncy.size());
  std::vector<idx_t> fill(xadj.begin(), xadj.end() - 1);
  for (const auto& [pair, w] : weighted) {
    const idx_t a = static_cast<idx_t>(pair >> 32), b = static_cast<idx_t>(pair & 0xffffffffu);
    adjncy[static_cast<size_t>(fill[a])] = b, adjwgt[static_cast<size_t>(fill[a]++)] = w;
    adjncy[static_cast<size_t>(fill[b])] = a, adjwgt[static_cast<size_t>(fill[b]++)] = w;
  }

  std::vector<idx_t> vwgt;
  if (!vertex_weights.empty()) {
    vwgt.resize(static_cast<size_t>(n));
    int64_t total = 0;
    for (int64_t v = 0; v < n; ++v) {
      const int64_t w = vertex_weights[static_cast<size_t>(v)];
      if (w < 0) fail_input("partition_graph: vertex {} has negative weight {}", v, w);
      total += w;
      if (total > kIdxMax) fail("partition_graph: total vertex weight exceeds METIS's 32-bit range");
      vwgt[static_cast<size_t>(v)] = static_cast<idx_t>(w);
    }
  }
  if (!(imbalance_tolerance >= 1.0)) fail_input("partition_graph: imbalance tolerance {} below 1", imbalance_tolerance);
  idx_t nvtxs = static_cast<idx_t>(n), ncon = 1, nparts = parts, objval = 0;
  idx_t options[METIS_NOPTIONS];
  METIS_SetDefaultOptions(options);
  options[METIS_OPTION_SEED] = static_cast<idx_t>(seed & 0x7fffffff);
  // METIS's ufactor is the tolerated imbalance in thousandths: 1.03 -> 30.
  options[METIS_OPTION_UFACTOR] = static_cast<idx_t>(std::max(1.0, std::round((imbalance_tolerance - 1.0) * 1000.0)));
  std::vector<idx_t> result(static_cast<size_t>(n));
  const int status = METIS_PartGraphKway(&nvtxs, &ncon, xadj.data(), adjncy.data(), vwgt.empty() ? nullptr : vwgt.data(),
                                         nullptr, adjwgt.data(), &nparts, nullptr, nullptr, options, &objval,
                                         result.data());
  if (status != METIS_OK) fail("METIS_PartGraphKway failed with status {} for {} vertices over {} parts", status, n, parts);
  for (int64_t v = 0; v < n; ++v) part[static_cast<size_t>(v)] = static_cast<int32_t>(result[static_cast<size_t>(v)]);
  return part;
}

std::vector<int32_t> partition_graph(const Comm& comm, const Csr& graph, const std::vector<int64_t>& vertex_weights,
                                     uint64_t seed, double imbalance_tolerance) {
  std::vector<int32_t> part = comm.collective([&] {
    return comm.is_root() ? partition_graph(graph, vertex_weights, comm.size(), seed, imbalance_tolerance)
                          : std::vector<int32_t>{};
  });
  comm.broadcast(part);
  return part;
}

int64_t edge_cut(const Csr& graph, const std::vector<int32_t>& part) {
  int64_t cut = 0;
  for (int64_t u = 0; u < graph.num_rows; ++u)
    for (int64_t k = graph.row_begin(u); k < graph.row_end(u); ++k)
      cut += part[static_cast<size_t>(u)] != part[static_cast<size_t>(graph.col[static_cast<size_t>(k)])] ? 1 : 0;
  return cut;
}

double imbalance(const std::vector<int32_t>& part, const std::vector<int64_t>& weights, int parts) {
  std::vector<int64_t> total(static_cast<size_t>(parts), 0);
  for (size_t i = 0; i < part.size(); ++i) total[part[i]] += weights[i];
  const auto [lo, hi] = std::minmax_element(total.begin(), total.end());
  return *lo > 0 ? static_cast<double>(*hi) / static_cast<double>(*lo) : std::numeric_limits<double>::infinity();
}

}  // namespace relfm::dist
