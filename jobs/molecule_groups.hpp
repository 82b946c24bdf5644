// A group of molecule data sets trained together (MolGroup's grouping job `molgroup` and the group
// training job `gin_group`): the target and its auxiliary data sets read from shards, MolGroup's balanced
// plan (research/molgroup.md §1.6: a data set drawn uniformly per slot, then one of its labelled training
// molecules), each step's slots split into one sub-batch per data set, the sub-batches placed on ranks
// by cost (the target's on rank 0), and the target's validation and test scores.
#pragma once

#include "io/predictions.hpp"

#include "dist/comm.hpp"
#include "io/checkpoint.hpp"
#include "jobs/molecule_common.hpp"
#include "jobs/trainer.hpp"
#include "src/models/molgroup_plan.hpp"

#include <map>
#include <optional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace relfm::jobs {

// data.shard_dir, data.datasets, train.batch_size (default `default_batch`), train.auxiliary_regression,
// eval.batch_size.
std::vector<KeySpec> dataset_group_keys(int64_t default_batch);

// A regression data set's labels per task as (y - mean) / std, the mean and standard deviation taken over
// the labelled entries of the rows `pool` (its training molecules). A task with fewer than two labels, or a
// constant one, keeps its scale (and a task with none its values); unlabelled entries (NaN) stay NaN.
struct LabelScale {
  Eigen::RowVectorXf mean, inverse_std;
  static LabelScale of(const MatF& labels, const std::vector<int64_t>& pool);
  std::shared_ptr<const MatF> apply(const MatF& labels) const;
};

struct GroupMember {
  std::string name, path;
  MoleculeShard shard;
  bool regression = false;
  std::vector<int64_t> pool;  // labelled training molecules (shard rows): what balanced sampling draws
  double mean_atoms = 0;
  std::optional<LabelScale> scale;  // train.auxiliary_regression = standardized, an auxiliary regression set
};

class DatasetGroup {
 public:
  // Collective. InputErrors name data.datasets and the data set: fewer than `min_members` data sets, a
  // missing shard, a data set named twice, one without any labelled training molecule, a target without
  // a validation or test split.
  void load(const dist::Comm& comm, const JobConfig& config, const FeatureLayout& features, bool with_smiles,
            size_t min_members);

  size_t size() const { return members_.size(); }
  const GroupMember& operator[](size_t m) const { return members_[m]; }
  const GroupMember& target() const { return members_.front(); }
  std::vector<std::string> names(const std::vector<int64_t>& members, bool skip_target = false) const;
  Metric metric() const { return metric_; }
  const std::string& metric_label() const { return metric_label_; }

  // The trainer's description: items per epoch over `active` (indices, active[0] = 0 the target), the
  // target's metric as the select/report rule.
  JobDescription describe(const std::vector<int64_t>& active, const std::string& headline) const;

  // The balanced slots of an epoch over the data sets `active`; returns the number of steps.
  int64_t plan_epoch(const std::vector<int64_t>& active, uint64_t seed, int64_t epoch, int64_t batch_size);
  // Shard rows of step `step` per position in `active`. A step without target molecules reuses the
  // previous step's (the official rule; none yet: the target's list stays empty and the step is skipped).
  std::vector<std::vector<int64_t>> step_rows(int64_t step);
  // The sub-batch of `rows` of a member, its labels standardised when the member has a scale.
  GraphBatch collate_rows(size_t member, const std::vector<int64_t>& rows) const;

  // Expected atoms per step times passes, per active data set: the placement's costs.
  std::vector<double> costs(const std::vector<int64_t>& active, double target_passes, double aux_passes) const;
  // Which rank holds each active data set's sub-batches (place_datasets of those costs).
  std::vector<int> place(const std::vector<int64_t>& active, double target_passes, double aux_passes, int ranks) const;

  // valid_<metric> and test_<metric> of `model` (the target's), the same on every rank (collective).
  // Each rank predicts whole global chunks of eval_batch molecules, so the numbers do not depend on the
  // rank count.
  std::map<std::string, double> evaluate_target(const Gin<float>& model, int64_t eval_batch) const;
  // One split ("train", "valid", "test") of the target scored by `model` (collective; the value on every
  // rank), with this rank's rows (shard ids, predictions, labels) for a predictions file.
  Predictions score_target(const Gin<float>& model, const std::string& split, int64_t eval_batch) const;

  // The step-to-step state (the previous target rows), for checkpoints in the middle of an epoch.
  void save_state(StateSection& state) const;
  void load_state(const StateSection& state);
  void reset_state() { previous_target_.clear(); }

 private:
  MoleculeSet evaluation_share(const std::vector<int64_t>& rows, int64_t eval_batch) const;

  const dist::Comm* comm_ = nullptr;
  FeatureLayout features_;
  std::vector<GroupMember> members_;
  Metric metric_ = Metric::kRocAuc;
  std::string metric_label_;
  std::vector<int64_t> active_;
  std::vector<BalancedSlot> slots_;
  int64_t batch_size_ = 0;
  std::vector<int64_t> previous_target_;
};

std::string joined(const std::vector<std::string>& parts, const char* separator = ", ");

}  // namespace relfm::jobs
