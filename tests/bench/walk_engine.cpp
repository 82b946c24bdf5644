// Walker-engine throughput (issue 8): personalised-PageRank walks (terminate with probability alpha per
// step, KnightKing's PPR) from every vertex of a synthetic graph, over any number of ranks; prints the
// steps per second beside a denominator measured in the same run on the same memory: independent random
// reads per second of the neighbour array (a step costs two dependent random reads on a graph this size).
//
//   mpirun -n P relfm_walk_bench [uniform|rmat|knn3d] [log2 vertices = 22] [edges per vertex = 16] [alpha = 0.0125]
//                                [walkers per vertex = 1] [--edges FILE] [--replicated] [--metis]
//
// knn3d is a graph with the locality of a proximity graph (BatchSampler's): 2^k points uniform in the unit
// cube, each vertex's out-edges its `degree` nearest points among those of the 27 grid cells around it
// (cells of about 4 points: nearly always its true nearest neighbours); ids are in draw order, so a range
// partition is as blind to the geometry as on the uniform graph. --metis partitions the graph with METIS
// (dist/partition.hpp, on rank 0: the owners the GraphCL job gives a proximity graph) instead of by range.
//
// The graph is a pure function of its parameters (counter-based RNG keyed by edge index); every rank
// builds the rows of one contiguous range of vertices (the range partition KnightKing uses), so a run at
// P ranks walks the same graph and the same walks as a run at 1. --edges FILE writes the graph as
// KnightKing's binary edge list (pairs of uint32 source, destination), from rank 0 of a 1-rank run, so
// the peer engine can run on the very same edges. --replicated gives every rank the whole graph and the
// walkers that start in its range, so no walker crosses a rank: the engine BatchSampler's `auto` mode picks
// for graphs that fit every rank (up to 2^26 entries); the walks and the step count are the same.
#include "dist/comm.hpp"
#include "dist/partition.hpp"
#include "dist/runtime.hpp"
#include "src/sampler/distributed_walks.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace relfm {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct GraphSpec {
  std::string kind = "uniform";
  int log2_vertices = 22;
  int64_t degree = 16;
};

// R-MAT quadrant choice per bit (a, b, c, d) = (0.57, 0.19, 0.19, 0.05), as in Graph500.
std::pair<VertexId, VertexId> rmat_edge(const CounterRng& rng, uint64_t e, int bits) {
  VertexId s = 0, d = 0;
  for (int b = 0; b < bits; ++b) {
    const double u = rng.uniform_double(e * 64 + static_cast<uint64_t>(b));
    const int quadrant = u < 0.57 ? 0 : u < 0.76 ? 1 : u < 0.95 ? 2 : 3;
    s = (s << 1) | (quadrant >> 1);
    d = (d << 1) | (quadrant & 1);
  }
  return {s, d};
}

