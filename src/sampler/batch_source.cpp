#include "src/sampler/batch_source.hpp"

#include "src/core/error.hpp"
#include "src/sampler/community_batches.hpp"
#include "src/sampler/distributed_walks.hpp"
#include "src/sampler/partitioned_graph.hpp"
#include "src/sampler/uniform_order.hpp"
#include "src/sampler/walk_graph.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

namespace relfm::sampler {
namespace {

// Stream ids under RngPurpose::kSampler (walk_batches.cpp and uniform_order.hpp use their own).
constexpr uint64_t kProximityStream = 0x70726f;  // "pro"
constexpr uint64_t kCommunityStream = 0x636f6d;  // "com"

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

int64_t steps_per_epoch(const BatchSourceConfig& c) { return (c.num_instances + c.batch_size - 1) / c.batch_size; }

std::vector<double> to_doubles(const std::vector<int64_t>& v) { return {v.begin(), v.end()}; }
std::vector<int64_t> to_ints(const std::vector<double>& v) {
  std::vector<int64_t> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = static_cast<int64_t>(v[i]);
  return out;
}
const std::vector<double>& entry(const std::map<std::string, std::vector<double>>& state, const std::string& key,
                                 size_t size = 0) {
  const auto it = state.find(key);
  if (it == state.end()) fail_input("sampler state: '{}' is missing", key);
  if (size > 0 && it->second.size() != size)
    fail_input("sampler state: '{}' holds {} values, expected {}", key, it->second.size(), size);
  return it->second;
}

class UniformSource final : public BatchSource {
 public:
  explicit UniformSource(const BatchSourceConfig& c) : c_(c), order_(c) {}
  int64_t begin_epoch(int64_t epoch) override {
    order_.begin(epoch);
    return steps_per_epoch(c_);
  }
  std::vector<VertexId> next_batch() override {
    const auto t0 = Clock::now();
    std::vector<VertexId> b = order_.next();
    stats_.sample_seconds += seconds_since(t0);
    return b;
  }
  BatchSourceStats stats() const override { return stats_; }
  std::map<std::string, std::vector<double>> save() const override { return {{"uniform", order_.save()}}; }
  void restore(const std::map<std::string, std::vector<double>>& s) override { order_.restore(entry(s, "uniform", 2)); }

 private:
  BatchSourceConfig c_;
  UniformOrder order_;
  BatchSourceStats stats_;
};

// The schedule every graph kind shares: warm-up, the bank, (double-buffered) rebuilds. A kind says which
// proximity graph it wants, what to do with a new one, and how to draw a batch from the current one.
class GraphSource : public BatchSource {
 public:
  GraphSource(const Communicator& comm, const BatchSourceConfig& c)
      : comm_(comm), c_(c), warmup_(c), bank_(MatF::Zero(c.num_instances, c.bank_dim)) {
    if (c.bank_dim < 1) fail_input("sampler '{}': the embedding bank needs at least one column", c.kind);
  }
  ~GraphSource() override {
    if (worker_.joinable()) worker_.join();
  }

  int64_t begin_epoch(int64_t epoch) override {
    trainer_epoch_ = epoch;
    if (in_warmup()) warmup_.begin(epoch);
    return steps_per_epoch(c_);
  }

  std::vector<VertexId> next_batch() override {
    if (in_warmup()) {
      from_graph_ = false;
      return warmup_.next();
    }
    if (!has_graph_) build_now();
    else if (c_.refresh_every > 0 && graph_batches_ > 0 && graph_batches_ % c_.refresh_every == 0 && refreshed_at_ != graph_batches_)
      refresh();
    const auto t0 = Clock::now();
    std::vector<VertexId> batch = draw();
    stats_.sample_seconds += seconds_since(t0);
    ++graph_batches_;
    return batch;
  }

  bool last_from_graph() const override { return from_graph_; }
  int64_t bank_dim() const override { return c_.bank_dim; }
  void record(std::span<const VertexId> ids, const MatF& rows) override {
    RELFM_CHECK(static_cast<int64_t>(ids.size()) == rows.rows() && rows.cols() == c_.bank_dim,
                "sampler: {} bank rows of width {} for {} ids (bank width {})", rows.rows(), rows.cols(), ids.size(), c_.bank_dim);
    for (size_t i = 0; i < ids.size(); ++i) bank_.row(ids[i]) = rows.row(static_cast<int64_t>(i));
  }
  void set_bank(const MatF& bank) override {
    if (bank.rows() != c_.num_instances || bank.cols() != c_.bank_dim)
      fail_input("sampler: a bank of {} x {} for {} instances of width {}", bank.rows(), bank.cols(), c_.num_instances, c_.bank_dim);
    bank_ = bank;
    bank_preset_ = true;
  }
  BatchSourceStats stats() const override { return stats_; }

