// MolGroup's data plan and selection rule, as the official code runs them (research/molgroup.md §1.5–1.6).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace relfm {

// One sample slot of a balanced epoch: a data set drawn uniformly, then one of its training molecules
// drawn uniformly (with replacement across slots).
struct BalancedSlot {
  int32_t dataset = 0;
  int64_t molecule = 0;  // position in that data set's training list
};

// The slots of epoch `epoch`: train_sizes[0] x train_sizes.size() of them (the official epoch length,
// |target train| x #datasets). Counter-based: slot i depends only on (seed, epoch, i), so any rank can
// draw any slice of the epoch and the plan does not depend on the rank count.
std::vector<BalancedSlot> balanced_epoch(const std::vector<int64_t>& train_sizes, uint64_t seed, int64_t epoch);

// One round of the iterative filter: keep the data sets whose score (mean gate over the round's last
// epoch; the target's is 0) is at most `threshold`; if every auxiliary would be kept and `forced_drop`
// (the official rule), drop the one with the largest score (the first of equal ones) so that every round
// removes at least one. Without it a round that keeps everyone keeps them (the grouping has converged:
// the next round, re-initialised with the same seed on the same data sets, would repeat it).
struct RoundDecision {
  std::vector<int64_t> keep;     // data set ids, in the order given; keep[0] is the target
  std::vector<int64_t> dropped;  // in the order given
  bool forced_drop = false;      // the official rule removed a data set that passed the threshold
};
// names[k] labels datasets[k] in errors. InputError naming the data set whose score is not finite.
RoundDecision filter_round(const std::vector<int64_t>& datasets, const std::vector<double>& scores,
                           const std::vector<std::string>& names, double threshold = 0.4,
                           bool forced_drop = true);

// The project page's "Step 4: pick the auxiliary datasets with top-k affinity" (not in the official code,
// research/molgroup.md §1.5), applied to what the rounds kept: the target (datasets[0]) and, of the
// auxiliaries in `kept`, the k with the lowest score (the highest affinity; equal scores to the earlier in
// `datasets`), in the order of `datasets`. `scores` are those of the round that kept them, aligned with
// `datasets` (the round's data sets). k <= 0, or k at least the kept auxiliaries, keeps them all.
std::vector<int64_t> top_k_affinity(const std::vector<int64_t>& datasets, const std::vector<double>& scores,
                                    const std::vector<int64_t>& kept, int64_t k);

// Which rank holds each data set's sub-batches (research/molgroup.md §6): the target (cost[0], which
// includes its two extra passes) stays on rank 0; the auxiliary data sets go, largest cost first, to the
// least loaded rank (longest-processing-time first; ties to the lower data set and rank). Depends only
// on the costs and the rank count. A rank may hold none (then it only takes part in the collectives).
std::vector<int> place_datasets(const std::vector<double>& cost, int ranks);

// Where MolGroup's meta step computes L_0 (MetaStepInputs::loss_rank). The target rank (0) when its load
// under `owner` plus the target's cost stays within the most loaded rank's: it then computes L_0 beside
// the others' auxiliary passes, and they fill the virtual pass's time with their deferred products.
// Otherwise the least loaded other rank (ties to the lower), beside the virtual pass. 0 on one rank.
int l0_rank(const std::vector<double>& cost, const std::vector<int>& owner, int ranks);

}  // namespace relfm