// knn3d's rows for vertices [first, last): every rank draws all points and grids them, then searches its own.
Csr knn3d_rows(const GraphSpec& spec, VertexId first, VertexId last) {
  const int64_t n = int64_t{1} << spec.log2_vertices;
  if (spec.degree >= n) fail_input("knn3d: degree {} needs more than {} points", spec.degree, n);
  const CounterRng rng(2026, RngPurpose::kTest, 3);
  std::vector<float> xyz(static_cast<size_t>(3 * n));
  for (int64_t i = 0; i < 3 * n; ++i) xyz[static_cast<size_t>(i)] = rng.uniform_float(static_cast<uint64_t>(i));
  const int64_t g = std::max<int64_t>(1, static_cast<int64_t>(std::cbrt(static_cast<double>(n) / 4.0)));
  auto coord = [&](float x) { return std::min<int64_t>(g - 1, static_cast<int64_t>(x * static_cast<float>(g))); };
  auto cell_of = [&](int64_t v) {
    return (coord(xyz[3 * v]) * g + coord(xyz[3 * v + 1])) * g + coord(xyz[3 * v + 2]);
  };
  std::vector<int64_t> start(static_cast<size_t>(g * g * g + 1), 0);
  for (int64_t v = 0; v < n; ++v) ++start[static_cast<size_t>(cell_of(v)) + 1];
  for (size_t c = 1; c < start.size(); ++c) start[c] += start[c - 1];
  std::vector<VertexId> members(static_cast<size_t>(n));
  std::vector<int64_t> fill(start.begin(), start.end() - 1);
  for (int64_t v = 0; v < n; ++v) members[static_cast<size_t>(fill[static_cast<size_t>(cell_of(v))]++)] = static_cast<VertexId>(v);

  Csr rows;
  rows.num_rows = last - first;
  rows.num_cols = static_cast<VertexId>(n);
  rows.row_ptr.resize(static_cast<size_t>(rows.num_rows) + 1);
  for (int64_t r = 0; r <= rows.num_rows; ++r) rows.row_ptr[r] = r * spec.degree;
  rows.col.resize(static_cast<size_t>(rows.num_rows * spec.degree));
  std::vector<std::pair<float, VertexId>> near;
  for (VertexId v = first; v < last; ++v) {
    near.clear();
    const int64_t cx = coord(xyz[3 * v]), cy = coord(xyz[3 * v + 1]), cz = coord(xyz[3 * v + 2]);
    auto dist2 = [&](VertexId u) {
      float s = 0;
      for (int k = 0; k < 3; ++k) s += (xyz[3 * u + k] - xyz[3 * v + k]) * (xyz[3 * u + k] - xyz[3 * v + k]);
      return s;
    };
    for (int64_t x = std::max<int64_t>(0, cx - 1); x <= std::min(g - 1, cx + 1); ++x)
      for (int64_t y = std::max<int64_t>(0, cy - 1); y <= std::min(g - 1, cy + 1); ++y)
        for (int64_t z = std::max<int64_t>(0, cz - 1); z <= std::min(g - 1, cz + 1); ++z) {
          const int64_t c = (x * g + y) * g + z;
          for (int64_t m = start[static_cast<size_t>(c)]; m < start[static_cast<size_t>(c) + 1]; ++m)
            if (members[static_cast<size_t>(m)] != v) near.emplace_back(dist2(members[static_cast<size_t>(m)]), members[static_cast<size_t>(m)]);
        }
    // A point in a sparse corner may see fewer than `degree` others nearby: it takes random far ones too.
    for (uint64_t extra = 0; static_cast<int64_t>(near.size()) < spec.degree; ++extra) {
      const auto u = static_cast<VertexId>(rng.derive(static_cast<uint64_t>(v)).below(extra, static_cast<uint64_t>(n)));
      if (u != v) near.emplace_back(dist2(u), u);
    }
    std::partial_sort(near.begin(), near.begin() + spec.degree, near.end());
    for (int64_t k = 0; k < spec.degree; ++k)
      rows.col[static_cast<size_t>((v - first) * spec.degree + k)] = near[static_cast<size_t>(k)].second;
  }
  return rows;
}

// The out-edges of vertices [first, last) (original ids): uniform targets with a fixed out-degree, or the
// R-MAT edges whose source falls in the range (every rank draws all edges and keeps its own).
Csr build_rows(const GraphSpec& spec, VertexId first, VertexId last) {
  const VertexId n = VertexId{1} << spec.log2_vertices;
  const CounterRng rng(2026, RngPurpose::kTest, spec.kind == "rmat" ? 2 : 1);
  if (spec.kind == "uniform") {
    Csr rows;
    rows.num_rows = last - first;
    rows.num_cols = n;
    rows.row_ptr.resize(static_cast<size_t>(rows.num_rows) + 1);
    for (int64_t r = 0; r <= rows.num_rows; ++r) rows.row_ptr[r] = r * spec.degree;
    rows.col.resize(static_cast<size_t>(rows.num_rows * spec.degree));
    for (int64_t i = 0; i < static_cast<int64_t>(rows.col.size()); ++i)
      rows.col[i] = static_cast<VertexId>(rng.below(static_cast<uint64_t>(first * spec.degree + i), static_cast<uint64_t>(n)));
    return rows;
  }
  if (spec.kind == "knn3d") return knn3d_rows(spec, first, last);
  if (spec.kind != "rmat") fail_input("graph kind '{}': expected uniform, rmat or knn3d", spec.kind);
  std::vector<VertexId> src, dst;
  const uint64_t edges = static_cast<uint64_t>(n) * static_cast<uint64_t>(spec.degree);
  // Vertex ids are scrambled by a fixed permutation-free hash so that high-degree vertices are not all
  // at the low ids (which would put every hub on rank 0).
  const uint64_t mask = static_cast<uint64_t>(n) - 1;
  auto scramble = [&](VertexId v) { return static_cast<VertexId>((static_cast<uint64_t>(v) * 0x9E3779B1ULL + 0x7F4A7C15ULL) & mask); };
  for (uint64_t e = 0; e < edges; ++e) {
    auto [s, d] = rmat_edge(rng, e, spec.log2_vertices);
    s = scramble(s);
    if (s < first || s >= last) continue;
    src.push_back(s - first);
    dst.push_back(scramble(d));
  }
  return Csr::from_pairs(last - first, n, src, dst);
}

