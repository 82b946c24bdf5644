#include "jobs/molecule_groups.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>

namespace relfm::jobs {

LabelScale LabelScale::of(const MatF& labels, const std::vector<int64_t>& pool) {
  LabelScale s{Eigen::RowVectorXf::Zero(labels.cols()), Eigen::RowVectorXf::Ones(labels.cols())};
  for (int64_t t = 0; t < labels.cols(); ++t) {
    double n = 0, sum = 0;
    for (const int64_t r : pool)
      if (const double v = labels(r, t); !std::isnan(v)) n += 1, sum += v;
    if (n < 2) continue;
    const double mean = sum / n;
    double squares = 0;  // two passes: no cancellation for labels far from zero
    for (const int64_t r : pool)
      if (const double v = labels(r, t); !std::isnan(v)) squares += (v - mean) * (v - mean);
    s.mean(t) = static_cast<float>(mean);
    const double var = squares / n;
    if (var > 1e-12 * (1.0 + mean * mean)) s.inverse_std(t) = static_cast<float>(1.0 / std::sqrt(var));
  }
  return s;
}

std::shared_ptr<const MatF> LabelScale::apply(const MatF& labels) const {
  auto out = std::make_shared<MatF>(labels);
  for (int64_t r = 0; r < out->rows(); ++r) out->row(r) = (out->row(r) - mean).cwiseProduct(inverse_std);
  return out;
}

std::string joined(const std::vector<std::string>& parts, const char* separator) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : separator) + p;
  return out;
}

std::vector<KeySpec> dataset_group_keys(int64_t default_batch) {
  return {
      {"data.shard_dir", ValueKind::kString, "\"runs/shards\"",
       "Directory of the molecule shards: data set NAME is read from <shard_dir>/NAME.h5 (`relfm shard --dataset NAME`).",
       {}, {}, {}, Resume::kBlocks},
      {"data.datasets", ValueKind::kStringList, "", "The target data set first, then the auxiliary data sets.", {}, {}, {},
       Resume::kBlocks},
      {"data.target_shard", ValueKind::kString, "\"\"",
       "The target's shard file instead of <shard_dir>/TARGET.h5 (empty: that one). `relfm eval --shard F` sets it to score a "
       "trained model on another shard of the target's tasks.",
       {}, {}, {}, Resume::kBlocks},
      {"train.batch_size", ValueKind::kInt, std::to_string(default_batch),
       "Balanced slots per step (all data sets together; each data set's share is one sub-batch).", {}, 1, {}, Resume::kBlocks},
      {"train.auxiliary_regression", ValueKind::kString, "\"raw\"",
       "Labels of the auxiliary regression data sets in the loss: `raw` (the official code: an MSE in the data set's "
       "units, which can outweigh the others, e.g. FreeSolv's kcal/mol) or `standardized` (each task shifted and "
       "scaled by the mean and standard deviation of its labelled training molecules, so that its MSE starts near 1). "
       "The target is never rescaled: its metric stays in its units.",
       {"raw", "standardized"}, {}, {}, Resume::kBlocks},
      {"eval.batch_size", ValueKind::kInt, "1024", "Molecules per forward pass when evaluating.", {}, 1},
  };
}

