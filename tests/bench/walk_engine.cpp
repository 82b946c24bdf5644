// Walker-engine throughput (issue 8): personalised-PageRank walks (terminate with probability alpha per
// step, KnightKing's PPR) from every vertex of a synthetic graph, over any number of ranks; prints the
// steps per second beside a denominator measured in the same run on the same memory: independent random
// reads per second of the neighbour array (a step costs two dependent random reads on a graph this size).
//
//   mpirun -n P relfm_walk_bench [uniform|rmat] [log2 vertices = 22] [edges per vertex = 16] [alpha = 0.0125]
//                                [walkers per vertex = 1] [--edges FILE] [--replicated]
//
// The graph is a pure function of its parameters (counter-based RNG keyed by edge index); every rank
// builds the rows of one contiguous range of vertices (the range partition KnightKing uses), so a run at
// P ranks walks the same graph and the same walks as a run at 1. --edges FILE writes the graph as
// KnightKing's binary edge list (pairs of uint32 source, destination), from rank 0 of a 1-rank run, so
// the peer engine can run on the very same edges. --replicated gives every rank the whole graph and the
// walkers that start in its range, so no walker crosses a rank: the engine BatchSampler's `auto` mode picks
// for graphs that fit every rank (up to 2^26 entries); the walks and the step count are the same.
#include "dist/comm.hpp"
#include "dist/runtime.hpp"
#include "src/sampler/distributed_walks.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
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
  if (spec.kind != "rmat") fail_input("graph kind '{}': expected uniform or rmat", spec.kind);
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
  const auto flag = std::find(args.begin(), args.end(), "--replicated");
  const bool replicated = flag != args.end();
  if (replicated) args.erase(flag);
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
  if (!replicated)
    for (int r = 0; r < ranks; ++r) std::fill(part.begin() + range_first(r), part.begin() + range_first(r + 1), r);
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
               spec.log2_vertices, edges, build_seconds, ranks, replicated ? ", graph replicated on every rank" : "", alpha,
               static_cast<int64_t>(n) * walkers_per_vertex);
    fmt::print("steps {} in {:.3f} s: {:.2f} M steps/s ({:.2f} M per rank); {} supersteps, {} walker messages ({:.1f}% of steps)\n",
               steps, walk_seconds, rate / 1e6, rate / 1e6 / ranks, supersteps, sent,
               100.0 * static_cast<double>(sent) / static_cast<double>(steps));
    fmt::print("denominator: independent random reads {:.1f} M/s per rank; steps per random read (1 at best) {:.3f}\n",
               reads_per_rank / 1e6, rate / ranks / reads_per_rank);
    fmt::print("{{\"ranks\": {}, \"graph\": \"{}\", \"log2_vertices\": {}, \"edges\": {}, \"steps_per_s\": {:.0f}, "
               "\"random_reads_per_s_per_rank\": {:.0f}, \"supersteps\": {}}}\n",
               ranks, spec.kind, spec.log2_vertices, edges, rate, reads_per_rank, supersteps);
  }
  return 0;
}

}  // namespace
}  // namespace relfm

int main(int argc, char** argv) {
  return relfm::dist::run_main(argc, argv, [&](relfm::dist::Comm& comm) { return relfm::run(comm, argc, argv); });
}
