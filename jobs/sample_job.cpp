#include "jobs/sample_job.hpp"

#include "dist/partition.hpp"
#include "dist/runtime.hpp"
#include "io/batches.hpp"
#include "src/core/log.hpp"
#include "src/sampler/batch_source.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>

namespace relfm::jobs {

int run_sample(const dist::Comm& comm, const SampleOptions& o) {
  // The embeddings, replicated on every rank (the bank of research/batchsampler.md §6.2).
  h5::File in = h5::File::open(o.embeddings, comm);
  const std::vector<int64_t> dims = comm.collective([&] {
    const std::vector<std::string> names = in.list("/");
    auto has = [&](const std::string& n) { return std::find(names.begin(), names.end(), n) != names.end(); };
    if (!has(o.dataset)) fail_input("'{}': no dataset '{}' (use --dataset)", o.embeddings, o.dataset);
    std::vector<int64_t> d = in.dims("/" + o.dataset);
    if (d.size() != 2 || d[0] < 2 || d[1] < 1)
      fail_input("'{}' /{}: embeddings must be a 2-D [N, d] dataset with N >= 2 (its shape has {} dimension(s))",
                 o.embeddings, o.dataset, d.size());
    if (!o.labels.empty()) {
      if (!has(o.labels)) fail_input("'{}': no labels dataset '{}'", o.embeddings, o.labels);
      const std::vector<int64_t> l = in.dims("/" + o.labels);
      if (l.size() != 1 || l[0] != d[0])
        fail_input("'{}' /{}: labels must be [N] = [{}]", o.embeddings, o.labels, d[0]);
    }
    return d;
  });
  const int64_t n = dims[0], d = dims[1];
  MatF bank(n, d);
  {
    const std::vector<float> values = in.read_rows<float>("/" + o.dataset);
    std::copy(values.begin(), values.end(), bank.data());
  }
  std::vector<int32_t> labels;
  if (!o.labels.empty()) {
    const std::vector<int64_t> l = in.read_rows<int64_t>("/" + o.labels);
    labels.assign(l.begin(), l.end());
  }
  in.close();
  comm.collective([&] {
    for (int64_t i = 0; i < bank.size(); ++i)
      if (!std::isfinite(bank.data()[i]))
        fail_input("'{}' /{}: row {} holds a non-finite value", o.embeddings, o.dataset, i / d);
  });
  sampler::normalise_rows(bank);

  sampler::BatchSourceConfig c;
  c.kind = o.kind;
  c.num_instances = n;
  c.batch_size = o.batch_size;
  c.seed = o.seed;
  c.warmup_epochs = 0;
  c.refresh_every = 0;  // fixed embeddings: one graph
  c.bank_dim = d;
  c.proximity.candidates = o.candidates;
  c.proximity.neighbours = o.neighbours;
  c.walks.batch_size = o.batch_size;
  c.walks.restart = o.restart;
  c.walks.official_schedule = !o.fixed_restart;
  c.walk_engine = o.walk_engine;
  c.partition = [](const Csr& graph, int parts, uint64_t seed) {
    if (parts <= 1) return std::vector<int32_t>(static_cast<size_t>(graph.num_rows), 0);
    return dist::partition_graph(graph, {}, parts, seed);
  };
  auto source = comm.collective([&] {
    c.walks.mode = sampler::parse_epoch_mode(o.epoch_mode);
    if (c.walks.mode == sampler::EpochMode::kFixed) c.walks.batches_per_epoch = (n + o.batch_size - 1) / o.batch_size;
    c.walks.validate();
    if (o.epochs < 1) fail_input("relfm sample: --epochs {} (need at least 1)", o.epochs);
    if (o.kind == "batchsampler" || o.kind == "communities") c.proximity.validate(n);
    auto s = sampler::make_batch_source(comm, c);
    if (s->bank_dim() > 0) s->set_bank(bank);
    return s;
  });

  BatchesFile out;
  out.visits.assign(static_cast<size_t>(n), 0);
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t e = 0; e < o.epochs; ++e) {
    const int64_t steps = source->begin_epoch(e);
    for (int64_t k = 0; k < steps; ++k) {
      const std::vector<VertexId> b = source->next_batch();
      MatF rows(static_cast<int64_t>(b.size()), d);
      for (size_t i = 0; i < b.size(); ++i) {
        rows.row(static_cast<int64_t>(i)) = bank.row(b[i]);
        out.instances.push_back(b[i]);
        ++out.visits[static_cast<size_t>(b[i])];
      }
      out.offsets.push_back(static_cast<int64_t>(out.instances.size()));
      out.epoch.push_back(e);
      out.from_graph.push_back(source->last_from_graph() ? 1 : 0);
      const sampler::BatchHardness h = sampler::batch_hardness(rows, b, labels.empty() ? nullptr : &labels);
      out.mean_cosine.push_back(h.mean_cosine);
      if (!labels.empty()) out.same_label_share.push_back(h.same_label_share);
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const sampler::BatchSourceStats stats = source->stats();
  out.text_attrs = {{"sampler", o.kind}, {"epoch_mode", o.epoch_mode}, {"source", o.embeddings + " /" + o.dataset}};
  out.int_attrs = {{"num_instances", n}, {"batch_size", o.batch_size}, {"epochs", o.epochs}, {"seed", static_cast<int64_t>(o.seed)},
                   {"candidates", o.candidates}, {"neighbours", o.neighbours}};
  out.real_attrs = {{"restart", o.restart}, {"build_seconds", stats.rebuild_seconds}, {"sample_seconds", seconds - stats.rebuild_seconds}};
  if (o.write_graph) {
    const std::map<std::string, std::vector<double>> state = source->save();
    if (const auto it = state.find("table"); it != state.end() && !it->second.empty()) {
      out.neighbours.assign(it->second.begin(), it->second.end());
      out.neighbour_columns = static_cast<int64_t>(it->second.size()) / n;
    }
  }
  write_batches_file(o.out, comm, out);
  if (comm.is_root()) {
    std::printf("relfm sample: %lld batches of about %lld over %lld instances (%lld epoch(s), sampler %s) -> %s (graph %.3f s, sampling %.3f s)\n",
                static_cast<long long>(out.epoch.size()), static_cast<long long>(o.batch_size), static_cast<long long>(n),
                static_cast<long long>(o.epochs), o.kind.c_str(), o.out.c_str(), stats.rebuild_seconds, seconds - stats.rebuild_seconds);
    std::fflush(stdout);
  }
  return dist::kExitOk;
}

}  // namespace relfm::jobs
