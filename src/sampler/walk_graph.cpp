#include "src/sampler/walk_graph.hpp"

#include "src/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace relfm::sampler {
namespace {

// P(u < p) for the engine's coin u = k / 2^24, k uniform in [0, 2^24): the number of k below p * 2^24.
double coin_below(float p) {
  if (p <= 0.0f) return 0.0;
  if (p >= 1.0f) return 1.0;
  return std::ceil(static_cast<double>(p) * 0x1.0p24) * 0x1.0p-24;
}

}  // namespace

WalkGraph::WalkGraph(Csr rows_in, VertexId first, VertexId num_global_vertices, std::vector<float> weights)
    : first_(first), num_global_(num_global_vertices) {
  RELFM_CHECK(first >= 0 && static_cast<int64_t>(first) + rows_in.num_rows <= num_global_vertices,
              "walk graph: rows [{}, {}) outside the {} vertices", first, first + rows_in.num_rows, num_global_vertices);
  rows_in.num_cols = num_global_vertices;
  rows_in.validate();
  num_rows_ = rows_in.num_rows;
  row_ptr_ = HugeArray<int64_t>(rows_in.row_ptr.begin(), rows_in.row_ptr.end());
  edges_ = HugeArray<WalkEdge>(rows_in.col.size());
  for (size_t e = 0; e < rows_in.col.size(); ++e) {
    WalkEdge& edge = edges_[e];
    edge.to = rows_in.col[e];
    if (owns(edge.to)) {
      edge.to_begin = row_begin(edge.to);
      edge.to_degree = static_cast<uint32_t>(degree(edge.to));
    }
  }
  if (weights.empty()) return;
  RELFM_CHECK(static_cast<int64_t>(weights.size()) == rows_in.nnz(), "walk graph: {} weights for {} edges",
              weights.size(), rows_in.nnz());
  // Vose's alias method per row: slots whose scaled weight is below 1 are topped up by one slot above 1.
  alias_probability_ = HugeArray<float>(weights.size());
  alias_slot_ = HugeArray<int32_t>(weights.size());
  std::fill(alias_probability_.begin(), alias_probability_.end(), 1.0f);
  std::vector<double> scaled;
  std::vector<int32_t> small, large;
  for (int64_t r = 0; r < rows_in.num_rows; ++r) {
    const int64_t begin = rows_in.row_begin(r), degree = rows_in.row_end(r) - begin;
    if (degree == 0) continue;
    double total = 0;
    for (int64_t j = 0; j < degree; ++j) {
      const float w = weights[begin + j];
      if (!(std::isfinite(w) && w >= 0)) fail_input("walk graph: edge {} of vertex {} has weight {}", j, first + r, w);
      total += w;
    }
    if (!(total > 0)) fail_input("walk graph: the {} out-edges of vertex {} all have weight 0", degree, first + r);
    scaled.resize(degree);
    small.clear();
    large.clear();
    for (int64_t j = 0; j < degree; ++j) {
      scaled[j] = weights[begin + j] * static_cast<double>(degree) / total;
      (scaled[j] < 1.0 ? small : large).push_back(static_cast<int32_t>(j));
    }
    while (!small.empty() && !large.empty()) {
      const int32_t s = small.back(), l = large.back();
      small.pop_back();
      alias_probability_[begin + s] = static_cast<float>(scaled[s]);
      alias_slot_[begin + s] = l;
      scaled[l] -= 1.0 - scaled[s];
      if (scaled[l] < 1.0) {
        large.pop_back();
        small.push_back(l);
      }
    }
    // What remains is 1 up to rounding: always kept.
    for (int32_t j : small) alias_slot_[begin + j] = j;
    for (int32_t j : large) alias_slot_[begin + j] = j;
  }
}

void WalkGraph::set_remote_row(int64_t entry, int64_t begin, uint32_t degree) {
  WalkEdge& edge = edges_[static_cast<size_t>(entry)];
  RELFM_CHECK(!owns(edge.to), "walk graph: entry {} points at owned vertex {}", entry, edge.to);
  edge.to_begin = begin;
  edge.to_degree = degree;
}

WalkGraph WalkGraph::whole(Csr graph, std::vector<float> weights) {
  const auto n = static_cast<VertexId>(graph.num_rows);
  return WalkGraph(std::move(graph), 0, n, std::move(weights));
}

std::vector<double> WalkGraph::step_probabilities(VertexId v) const {
  RELFM_CHECK(owns(v), "walk graph: vertex {} is not in [{}, {})", v, first_, last());
  const int64_t begin = row_begin(v), degree = row_end(v) - begin;
  std::vector<double> p(static_cast<size_t>(degree), degree > 0 ? 1.0 / static_cast<double>(degree) : 0.0);
  if (!weighted() || degree == 0) return p;
  std::fill(p.begin(), p.end(), 0.0);
  for (int64_t j = 0; j < degree; ++j) {
    const double keep = coin_below(alias_probability_[begin + j]);
    p[j] += keep / static_cast<double>(degree);
    p[alias_slot_[begin + j]] += (1.0 - keep) / static_cast<double>(degree);
  }
  return p;
}

}  // namespace relfm::sampler