  std::map<std::string, std::vector<double>> save() const override {
    std::map<std::string, std::vector<double>> s;
    s["warmup"] = warmup_.save();
    s["counters"] = {static_cast<double>(trainer_epoch_), static_cast<double>(graph_batches_), static_cast<double>(builds_),
                     has_graph_ ? 1.0 : 0.0, pending_ ? 1.0 : 0.0, static_cast<double>(pending_index_),
                     static_cast<double>(refreshed_at_), static_cast<double>(stats_.rebuilds),
                     static_cast<double>(stats_.coverage_epochs), bank_preset_ ? 1.0 : 0.0,
                     static_cast<double>(stats_.walk_steps), static_cast<double>(stats_.filled)};
    s["seconds"] = {stats_.sample_seconds, stats_.rebuild_seconds, stats_.background_seconds};  // timings: not replayable
    s["bank"].assign(bank_.data(), bank_.data() + bank_.size());
    s["table"].assign(table_.data(), table_.data() + table_.size());
    if (pending_) s["pending_bank"].assign(pending_bank_.data(), pending_bank_.data() + pending_bank_.size());
    save_kind(s);
    return s;
  }

  void restore(const std::map<std::string, std::vector<double>>& s) override {
    if (worker_.joinable()) worker_.join();
    warmup_.restore(entry(s, "warmup", 2));
    const std::vector<double>& k = entry(s, "counters", 12);
    trainer_epoch_ = static_cast<int64_t>(k[0]);
    graph_batches_ = static_cast<int64_t>(k[1]);
    builds_ = static_cast<int64_t>(k[2]);
    has_graph_ = k[3] != 0;
    pending_ = false;
    refreshed_at_ = static_cast<int64_t>(k[6]);
    stats_.rebuilds = static_cast<int64_t>(k[7]);
    stats_.coverage_epochs = static_cast<int64_t>(k[8]);
    bank_preset_ = k[9] != 0;
    stats_.walk_steps = static_cast<int64_t>(k[10]);
    stats_.filled = static_cast<int64_t>(k[11]);
    const std::vector<double>& t = entry(s, "seconds", 3);
    stats_.sample_seconds = t[0];
    stats_.rebuild_seconds = t[1];
    stats_.background_seconds = t[2];
    const std::vector<double>& b = entry(s, "bank", static_cast<size_t>(bank_.size()));
    std::copy(b.begin(), b.end(), bank_.data());
    const ProximityConfig p = proximity();
    if (has_graph_) {
      const std::vector<double>& t = entry(s, "table", static_cast<size_t>(c_.num_instances * p.neighbours));
      table_.resize(c_.num_instances, p.neighbours);
      std::copy(t.begin(), t.end(), table_.data());
      use_graph(/*restoring=*/true);
    }
    restore_kind(s);
    if (k[4] != 0) {  // a background build was under way: start it again from the same snapshot
      const std::vector<double>& pb = entry(s, "pending_bank", static_cast<size_t>(bank_.size()));
      MatF snapshot(bank_.rows(), bank_.cols());
      std::copy(pb.begin(), pb.end(), snapshot.data());
      launch(std::move(snapshot), static_cast<int64_t>(k[5]));
    }
  }

 protected:
  virtual ProximityConfig proximity() const { return c_.proximity; }
  // table_ holds a new graph (restoring: the one in use when the checkpoint was written).
  virtual void use_graph(bool restoring) = 0;
  virtual std::vector<VertexId> draw() = 0;
  virtual void save_kind(std::map<std::string, std::vector<double>>& /*s*/) const {}
  virtual void restore_kind(const std::map<std::string, std::vector<double>>& /*s*/) {}

  bool in_warmup() const { return trainer_epoch_ < c_.warmup_epochs && !bank_preset_; }
  Csr table_csr() const { return neighbour_table_csr(table_, c_.num_instances); }

  const Communicator& comm_;
  BatchSourceConfig c_;
  IndexMat table_;
  BatchSourceStats stats_;
  bool from_graph_ = false;