void DatasetGroup::load(const dist::Comm& comm, const JobConfig& config, const FeatureLayout& features, bool with_smiles,
                        size_t min_members) {
  comm_ = &comm;
  features_ = features;
  const auto& names = config.get_string_list("data.datasets");
  const std::filesystem::path dir = config.get_string("data.shard_dir");
  const std::string target_shard = config.get_string("data.target_shard");
  const auto shard_path = [&](size_t member) {
    return member == 0 && !target_shard.empty() ? target_shard : (dir / (names[member] + ".h5")).string();
  };
  comm.collective([&] {
    if (names.size() < min_members)
      fail_input("{}: data.datasets needs {}, got {} data set{}", config.source(),
                 min_members > 1 ? "the target and at least one auxiliary data set" : "the target", names.size(),
                 names.size() == 1 ? "" : "s");
    for (size_t i = 0; i < names.size(); ++i)
      for (size_t j = 0; j < i; ++j)
        if (names[i] == names[j]) fail_input("{}: data.datasets names '{}' twice", config.source(), names[i]);
    if (!target_shard.empty() && !std::filesystem::exists(target_shard))
      fail_input("data.target_shard: no shard at '{}' (the target '{}' is read from it)", target_shard, names.front());
    for (size_t i = 0; i < names.size(); ++i) {
      const std::string path = shard_path(i);
      if (!std::filesystem::exists(path))
        fail_input("data.datasets: data set '{}' has no shard at '{}' (make it with `relfm shard --dataset {} --out {}`, or set "
                   "data.shard_dir)",
                   names[i], path, names[i], path);
    }
  });
  for (size_t i = 0; i < names.size(); ++i) {
    GroupMember m;
    m.name = names[i];
    m.path = shard_path(i);
    m.shard = read_molecule_shard(m.path, comm, with_smiles);
    members_.push_back(std::move(m));
  }
  comm.collective([&] {
    for (GroupMember& m : members_) {
      check_shard_features(m.path, m.shard, features_);
      m.regression = m.shard.info.task_type == "regression";
      const MatF& labels = m.shard.molecules.labels;
      for (int64_t row : m.shard.split.train) {
        bool labelled = false;
        for (int64_t t = 0; t < labels.cols() && !labelled; ++t) labelled = !std::isnan(labels(row, t));
        if (labelled) m.pool.push_back(row);
      }
      if (m.pool.empty())
        fail_input("data set '{}' ('{}'): none of its {} training molecules has a label", m.name, m.path, m.shard.split.train.size());
      double atoms = 0;
      for (int64_t row : m.pool) atoms += static_cast<double>(m.shard.molecules.atoms_of(row));
      m.mean_atoms = atoms / static_cast<double>(m.pool.size());
    }
    if (config.get_string("train.auxiliary_regression") == "standardized")
      for (size_t m = 1; m < members_.size(); ++m)
        if (members_[m].regression) members_[m].scale = LabelScale::of(members_[m].shard.molecules.labels, members_[m].pool);
    const GroupMember& t = members_.front();
    if (t.shard.split.valid.empty())
      fail_input("data.datasets: the target '{}' has no validation split in '{}' (the best validation epoch picks the reported "
                 "test score)",
                 t.name, t.path);
    if (t.shard.split.test.empty()) fail_input("data.datasets: the target '{}' has no test split in '{}'", t.name, t.path);
    metric_ = parse_metric(t.shard.info.metric);
  });
  metric_label_ = std::string(metric_name(metric_));
}

namespace {

// This rank's share of `rows` for evaluation in batches of `eval_batch`: whole global chunks of eval_batch
// rows, contiguous ranges of chunks per rank. Every molecule then meets the same batch companions at any
// rank count, so the predictions (whose GEMM rounding depends on the batch's shape) are bit-identical.
std::vector<int64_t> chunk_aligned_share(const std::vector<int64_t>& rows, int64_t eval_batch, int rank, int ranks) {
  const auto n = static_cast<int64_t>(rows.size());
  const int64_t chunks = (n + eval_batch - 1) / eval_batch;
  const int64_t begin = std::min(n, chunks * rank / ranks * eval_batch);
  const int64_t end = std::min(n, chunks * (rank + 1) / ranks * eval_batch);
  return {rows.begin() + begin, rows.begin() + end};
}

}  // namespace

MoleculeSet DatasetGroup::evaluation_share(const std::vector<int64_t>& rows, int64_t eval_batch) const {
  const std::vector<int64_t> mine = chunk_aligned_share(rows, eval_batch, comm_->rank(), comm_->size());
  return target().shard.molecules.subset(std::span<const int64_t>(mine.data(), mine.size()));
}

std::vector<std::string> DatasetGroup::names(const std::vector<int64_t>& members, bool skip_target) const {
  std::vector<std::string> out;
  for (int64_t m : members)
    if (!(skip_target && m == 0)) out.push_back(members_[static_cast<size_t>(m)].name);
  return out;
}

JobDescription DatasetGroup::describe(const std::vector<int64_t>& active, const std::string& headline) const {
  JobDescription d;
  d.item_unit = "molecules";
  d.items_per_epoch = static_cast<int64_t>(target().pool.size() * active.size());
  d.headline = headline;
  d.rule = {"valid_" + metric_label_, "test_" + metric_label_, higher_is_better(metric_)};
  d.summary_scale = metric_ == Metric::kRocAuc || metric_ == Metric::kAveragePrecision ? 100.0 : 1.0;
  d.attrs = {{"target", target().name}, {"metric", metric_label_}, {"dataset", target().name}};
  return d;
}

