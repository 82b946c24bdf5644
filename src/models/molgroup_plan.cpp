#include "src/models/molgroup_plan.hpp"

#include "src/core/error.hpp"
#include "src/core/rng.hpp"

#include <algorithm>
#include <cmath>

namespace relfm {

std::vector<BalancedSlot> balanced_epoch(const std::vector<int64_t>& train_sizes, uint64_t seed, int64_t epoch) {
  if (train_sizes.empty()) fail("balanced_epoch: no data sets");
  for (size_t m = 0; m < train_sizes.size(); ++m)
    if (train_sizes[m] < 1) fail_input("molgroup: data set {} has no training molecule", m);
  const uint64_t n = static_cast<uint64_t>(train_sizes.size());
  const int64_t slots = train_sizes[0] * static_cast<int64_t>(n);
  const CounterRng rng = CounterRng(seed, RngPurpose::kSampler, 0x4d47u).derive(static_cast<uint64_t>(epoch));
  std::vector<BalancedSlot> out(static_cast<size_t>(slots));
  for (int64_t i = 0; i < slots; ++i) {
    const uint64_t at = 2 * static_cast<uint64_t>(i);
    BalancedSlot& s = out[static_cast<size_t>(i)];
    s.dataset = static_cast<int32_t>(rng.below(at, n));
    s.molecule = static_cast<int64_t>(rng.below(at + 1, static_cast<uint64_t>(train_sizes[static_cast<size_t>(s.dataset)])));
  }
  return out;
}

RoundDecision filter_round(const std::vector<int64_t>& datasets, const std::vector<double>& scores,
                           const std::vector<std::string>& names, double threshold,
                           bool forced_drop) {
  if (datasets.empty() || datasets.size() != scores.size() || names.size() != datasets.size())
    fail("filter_round: {} data sets, {} scores, {} names", datasets.size(), scores.size(), names.size());
  for (size_t k = 0; k < scores.size(); ++k)
    if (!std::isfinite(scores[k]))
      fail_input("molgroup: the gate score of data set '{}' is {} (the gate turned non-finite)", names[k], scores[k]);
  RoundDecision d;
  d.keep.push_back(datasets[0]);  // the target always stays
  for (size_t k = 1; k < datasets.size(); ++k) (scores[k] <= threshold ? d.keep : d.dropped).push_back(datasets[k]);
  if (forced_drop && d.dropped.empty() && datasets.size() > 1) {
    size_t worst = 1;
    for (size_t k = 2; k < datasets.size(); ++k)
      if (scores[k] > scores[worst]) worst = k;
    d.keep.erase(d.keep.begin() + static_cast<std::ptrdiff_t>(worst));  // keep mirrors datasets here
    d.dropped.push_back(datasets[worst]);
    d.forced_drop = true;
  }
  return d;
}

std::vector<int64_t> top_k_affinity(const std::vector<int64_t>& datasets, const std::vector<double>& scores,
                                    const std::vector<int64_t>& kept, int64_t k) {
  if (datasets.empty() || datasets.size() != scores.size())
    fail("top_k_affinity: {} data sets, {} scores", datasets.size(), scores.size());
  std::vector<size_t> candidates;  // positions in `datasets` of the kept auxiliaries
  for (size_t p = 1; p < datasets.size(); ++p)
    if (std::find(kept.begin(), kept.end(), datasets[p]) != kept.end()) candidates.push_back(p);
  if (k > 0 && static_cast<size_t>(k) < candidates.size()) {
    std::stable_sort(candidates.begin(), candidates.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
    candidates.resize(static_cast<size_t>(k));
    std::sort(candidates.begin(), candidates.end());
  }
  std::vector<int64_t> group{datasets[0]};
  for (size_t p : candidates) group.push_back(datasets[p]);
  return group;
}

std::vector<int> place_datasets(const std::vector<double>& cost, int ranks) {
  RELFM_CHECK(ranks >= 1 && !cost.empty(), "place_datasets: {} data sets on {} ranks", cost.size(), ranks);
  std::vector<int> owner(cost.size(), 0);
  std::vector<double> load(static_cast<size_t>(ranks), 0.0);
  load[0] = cost[0];
  std::vector<size_t> order;
  for (size_t k = 1; k < cost.size(); ++k) order.push_back(k);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return cost[a] > cost[b]; });
  for (size_t k : order) {
    const auto r = static_cast<size_t>(std::min_element(load.begin(), load.end()) - load.begin());
    owner[k] = static_cast<int>(r);
    load[r] += cost[k];
  }
  return owner;
}

int l0_rank(const std::vector<double>& cost, const std::vector<int>& owner, int ranks) {
  RELFM_CHECK(cost.size() == owner.size() && ranks >= 1, "l0_rank: {} costs, {} owners", cost.size(), owner.size());
  if (ranks == 1) return 0;
  std::vector<double> load(static_cast<size_t>(ranks), 0.0);
  for (size_t k = 0; k < cost.size(); ++k) load[static_cast<size_t>(owner[k])] += cost[k];
  if (load[0] + cost[0] <= *std::max_element(load.begin() + 1, load.end())) return 0;
  return static_cast<int>(std::min_element(load.begin() + 1, load.end()) - load.begin());
}

}  // namespace relfm
