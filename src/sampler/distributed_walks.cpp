#include "src/sampler/distributed_walks.hpp"

#include "src/core/error.hpp"

#include <algorithm>

namespace relfm::sampler {
namespace {

// First visits recorded under original ids (the walk runs in new ids); `excluded` is in original ids.
struct OriginalIdVisits {
  const PartitionedGraph& graph;
  const std::vector<uint8_t>* excluded;
  FirstVisits visits;

  bool arrive(const Walker& w, VertexId v) {
    const VertexId original = graph.to_original(v);
    if (excluded != nullptr && (*excluded)[static_cast<size_t>(original)]) return false;
    return visits.arrive(w, original);
  }
};

template <typename T>
std::vector<T> gather_all(const Communicator& comm, const std::vector<T>& local) {
  std::vector<uint8_t> bytes(local.size() * sizeof(T));
  if (!local.empty()) std::memcpy(bytes.data(), local.data(), bytes.size());
  const std::vector<uint8_t> all = comm.allgatherv(bytes);
  std::vector<T> out(all.size() / sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), all.data(), all.size());
  return out;
}

}  // namespace

RunWalks distributed_walk_runner(const Communicator& comm, const PartitionedGraph& graph) {
  return [&comm, &graph](std::span<const Walker> walks, const WalkRule& rule, const CounterRng& rng,
                         const std::vector<uint8_t>* excluded) {
    std::vector<Walker> mine;
    for (Walker w : walks) {  // every rank sees every walk; the owner of its start runs it
      w.start = graph.to_new(w.start);
      w.cur = graph.to_new(w.cur);
      if (graph.local().owns(w.cur)) mine.push_back(w);
    }
    OriginalIdVisits visitor{graph, excluded, FirstVisits()};
    run_walks(comm, WalkEngine(graph.local(), rule, rng), graph.ranges(), mine, visitor);
    WalkResult result;
    result.records = gather_all(comm, visitor.visits.records());
    sort_records(result.records);
    result.walkers = gather_all(comm, mine);
    for (Walker& w : result.walkers) {
      w.start = graph.to_original(w.start);
      w.cur = graph.to_original(w.cur);
    }
    std::sort(result.walkers.begin(), result.walkers.end(), [](const Walker& a, const Walker& b) { return a.id < b.id; });
    RELFM_CHECK(result.walkers.size() == walks.size(), "distributed walks: {} of {} walks came back", result.walkers.size(),
                walks.size());
    return result;
  };
}

}  // namespace relfm::sampler
