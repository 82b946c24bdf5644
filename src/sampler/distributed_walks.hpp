// Random walks across ranks, bulk-synchronous (KnightKing's model): in each superstep every rank
// advances the walkers standing on its vertices until they finish or step onto another rank's vertex;
// the ones that left travel to their new owner in one alltoallv; a sum over ranks of the walkers in
// flight ends the loop. A walk draws its numbers from (its id, its step), so the walks are the same as on
// one process (tests/dist/walks_dist_test.cpp checks it at 1, 2 and 4 ranks).
//
// Written against src/'s Communicator, so the same code runs on one process (LocalCommunicator).
#pragma once

#include "src/core/collective.hpp"
#include "src/sampler/first_visits.hpp"
#include "src/sampler/partitioned_graph.hpp"
#include "src/sampler/walk_batches.hpp"
#include "src/sampler/walk_engine.hpp"

#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

namespace relfm::sampler {

struct DistributedWalkCounts {
  int64_t steps = 0;        // taken on this rank
  int64_t supersteps = 0;
  int64_t sent = 0;         // walkers this rank handed to others
};

// Runs to the end every walker of every rank (each stands anywhere: the first exchange routes it to its
// vertex's owner; new ids). On return `walkers` holds the walkers that finished on this rank. Collective.
template <class Visitor>
DistributedWalkCounts run_walks(const Communicator& comm, const WalkEngine& engine, const VertexRanges& ranges,
                                std::vector<Walker>& walkers, Visitor& visitor) {
  DistributedWalkCounts counts;
  const int ranks = comm.size(), me = comm.rank();
  // Walkers leave straight into per-destination buffers (the engine's sink); one copy packs them.
  std::vector<std::vector<Walker>> outbox(static_cast<size_t>(ranks));
  for (const Walker& w : walkers) outbox[static_cast<size_t>(ranges.owner(w.cur))].push_back(w);
  std::vector<Walker> active, finished;
  std::vector<int64_t> send_counts(static_cast<size_t>(ranks)), recv_counts(static_cast<size_t>(ranks));
  std::vector<uint8_t> send;
  static_assert(std::is_trivially_copyable_v<Walker>);
  auto sink = [&](const Walker& w) {
    // Ranges are few and walkers usually go to a neighbour range: a linear scan beats the search.
    int r = 0;
    while (w.cur >= ranges.first[static_cast<size_t>(r) + 1]) ++r;
    outbox[static_cast<size_t>(r)].push_back(w);
  };
  while (true) {
    int64_t bytes = 0;
    for (int r = 0; r < ranks; ++r) {
      send_counts[r] = static_cast<int64_t>(outbox[r].size() * sizeof(Walker));
      bytes += send_counts[r];
      if (r != me) counts.sent += static_cast<int64_t>(outbox[r].size());
    }
    // One all-gather tells every rank both whether any walker is still in flight and what it receives,
    // so a superstep costs two collectives (this and the exchange), one at the end.
    const std::vector<int64_t> matrix = comm.allgatherv(send_counts);  // [from * ranks + to]
    int64_t in_flight = 0, received_bytes = 0;
    for (int from = 0; from < ranks; ++from) {
      for (int to = 0; to < ranks; ++to) in_flight += matrix[static_cast<size_t>(from * ranks + to)];
      recv_counts[from] = matrix[static_cast<size_t>(from * ranks + me)];
      received_bytes += recv_counts[from];
    }
    if (in_flight == 0) break;
    // Walkers for a single destination (always so on 2 ranks) go straight from its outbox; several are
    // packed into one buffer in rank order, as the exchange wants them.
    int nonempty = 0;
    size_t only = 0;
    for (size_t r = 0; r < outbox.size(); ++r)
      if (!outbox[r].empty()) ++nonempty, only = r;
    const uint8_t* send_data = send.data();
    if (nonempty == 1) {
      send_data = reinterpret_cast<const uint8_t*>(outbox[only].data());
    } else if (nonempty > 1) {
      send.resize(static_cast<size_t>(bytes));
      size_t at = 0;
      for (auto& box : outbox) {
        if (!box.empty()) std::memcpy(send.data() + at, box.data(), box.size() * sizeof(Walker));
        at += box.size() * sizeof(Walker);
      }
      send_data = send.data();
    }
    // Received straight into the walkers to advance (Walker is trivially copyable): no second copy.
    active.resize(static_cast<size_t>(received_bytes) / sizeof(Walker));
    comm.alltoallv(send_data, send_counts, reinterpret_cast<uint8_t*>(active.data()), recv_counts);
    for (auto& box : outbox) box.clear();
    const AdvanceCounts step = engine.advance_into(active, visitor, sink);
    counts.steps += step.steps;
    ++counts.supersteps;
    for (const Walker& w : active)
      if (w.status != WalkStatus::kRunning) finished.push_back(w);
  }
  walkers = std::move(finished);
  return counts;
}

// The walk batches' RunWalks over a partitioned graph: walks and records in original ids, walked in new
// ids, the records of all ranks gathered on every rank. Collective; `graph` must outlive the runner.
RunWalks distributed_walk_runner(const Communicator& comm, const PartitionedGraph& graph);

}  // namespace relfm::sampler
