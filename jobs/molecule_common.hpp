// What the molecule jobs share (gin, molgroup): the GIN model keys, the feature layout a model's
// embedding tables expect, the checks of a shard against it, and prediction over a molecule set.
#pragma once

#include "dist/comm.hpp"
#include "io/shard.hpp"
#include "jobs/config.hpp"
#include "src/metrics/metrics.hpp"
#include "src/models/gin.hpp"

#include <vector>

namespace relfm::jobs {

// model.layers, model.hidden, model.dropout, model.pool, model.features.
std::vector<KeySpec> gin_model_keys();

struct FeatureLayout {
  std::vector<int> atom_columns, bond_columns;
  std::vector<int32_t> atom_sizes, bond_sizes;
};
FeatureLayout feature_layout(const std::string& features);

// The GIN of the model.* keys over `features` with `num_tasks` outputs.
GinConfig gin_config(const JobConfig& config, const FeatureLayout& features, int64_t num_tasks);

// InputError naming the shard when its task type is unknown or a feature value falls outside the
// model's embedding tables (say so once, at setup, rather than mid-training).
void check_shard_features(const std::string& path, const MoleculeShard& shard, const FeatureLayout& features);

// Logits (classification) or values (regression) of `model` for every molecule of `set`, in order.
MatF predict(const Gin<float>& model, const MoleculeSet& set, const FeatureLayout& features, int64_t eval_batch);

// The metric of predictions held in parts by the ranks (rows of `local` for the molecules `ids`, shard
// rows of `labels_of`); every rank gets the same value.
double gathered_metric(const dist::Comm& comm, Metric metric, const MatF& local, const std::vector<int64_t>& ids,
                       const MatF& labels_of);

}  // namespace relfm::jobs