// Independent random reads of the engine's edge array per second (one read per step is what the engine
// needs at best): a gather through a precomputed random index array.
double random_reads_per_second(const sampler::WalkEdge* col, int64_t size) {
  const size_t reads = std::min<size_t>(static_cast<size_t>(size), size_t{1} << 24);
  std::vector<uint32_t> index(reads);
  const CounterRng rng(7, RngPurpose::kTest);
  for (size_t i = 0; i < reads; ++i) index[i] = static_cast<uint32_t>(rng.below(i, static_cast<uint64_t>(size)));
  double best = 0;
  int64_t sink = 0;
  for (int rep = 0; rep < 3; ++rep) {
    const auto t = Clock::now();
    for (size_t i = 0; i < reads; ++i) sink += col[index[i]].to;
    best = std::max(best, static_cast<double>(reads) / seconds_since(t));
  }
  if (sink == 42) std::puts("");
  return best;
}

void write_edges(const GraphSpec& spec, const std::string& path) {
  const VertexId n = VertexId{1} << spec.log2_vertices;
  const Csr rows = build_rows(spec, 0, n);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) fail_input("cannot write '{}'", path);
  std::vector<uint32_t> buffer;
  for (VertexId v = 0; v < n; ++v)
    for (int64_t e = rows.row_begin(v); e < rows.row_end(v); ++e) {
      buffer.push_back(static_cast<uint32_t>(v));
      buffer.push_back(static_cast<uint32_t>(rows.col[e]));
    }
  std::fwrite(buffer.data(), sizeof(uint32_t), buffer.size(), f);
  std::fclose(f);
  fmt::print("wrote {} edges of the {} graph (2^{} vertices) to {}\n", rows.nnz(), spec.kind, spec.log2_vertices, path);
}

