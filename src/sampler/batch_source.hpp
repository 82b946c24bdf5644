// Where a contrastive trainer's mini-batches come from, picked by a string key (sampler.kind):
//   uniform       shuffled batches (once for all epochs, as GraphCL's loader does, or reshuffled every epoch)
//   batchsampler  BatchSampler (research/batchsampler.md §1): random walks with restart on the top-K-of-M
//                 proximity graph of an embedding bank; the batch is the B distinct vertices one walk visits
//   knn           the kNN-Sampler baseline as relfm reads it (§7 item 5 is open): the exact kNN graph
//                 (M = N, K = B-1); a batch is a start drawn from the uncovered instances plus its B-1
//                 nearest neighbours, under the official epoch rule (walk_batches.hpp)
//   communities   METIS communities of the proximity graph as batches (the idea of B3, §5)
// A new kind implements BatchSource and registers a factory under its key.
//
// The graph kinds share one schedule (the official code's): `warmup_epochs` epochs of uniform batches
// fill the bank with the rows the training forward passes produce (record()); the first graph is built
// from it when the warm-up ends, and rebuilt from scratch every `refresh_every` batches. With `overlap`
// the rebuild runs on a background thread while training goes on (a double-buffered graph): the graph
// built from the bank at refresh point k is used from refresh point k+1, one refresh staler than without.
// Either way the batches are a pure function of (seed, bank history), whatever the rank count.
//
// Budget: every trainer epoch has ceil(N / B) steps whatever the kind (the official code caps its
// training at that many batches per epoch, §1.3), and a graph kind's own coverage epochs run on across
// trainer epochs; so every sampler gets the same number of gradient steps.
//
// Collective: every rank calls every method in the same order with the same arguments and gets the same
// batches. Nothing here includes MPI; the METIS partitioner comes in as a function (dist::partition_graph).
#pragma once

#include "src/core/collective.hpp"
#include "src/core/types.hpp"
#include "src/graph/csr.hpp"
#include "src/sampler/proximity_graph.hpp"
#include "src/sampler/walk_batches.hpp"

#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace relfm::sampler {

// Cuts a graph into `parts` (symmetrising it as METIS needs); a pure function of its arguments.
using GraphPartitioner = std::function<std::vector<int32_t>(const Csr& graph, int parts, uint64_t seed)>;

struct BatchSourceConfig {
  std::string kind = "uniform";
  int64_t num_instances = 0;
  int64_t batch_size = 128;
  uint64_t seed = 0;
  bool reshuffle = false;            // uniform batches: a new order every epoch
  int64_t warmup_epochs = 1;         // graph kinds: uniform epochs before the first graph
  int64_t refresh_every = 100;       // graph kinds: batches between rebuilds (0: the first graph only)
  bool overlap = false;              // graph kinds: rebuild on a background thread (one refresh staler)
  int64_t bank_dim = 0;              // graph kinds: columns of the embedding bank
  ProximityConfig proximity;         // batchsampler, communities: M and K (knn: exact, K = B-1)
  WalkBatchConfig walks;             // batchsampler (its batch_size is this config's)
  // distributed (METIS-placed, walkers move between ranks) | local (every rank walks the whole graph) |
  // auto (local while the graph has at most 2^26 entries, distributed beyond)
  std::string walk_engine = "auto";
  GraphPartitioner partition;        // required by communities and by distributed walks on > 1 rank
};

struct BatchSourceStats {
  int64_t rebuilds = 0;              // graphs put in use
  double rebuild_seconds = 0;        // training-thread time in rebuilds (with overlap: the waits and swaps)
  double background_seconds = 0;     // time the background builds took (overlap)
  double sample_seconds = 0;         // forming batches (walks, coverage)
  int64_t walk_steps = 0;
  int64_t filled = 0;                // vertices added after a walk hit its step cap
  int64_t coverage_epochs = 0;       // graph kinds: coverage epochs begun
};

class BatchSource {
 public:
  virtual ~BatchSource() = default;
  // Starts trainer epoch `epoch` (0-based); returns its number of steps, ceil(N / B). Calling it again
  // for the epoch in progress (after restore) keeps the position.
  virtual int64_t begin_epoch(int64_t epoch) = 0;
  // The next batch: distinct instance ids.
  virtual std::vector<VertexId> next_batch() = 0;
  // Whether the last batch came from the graph (false: a uniform batch of the warm-up or a leftover pass).
  virtual bool last_from_graph() const { return false; }
  // Columns of the bank the source wants (0: none). record() stores the rows of the instances just
  // trained (row i for ids[i]); rows must be the same on every rank.
  virtual int64_t bank_dim() const { return 0; }
  virtual void record(std::span<const VertexId> /*ids*/, const MatF& /*rows*/) {}
  // The whole bank at once (e.g. embeddings exported by another framework): the graph phase starts at once.
  virtual void set_bank(const MatF& /*bank*/) {}
  virtual BatchSourceStats stats() const { return {}; }
  // Everything needed to continue with the same batches (replicated on every rank).
  virtual std::map<std::string, std::vector<double>> save() const = 0;
  virtual void restore(const std::map<std::string, std::vector<double>>& state) = 0;
};

// How hard a batch is: the mean cosine over its distinct pairs (rows: the batch's unit embeddings, in
// batch order) and, with labels (per instance), the share of pairs with equal labels (false negatives of
// a contrastive loss). NaN for fewer than two rows; the share is NaN without labels.
struct BatchHardness {
  double mean_cosine = 0;
  double same_label_share = 0;
};
BatchHardness batch_hardness(const MatF& rows, std::span<const VertexId> ids, const std::vector<int32_t>* labels);

using BatchSourceFactory = std::function<std::unique_ptr<BatchSource>(const Communicator&, const BatchSourceConfig&)>;
// Adds a kind (at static initialisation); returns true so that it can initialise a static.
bool register_batch_source(const std::string& kind, BatchSourceFactory factory);
std::vector<std::string> batch_source_kinds();
// InputError naming the kinds when `config.kind` is unknown, or naming the field that is out of range.
std::unique_ptr<BatchSource> make_batch_source(const Communicator& comm, const BatchSourceConfig& config);

}  // namespace relfm::sampler
