#include "src/models/metagin.hpp"

#include "src/tensor/dual.hpp"

namespace relfm {
template <typename T>
std::string MetaGin<T>::prefix(int64_t m) {
  return fmt::format("datasets.{}", m);
}

template <typename T>
MetaGin<T>::MetaGin(ParamStore<T>& store, const GinConfig& base, const std::vector<int64_t>& num_tasks, uint64_t seed) {
  if (num_tasks.empty()) fail_input("molgroup: MetaGIN needs at least the target data set");
  branches_.reserve(num_tasks.size());
  for (size_t m = 0; m < num_tasks.size(); ++m) {
    GinConfig c = base;
    c.num_tasks = num_tasks[m];
    branches_.emplace_back(store, c, seed, prefix(static_cast<int64_t>(m)));
  }
}

template <typename T>
Var<T> MetaGin<T>::forward(Tape<T>& tape, int64_t dataset, const GraphBatch& batch, Var<T> gate,
                           const ForwardOptions& options) const {
  RELFM_CHECK(dataset >= 0 && dataset < num_datasets(), "metagin: data set {} of {}", dataset, num_datasets());
  const Gin<T>& own = branch(dataset);
  if (dataset == 0 || !gate) {
    RELFM_CHECK(dataset != 0 || !gate, "metagin: the target data set takes no gate");
    return own.forward(tape, batch, options);
  }
  RELFM_CHECK(gate.rows() == 1 && gate.cols() == 1, "metagin: the gate is {}x{}, not 1x1", gate.rows(), gate.cols());
  const Gin<T>& target = branch(0);
  const GinConfig& config = own.config();
  const IndexMatPtr bond_rows = own.bond_rows(batch);  // the same layout in every branch
  Var<T> h = gate_mix(gate, own.encode_atoms(tape, batch), target.encode_atoms(tape, batch));
  for (size_t l = 0; l < static_cast<size_t>(config.num_layers); ++l) {
    Var<T> mine = own.layer_before_activation(tape, l, h, batch, bond_rows, options.training, options.update_running_stats);
    Var<T> theirs = target.layer_before_activation(tape, l, h, batch, bond_rows, options.training, /*update=*/false);
    h = gate_mix(gate, mine, theirs);
    if (l + 1 < static_cast<size_t>(config.num_layers)) h = relu(h);
    h = dropout(h, config.dropout, options.dropout_rng.derive(l), options.training);
  }
  return own.head(tape, own.pool(h, batch));
}

template class MetaGin<float>;
template class MetaGin<double>;
template class MetaGin<Dual<double>>;

}  // namespace relfm
