#include "src/models/shared_gin.hpp"

#include <string>

namespace relfm {
namespace {

GinConfig with_target_tasks(GinConfig base, const std::vector<int64_t>& num_tasks) {
  RELFM_CHECK(!num_tasks.empty(), "SharedGin needs at least the target");
  base.num_tasks = num_tasks[0];
  return base;
}

}  // namespace

template <typename T>
SharedGin<T>::SharedGin(ParamStore<T>& store, GinConfig base, const std::vector<int64_t>& num_tasks, uint64_t seed)
    : encoder_(store, with_target_tasks(base, num_tasks), seed) {
  for (size_t m = 1; m < num_tasks.size(); ++m)
    heads_.emplace_back(store, "heads." + std::to_string(m), base.hidden, num_tasks[m], seed);
}

template <typename T>
Var<T> SharedGin<T>::forward(Tape<T>& tape, int64_t dataset, const GraphBatch& batch, const ForwardOptions& options) const {
  RELFM_CHECK(dataset >= 0 && dataset < num_datasets(), "SharedGin: data set {} of {}", dataset, num_datasets());
  ForwardOptions o = options;
  o.update_running_stats = options.update_running_stats && dataset == 0;
  if (dataset == 0) return encoder_.forward(tape, batch, o);
  return heads_[static_cast<size_t>(dataset - 1)](tape, encoder_.graph_embeddings(tape, batch, o));
}

template class SharedGin<float>;
template class SharedGin<double>;

}  // namespace relfm