 private:
  CounterRng build_stream(int64_t index) const {
    return CounterRng(c_.seed, RngPurpose::kSampler, kProximityStream).derive(static_cast<uint64_t>(index));
  }
  IndexMat local_rows(const MatF& bank, int64_t index) const {
    const ProximityConfig p = proximity();
    const AnchorShare s = anchor_share(c_.num_instances, p.block, comm_.rank(), comm_.size());
    return proximity_neighbours(bank, s.first, s.last, p, build_stream(index));
  }
  void install(const IndexMat& mine) {
    table_ = gather_neighbours(comm_, mine, c_.num_instances, proximity());
    has_graph_ = true;
    ++stats_.rebuilds;
    use_graph(false);
  }
  void build_now() {
    const auto t0 = Clock::now();
    proximity().validate(c_.num_instances);
    install(local_rows(bank_, builds_++));
    refreshed_at_ = graph_batches_;
    stats_.rebuild_seconds += seconds_since(t0);
  }
  void launch(MatF snapshot, int64_t index) {
    pending_bank_ = std::move(snapshot);
    pending_index_ = index;
    pending_ = true;
    worker_ = std::thread([this] {
      const auto t0 = Clock::now();
      pending_rows_ = local_rows(pending_bank_, pending_index_);
      pending_seconds_ = seconds_since(t0);
    });
  }
  void refresh() {
    refreshed_at_ = graph_batches_;
    if (!c_.overlap) {
      build_now();
      return;
    }
    const auto t0 = Clock::now();
    if (pending_) {
      worker_.join();
      pending_ = false;
      stats_.background_seconds += pending_seconds_;
      install(pending_rows_);
    }
    launch(bank_, builds_++);
    stats_.rebuild_seconds += seconds_since(t0);
  }

  UniformOrder warmup_;
  MatF bank_;
  int64_t trainer_epoch_ = -1;
  int64_t graph_batches_ = 0;  // batches drawn from graphs so far
  int64_t builds_ = 0;         // builds started (the index of the next build's stream)
  int64_t refreshed_at_ = -1;  // graph_batches_ at the last refresh point handled
  bool has_graph_ = false, bank_preset_ = false;
  // The background build (overlap).
  std::thread worker_;
  bool pending_ = false;
  MatF pending_bank_;
  int64_t pending_index_ = 0;
  IndexMat pending_rows_;
  double pending_seconds_ = 0;
};

// Batches from a WalkBatchPlanner whose walks run on whatever the current graph is.
class PlannedSource : public GraphSource {
 public:
  PlannedSource(const Communicator& comm, const BatchSourceConfig& c, WalkBatchConfig walks)
      : GraphSource(comm, c), planner_(c.num_instances, walks, c.seed, [this](std::span<const Walker> w, const WalkRule& r,
                                                                             const CounterRng& g, const std::vector<uint8_t>* x) {
          return runner_(w, r, g, x);
        }) {}

 protected:
  std::vector<VertexId> draw() override {
    if (!planner_started_ || planner_.epoch_done()) {
      // Coverage epochs are numbered on from the warm-up, as the official loop numbers its epochs (so the
      // restart schedule's first graph epoch is warmup + 1).
      planner_.begin_epoch(planner_started_ ? planner_.epoch() + 1 : c_.warmup_epochs + 1);
      planner_started_ = true;
      ++stats_.coverage_epochs;
    }
    WalkBatch b = planner_.next_batch();
    stats_.walk_steps += b.walk_steps;
    stats_.filled += b.filled;
    from_graph_ = b.from_walk;
    return std::move(b.vertices);
  }
  void save_kind(std::map<std::string, std::vector<double>>& s) const override {
    s["planner_started"] = {planner_started_ ? 1.0 : 0.0};
    if (planner_started_) s["planner"] = to_doubles(planner_.save_state());
  }
  void restore_kind(const std::map<std::string, std::vector<double>>& s) override {
    planner_started_ = entry(s, "planner_started", 1)[0] != 0;
    if (planner_started_) planner_.restore_state(to_ints(entry(s, "planner")));
  }

  RunWalks runner_;

 private:
  WalkBatchPlanner planner_;
  bool planner_started_ = false;
};

class BatchSamplerSource final : public PlannedSource {
 public:
  BatchSamplerSource(const Communicator& comm, const BatchSourceConfig& c) : PlannedSource(comm, c, walk_config(c)) {
    if (c.walk_engine != "distributed" && c.walk_engine != "local" && c.walk_engine != "auto")
      fail_input("sampler.walk_engine '{}': expected auto, distributed or local", c.walk_engine);
    if (c.walk_engine != "local" && comm.size() > 1 && !c.partition)
      fail_input("sampler: distributed walks need a graph partitioner");
  }

