#include "src/models/sequence_parallel.hpp"

#include "src/tensor/dual.hpp"

namespace relfm {

std::shared_ptr<const SequenceShare> share_sequence(const AttentionGraph& graph, const SequenceSplit& split,
                                                    const Communicator& comm) {
  if (split.parts != comm.size())
    fail_input("a sequence split into {} parts over a sequence-parallel group of {} ranks", split.parts, comm.size());
  auto share = std::make_shared<SequenceShare>();
  share->comm = &comm;
  share->graph = localize_attention_graph(graph, split, comm.rank());
  const LocalAttentionGraph& g = share->graph;

  auto layout = std::make_shared<SplitLayout>();
  layout->comm = &comm;
  layout->owned = static_cast<int64_t>(g.owned.size());
  layout->columns = static_cast<int64_t>(g.columns.size());
  layout->owned_column = g.owned_column;
  layout->shared_column = g.global_column;
  std::vector<int64_t> owned_index(static_cast<size_t>(graph.length), -1);
  for (size_t i = 0; i < g.owned.size(); ++i) owned_index[static_cast<size_t>(g.owned[i])] = static_cast<int64_t>(i);
  for (VertexId t : graph.global_tokens) layout->shared_owned.push_back(owned_index[static_cast<size_t>(t)]);
  for (int64_t r = 0; r < g.full_rows; ++r) layout->full_row_owned.push_back(owned_index[static_cast<size_t>(g.rows[static_cast<size_t>(r)])]);
  std::vector<int> sources, destinations;
  for (int s = 0; s < comm.size(); ++s) {
    if (!g.recv_from[static_cast<size_t>(s)].empty()) {
      sources.push_back(s);
      layout->recv_columns.push_back(g.recv_from[static_cast<size_t>(s)]);
    }
    if (!g.send_to[static_cast<size_t>(s)].empty()) {
      destinations.push_back(s);
      layout->send_owned.push_back(g.send_to[static_cast<size_t>(s)]);
    }
  }
  layout->halo = comm.neighbourhood(sources, destinations);
  layout->halo_back = comm.neighbourhood(destinations, sources);
  share->layout = std::move(layout);

  share->pattern.by_query = g.by_query;
  share->pattern.by_key = g.by_key;
  share->pattern.tiles = g.tiles;
  std::vector<int64_t> column_of(static_cast<size_t>(graph.length), -1);
  for (size_t c = 0; c < g.columns.size(); ++c) column_of[static_cast<size_t>(g.columns[c])] = static_cast<int64_t>(c);
  auto rows = std::make_shared<std::vector<int32_t>>();
  for (int64_t t : g.rows) rows->push_back(static_cast<int32_t>(column_of[static_cast<size_t>(t)]));
  share->row_columns = std::move(rows);
  share->owned_tokens = std::make_shared<const std::vector<int64_t>>(g.owned);
  share->local_edges = std::make_shared<const std::vector<int64_t>>(g.edge);
  return share;
}

template <typename T>
Var<T> split_diffuser_attention(const SequenceShare& share, Var<T> q, Var<T> k, Var<T> v, int64_t heads,
                                const DiffusionConfig& config, const CounterRng& dropout_rng, bool training, Mat<T>* weights) {
  validate_diffusion_config(config);
  const AttentionPattern& p = share.pattern;
  const SplitLayoutPtr& layout = share.layout;
  Var<T> queries = gather_rows(split_to_columns(q, layout), share.row_columns);
  Var<T> a = split_edge_softmax(p.by_query, sddmm(p.by_query, queries, split_to_columns(k, layout), heads, p.by_key, p.tiles), layout);
  if (weights) *weights = a.value();
  if (config.attention_dropout > 0.0) a = dropout(a, config.attention_dropout, dropout_rng.derive(0), training, share.local_edges);
  return split_ppr_diffusion(p.by_query, a, v, DiffusionHops{config.hops, config.alpha, config.hop_dropout}, dropout_rng, training,
                             layout, share.owned_tokens, p.by_key, p.tiles);
}

template Var<float> split_diffuser_attention<float>(const SequenceShare&, Var<float>, Var<float>, Var<float>, int64_t,
                                                    const DiffusionConfig&, const CounterRng&, bool, Mat<float>*);
template Var<double> split_diffuser_attention<double>(const SequenceShare&, Var<double>, Var<double>, Var<double>, int64_t,
                                                      const DiffusionConfig&, const CounterRng&, bool, Mat<double>*);
template Var<Dual<double>> split_diffuser_attention<Dual<double>>(const SequenceShare&, Var<Dual<double>>, Var<Dual<double>>,
                                                                  Var<Dual<double>>, int64_t, const DiffusionConfig&,
                                                                  const CounterRng&, bool, Mat<Dual<double>>*);

}  // namespace relfm