int64_t DatasetGroup::plan_epoch(const std::vector<int64_t>& active, uint64_t seed, int64_t epoch, int64_t batch_size) {
  std::vector<int64_t> sizes;
  for (int64_t m : active) sizes.push_back(static_cast<int64_t>(members_[static_cast<size_t>(m)].pool.size()));
  active_ = active;
  slots_ = balanced_epoch(sizes, seed, epoch);
  batch_size_ = batch_size;
  return (static_cast<int64_t>(slots_.size()) + batch_size - 1) / batch_size;
}

std::vector<std::vector<int64_t>> DatasetGroup::step_rows(int64_t step) {
  const size_t begin = static_cast<size_t>(step * batch_size_);
  const size_t end = std::min(slots_.size(), begin + static_cast<size_t>(batch_size_));
  std::vector<std::vector<int64_t>> rows(active_.size());
  for (size_t i = begin; i < end; ++i) {
    const BalancedSlot& s = slots_[i];
    const GroupMember& m = members_[static_cast<size_t>(active_[static_cast<size_t>(s.dataset)])];
    rows[static_cast<size_t>(s.dataset)].push_back(m.pool[static_cast<size_t>(s.molecule)]);
  }
  if (rows[0].empty()) rows[0] = previous_target_;
  previous_target_ = rows[0];
  return rows;
}

GraphBatch DatasetGroup::collate_rows(size_t member, const std::vector<int64_t>& rows) const {
  const GroupMember& m = members_[member];
  GraphBatch batch = collate(m.shard.molecules, rows, features_.atom_columns, features_.bond_columns);
  if (m.scale) batch.labels = m.scale->apply(*batch.labels);
  return batch;
}

std::vector<double> DatasetGroup::costs(const std::vector<int64_t>& active, double target_passes, double aux_passes) const {
  std::vector<double> cost;
  for (size_t a = 0; a < active.size(); ++a)
    cost.push_back(members_[static_cast<size_t>(active[a])].mean_atoms * (a == 0 ? target_passes : aux_passes));
  return cost;
}

std::vector<int> DatasetGroup::place(const std::vector<int64_t>& active, double target_passes, double aux_passes, int ranks) const {
  return place_datasets(costs(active, target_passes, aux_passes), ranks);
}

std::map<std::string, double> DatasetGroup::evaluate_target(const Gin<float>& model, int64_t eval_batch) const {
  return {{"valid_" + metric_label_, score_target(model, "valid", eval_batch).value},
          {"test_" + metric_label_, score_target(model, "test", eval_batch).value}};
}

Predictions DatasetGroup::score_target(const Gin<float>& model, const std::string& split, int64_t eval_batch) const {
  if (eval_batch < 1) fail_input("eval.batch_size must be at least 1, not {}", eval_batch);
  const MoleculeShard& shard = target().shard;
  const std::vector<int64_t>& rows = split == "train" ? shard.split.train : split == "valid" ? shard.split.valid : shard.split.test;
  const MoleculeSet share = evaluation_share(rows, eval_batch);
  const MatF local = predict(model, share, features_, eval_batch);
  const MatF& labels = shard.molecules.labels;
  Predictions p{.dataset = target().name, .split = split, .metric = metric_label_,
                .value = gathered_metric(*comm_, metric_, local, share.ids, labels)};
  p.ids = share.ids;
  p.predictions.assign(local.data(), local.data() + local.size());
  p.prediction_columns = local.cols();
  p.label_columns = labels.cols();
  for (int64_t id : share.ids) p.labels.insert(p.labels.end(), labels.row(id).data(), labels.row(id).data() + labels.cols());
  return p;
}

void DatasetGroup::save_state(StateSection& state) const {
  state.arrays["previous_target"] = std::vector<double>(previous_target_.begin(), previous_target_.end());
}

void DatasetGroup::load_state(const StateSection& state) {
  previous_target_.clear();
  for (double r : state.get_array("previous_target")) previous_target_.push_back(static_cast<int64_t>(r));
}

}  // namespace relfm::jobs