int run(dist::Comm& comm, int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string edges_path;
  for (size_t i = 0; i < args.size(); ++i)
    if (args[i] == "--edges" && i + 1 < args.size()) {
      edges_path = args[i + 1];
      args.erase(args.begin() + static_cast<std::ptrdiff_t>(i), args.begin() + static_cast<std::ptrdiff_t>(i) + 2);
      break;
    }
  auto take_flag = [&](const char* name) {
    const auto at = std::find(args.begin(), args.end(), name);
    if (at == args.end()) return false;
    args.erase(at);
    return true;
  };
  const bool replicated = take_flag("--replicated"), metis = take_flag("--metis");
  if (replicated && metis) fail_input("--replicated and --metis: choose one");
  GraphSpec spec;
  if (args.size() > 0) spec.kind = args[0];
  if (args.size() > 1) spec.log2_vertices = std::stoi(args[1]);
  if (args.size() > 2) spec.degree = std::stoll(args[2]);
  const double alpha = args.size() > 3 ? std::stod(args[3]) : 0.0125;
  const int64_t walkers_per_vertex = args.size() > 4 ? std::stoll(args[4]) : 1;
  if (!edges_path.empty()) {
    if (comm.size() != 1) fail_input("--edges: run on one rank");
    write_edges(spec, edges_path);
    return 0;
  }

  const int ranks = comm.size(), me = comm.rank();
  const VertexId n = VertexId{1} << spec.log2_vertices;
  auto range_first = [&](int r) { return static_cast<VertexId>(static_cast<int64_t>(n) * r / ranks); };
  const VertexId first = range_first(me), last = range_first(me + 1);
  // Replicated: every rank walks the whole graph on its own (a communicator of one), from its range's starts.
  const std::unique_ptr<dist::Comm> self = replicated ? comm.split_comm(me, 0) : nullptr;
  const dist::Comm& walk_comm = replicated ? *self : comm;
  auto t = Clock::now();
  const Csr rows = replicated ? build_rows(spec, 0, n) : build_rows(spec, first, last);
  std::vector<int32_t> part(static_cast<size_t>(n), 0);
  double cut_share = 0;
  if (metis) {
    const Csr whole = me == 0 ? build_rows(spec, 0, n) : Csr{};
    part = dist::partition_graph(comm, whole, {});
    if (me == 0) cut_share = static_cast<double>(dist::edge_cut(whole, part)) / static_cast<double>(whole.nnz());
  } else if (!replicated) {
    for (int r = 0; r < ranks; ++r) std::fill(part.begin() + range_first(r), part.begin() + range_first(r + 1), r);
  }
  const sampler::PartitionedGraph graph(walk_comm, rows, replicated ? 0 : first, {}, part);
  const int64_t edges = walk_comm.sum(graph.local().nnz());
  const double build_seconds = comm.max(seconds_since(t));

  // The denominator first, on this rank's own neighbour array, with every rank busy at once.
  comm.barrier();
  const double reads = random_reads_per_second(graph.local().edges(), graph.local().nnz());
  const double reads_per_rank = comm.sum(reads) / ranks;

  sampler::WalkRule rule;
  rule.alpha = alpha;
  rule.action = sampler::AlphaAction::kTerminate;
  const sampler::WalkEngine engine(graph.local(), rule, CounterRng(1, RngPurpose::kSampler, 0x505052));
  std::vector<sampler::Walker> walkers;
  // Starts: the vertices this rank owns, or, replicated, those of its range (one owner: ids unchanged).
  const VertexId from = replicated ? first : graph.local().first(), to = replicated ? last : graph.local().last();
  for (VertexId v = from; v < to; ++v)
    for (int64_t k = 0; k < walkers_per_vertex; ++k) {
      sampler::Walker w;
      w.id = static_cast<uint64_t>(graph.to_original(v)) * static_cast<uint64_t>(walkers_per_vertex) + static_cast<uint64_t>(k);
      w.start = w.cur = v;
      walkers.push_back(w);
    }
  comm.barrier();
  t = Clock::now();
  sampler::NoVisits none;
  const sampler::DistributedWalkCounts counts = sampler::run_walks(walk_comm, engine, graph.ranges(), walkers, none);
  const double walk_seconds = comm.max(seconds_since(t));
  const int64_t steps = comm.sum(counts.steps), sent = comm.sum(counts.sent);
  const int64_t supersteps = comm.max(counts.supersteps);
  if (me == 0) {
    const double rate = static_cast<double>(steps) / walk_seconds;
    fmt::print("graph {} 2^{} vertices, {} edges (built in {:.1f} s); {} rank(s){}; PPR alpha {} ({} walkers)\n", spec.kind,
               spec.log2_vertices, edges, build_seconds, ranks,
               replicated ? ", graph replicated on every rank"
                          : metis ? fmt::format(", METIS partition ({:.2f}% of edges cut)", 100 * cut_share) : ", range partition",
               alpha, static_cast<int64_t>(n) * walkers_per_vertex);
    fmt::print("steps {} in {:.3f} s: {:.2f} M steps/s ({:.2f} M per rank); {} supersteps, {} walker messages ({:.1f}% of steps)\n",
               steps, walk_seconds, rate / 1e6, rate / 1e6 / ranks, supersteps, sent,
               100.0 * static_cast<double>(sent) / static_cast<double>(steps));
    fmt::print("denominator: independent random reads {:.1f} M/s per rank; steps per random read (1 at best) {:.3f}\n",
               reads_per_rank / 1e6, rate / ranks / reads_per_rank);
    fmt::print("{{\"ranks\": {}, \"graph\": \"{}\", \"partition\": \"{}\", \"log2_vertices\": {}, \"edges\": {}, "
               "\"steps_per_s\": {:.0f}, \"random_reads_per_s_per_rank\": {:.0f}, \"supersteps\": {}}}\n",
               ranks, spec.kind, replicated ? "replicated" : metis ? "metis" : "range", spec.log2_vertices, edges, rate,
               reads_per_rank, supersteps);
  }
  return 0;
}

}  // namespace
}  // namespace relfm

int main(int argc, char** argv) {
  return relfm::dist::run_main(argc, argv, [&](relfm::dist::Comm& comm) { return relfm::run(comm, argc, argv); });
}