 private:
  static WalkBatchConfig walk_config(const BatchSourceConfig& c) {
    WalkBatchConfig w = c.walks;
    w.batch_size = c.batch_size;
    return w;
  }
  // auto: every rank holds the whole table after the build's all-gather, so up to this many entries it
  // walks the graph itself and no walker crosses a rank (a walk of a few hundred steps costs microseconds,
  // a superstep across ranks tens); beyond it, the graph is placed and walked across ranks.
  static constexpr int64_t kReplicatedWalkEntries = int64_t{1} << 26;
  bool walk_locally() const {
    if (comm_.size() == 1 || c_.walk_engine == "local") return true;
    if (c_.walk_engine == "distributed") return false;
    return c_.num_instances * c_.proximity.neighbours <= kReplicatedWalkEntries;
  }
  void use_graph(bool /*restoring*/) override {
    const Csr graph = table_csr();
    if (walk_locally()) {
      whole_ = std::make_unique<WalkGraph>(WalkGraph::whole(graph));
      runner_ = local_walk_runner(*whole_);
      return;
    }
    // METIS places the graph (each rank walks the part it owns); the rows go to their owners.
    const std::vector<int32_t> part = c_.partition(graph, comm_.size(), c_.seed);
    const AnchorShare s = anchor_share(c_.num_instances, c_.proximity.block, comm_.rank(), comm_.size());
    const IndexMat mine = table_.middleRows(s.first, s.last - s.first);
    placed_ = std::make_unique<PartitionedGraph>(comm_, neighbour_table_csr(mine, c_.num_instances),
                                                 static_cast<VertexId>(s.first), std::vector<float>{}, part);
    runner_ = distributed_walk_runner(comm_, *placed_);
  }

  std::unique_ptr<WalkGraph> whole_;
  std::unique_ptr<PartitionedGraph> placed_;
};

class KnnSource final : public PlannedSource {
 public:
  KnnSource(const Communicator& comm, const BatchSourceConfig& c) : PlannedSource(comm, c, official(c)) {}

 private:
  static WalkBatchConfig official(const BatchSourceConfig& c) {
    WalkBatchConfig w;
    w.batch_size = c.batch_size;
    w.mode = EpochMode::kOfficial;
    return w;
  }
  ProximityConfig proximity() const override {
    ProximityConfig p = c_.proximity;
    p.candidates = c_.num_instances;  // exact
    p.neighbours = std::max<int64_t>(1, std::min(c_.batch_size - 1, c_.num_instances - 1));
    return p;
  }
  void use_graph(bool /*restoring*/) override {
    // A "walk" that visits its start and then the start's neighbours in order of similarity.
    runner_ = [this](std::span<const Walker> walks, const WalkRule&, const CounterRng&, const std::vector<uint8_t>*) {
      WalkResult result;
      for (const Walker& w : walks) {
        Walker done = w;
        done.status = WalkStatus::kReachedTarget;
        result.walkers.push_back(done);
        result.records.push_back({w.id, 0, w.start});
        for (int64_t j = 0; j < table_.cols(); ++j)
          result.records.push_back({w.id, static_cast<uint32_t>(j + 1), table_(w.start, j)});
      }
      return result;
    };
  }
};

class CommunitySource final : public GraphSource {
 public:
  CommunitySource(const Communicator& comm, const BatchSourceConfig& c) : GraphSource(comm, c) {
    if (!c.partition) fail_input("sampler 'communities' needs a graph partitioner");
  }

