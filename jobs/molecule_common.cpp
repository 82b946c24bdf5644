#include "jobs/molecule_common.hpp"

#include "src/mol/featurize.hpp"

#include <algorithm>
#include <numeric>

namespace relfm::jobs {

std::vector<KeySpec> gin_model_keys() {
  return {
      {"model.layers", ValueKind::kInt, "5", "Number of GIN layers.", {}, 1, {}, Resume::kBlocks},
      {"model.hidden", ValueKind::kInt, "300", "Hidden width (the GIN MLP is hidden -> 2*hidden -> hidden).", {}, 1, {}, Resume::kBlocks},
      {"model.dropout", ValueKind::kReal, "0.5", "Dropout after every layer.", {}, 0.0, 1.0, Resume::kBlocks},
      {"model.pool", ValueKind::kString, "\"mean\"", "Graph readout.", {"mean", "sum"}, {}, {}, Resume::kBlocks},
      {"model.features", ValueKind::kString, "\"simple\"",
       "Atom/bond features: `simple` = atomic number + chirality, bond type + stereo (MolGroup's default); `full` = all 9 + 3 OGB features.",
       {"simple", "full"}, {}, {}, Resume::kBlocks},
  };
}

FeatureLayout feature_layout(const std::string& features) {
  const FeatureSet set = parse_feature_set(features);
  FeatureLayout f;
  for (int c : atom_feature_columns(set)) f.atom_columns.push_back(c);
  for (int c : bond_feature_columns(set)) f.bond_columns.push_back(c);
  for (int32_t s : atom_feature_dims(set)) f.atom_sizes.push_back(s);
  for (int32_t s : bond_feature_dims(set)) f.bond_sizes.push_back(s);
  return f;
}

GinConfig gin_config(const JobConfig& config, const FeatureLayout& features, int64_t num_tasks) {
  GinConfig gc;
  gc.num_layers = config.get_int("model.layers");
  gc.hidden = config.get_int("model.hidden");
  gc.dropout = config.get_real("model.dropout");
  gc.pool = config.get_string("model.pool");
  gc.atom_table_sizes = features.atom_sizes;
  gc.bond_table_sizes = features.bond_sizes;
  gc.num_tasks = num_tasks;
  return gc;
}

void check_shard_features(const std::string& path, const MoleculeShard& shard, const FeatureLayout& features) {
  const ShardInfo& info = shard.info;
  if (info.task_type != "classification" && info.task_type != "regression")
    fail_input("'{}': unknown task_type '{}'", path, info.task_type);
  parse_metric(info.metric);
  const MoleculeSet& set = shard.molecules;
  auto check = [&](const FeatureMat& m, const std::vector<int>& cols, const std::vector<int32_t>& sizes, const char* what) {
    for (size_t c = 0; c < cols.size(); ++c) {
      if (cols[c] >= m.cols()) fail_input("'{}': {} features have {} columns, model needs column {}", path, what, m.cols(), cols[c]);
      for (int64_t i = 0; i < m.rows(); ++i)
        if (m(i, cols[c]) >= sizes[c])
          fail_input("'{}': {} {} has feature {} = {}, outside the model's table of {}", path, what, i, cols[c],
                     static_cast<int>(m(i, cols[c])), sizes[c]);
    }
  };
  check(set.atom_features, features.atom_columns, features.atom_sizes, "atom");
  check(set.edge_features, features.bond_columns, features.bond_sizes, "edge");
}

MatF predict(const Gin<float>& model, const MoleculeSet& set, const FeatureLayout& features, int64_t eval_batch) {
  MatF out(set.size(), model.config().num_tasks);
  for (int64_t begin = 0; begin < set.size(); begin += eval_batch) {
    const int64_t end = std::min(set.size(), begin + eval_batch);
    std::vector<int64_t> positions(static_cast<size_t>(end - begin));
    std::iota(positions.begin(), positions.end(), begin);
    GraphBatch batch = collate(set, positions, features.atom_columns, features.bond_columns);
    Tape<float> tape;
    tape.set_grad_enabled(false);
    ForwardOptions options;
    options.training = false;
    out.middleRows(begin, end - begin) = model.forward(tape, batch, options).value();
  }
  return out;
}

double gathered_metric(const dist::Comm& comm, Metric metric, const MatF& local, const std::vector<int64_t>& local_ids,
                       const MatF& labels_of) {
  const std::vector<int64_t> ids = comm.allgatherv(local_ids);
  const std::vector<float> values = comm.allgatherv(std::vector<float>(local.data(), local.data() + local.size()));
  const int64_t t = local.cols();
  std::vector<size_t> order(ids.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ids[a] < ids[b]; });
  MatF pred(static_cast<int64_t>(ids.size()), t), labels(static_cast<int64_t>(ids.size()), t);
  for (size_t r = 0; r < order.size(); ++r) {
    const size_t k = order[r];
    for (int64_t j = 0; j < t; ++j) pred(static_cast<int64_t>(r), j) = values[k * static_cast<size_t>(t) + static_cast<size_t>(j)];
    labels.row(static_cast<int64_t>(r)) = labels_of.row(ids[k]);
  }
  return evaluate_metric(metric, pred, labels).value;
}

}  // namespace relfm::jobs