 private:
  void use_graph(bool restoring) override {
    parts_ = community_count(c_.num_instances, c_.batch_size);
    const uint64_t seed = CounterRng(c_.seed, RngPurpose::kSampler, kCommunityStream).u32(static_cast<uint64_t>(stats_.rebuilds));
    pending_part_ = c_.partition(table_csr(), parts_, seed);
    if (restoring) return;  // restore_kind brings back the communities in use
    if (!communities_) adopt();
  }
  void adopt() {
    part_ = pending_part_;
    communities_ = std::make_unique<CommunityBatches>(part_, parts_, c_.seed);
    pending_part_.clear();
  }
  std::vector<VertexId> draw() override {
    // New communities take over at the start of a community epoch, so an epoch visits each part once.
    if (!started_ || communities_->epoch_done()) {
      if (!pending_part_.empty()) adopt();
      communities_->begin_epoch(started_ ? ++epoch_ : epoch_);
      started_ = true;
      ++stats_.coverage_epochs;
    }
    from_graph_ = true;
    return communities_->next_batch();
  }
  void save_kind(std::map<std::string, std::vector<double>>& s) const override {
    s["communities"] = {started_ ? 1.0 : 0.0, static_cast<double>(epoch_), static_cast<double>(served_in_epoch())};
    s["part"].assign(part_.begin(), part_.end());
    s["pending_part"].assign(pending_part_.begin(), pending_part_.end());
  }
  void restore_kind(const std::map<std::string, std::vector<double>>& s) override {
    const std::vector<double>& k = entry(s, "communities", 3);
    started_ = k[0] != 0;
    epoch_ = static_cast<int64_t>(k[1]);
    const std::vector<double>& part = entry(s, "part"), &pending = entry(s, "pending_part");
    part_.assign(part.begin(), part.end());
    pending_part_.assign(pending.begin(), pending.end());
    if (part_.empty()) return;
    communities_ = std::make_unique<CommunityBatches>(part_, parts_, c_.seed);
    if (started_) {
      communities_->begin_epoch(epoch_);
      for (int64_t i = 0; i < static_cast<int64_t>(k[2]); ++i) communities_->next_batch();
    }
  }
  int64_t served_in_epoch() const { return communities_ && started_ ? communities_->served() : 0; }

  int parts_ = 1;
  std::vector<int32_t> part_, pending_part_;
  std::unique_ptr<CommunityBatches> communities_;
  bool started_ = false;
  int64_t epoch_ = 0;
};

std::map<std::string, BatchSourceFactory>& registry() {
  static std::map<std::string, BatchSourceFactory> r;
  return r;
}

const bool kBuiltins = [] {
  register_batch_source("uniform", [](const Communicator&, const BatchSourceConfig& c) { return std::make_unique<UniformSource>(c); });
  register_batch_source("batchsampler", [](const Communicator& comm, const BatchSourceConfig& c) {
    return std::make_unique<BatchSamplerSource>(comm, c);
  });
  register_batch_source("knn", [](const Communicator& comm, const BatchSourceConfig& c) { return std::make_unique<KnnSource>(comm, c); });
  register_batch_source("communities", [](const Communicator& comm, const BatchSourceConfig& c) {
    return std::make_unique<CommunitySource>(comm, c);
  });
  return true;
}();

}  // namespace

BatchHardness batch_hardness(const MatF& rows, std::span<const VertexId> ids, const std::vector<int32_t>* labels) {
  const int64_t n = rows.rows();
  RELFM_CHECK(static_cast<int64_t>(ids.size()) == n, "batch_hardness: {} rows for {} ids", n, ids.size());
  if (n < 2) return {std::nan(""), std::nan("")};
  const MatF gram = rows * rows.transpose();
  double cosine = 0, same = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) {
      cosine += gram(i, j);
      if (labels) same += (*labels)[static_cast<size_t>(ids[i])] == (*labels)[static_cast<size_t>(ids[j])] ? 1 : 0;
    }
  const double pairs = static_cast<double>(n) * static_cast<double>(n - 1) / 2;
  return {cosine / pairs, labels ? same / pairs : std::nan("")};
}

bool register_batch_source(const std::string& kind, BatchSourceFactory factory) {
  registry()[kind] = std::move(factory);
  return true;
}

std::vector<std::string> batch_source_kinds() {
  (void)kBuiltins;
  std::vector<std::string> names;
  for (const auto& [name, f] : registry()) names.push_back(name);
  return names;
}

std::unique_ptr<BatchSource> make_batch_source(const Communicator& comm, const BatchSourceConfig& config) {
  (void)kBuiltins;
  const auto it = registry().find(config.kind);
  if (it == registry().end()) {
    std::string names;
    for (const std::string& n : batch_source_kinds()) names += (names.empty() ? "" : ", ") + n;
    fail_input("sampler.kind '{}': expected one of {}", config.kind, names);
  }
  if (config.num_instances < 1) fail_input("sampler: no instances to batch");
  if (config.batch_size < 1) fail_input("sampler: batch size {} (need at least 1)", config.batch_size);
  if (config.warmup_epochs < 0) fail_input("sampler.warmup_epochs {} is negative", config.warmup_epochs);
  if (config.refresh_every < 0) fail_input("sampler.refresh_every {} is negative", config.refresh_every);
  return it->second(comm, config);
}

}  // namespace relfm::sampler
