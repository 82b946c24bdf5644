#include "io/pairwise.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>

namespace relfm {

void inspect_pairwise(const h5::File& f) {
  const std::vector<std::string> names = f.read_strings("/datasets"), metric = f.read_strings("/metric");
  const auto d = static_cast<int64_t>(names.size());
  const std::vector<double> gain = f.read_rows<double>("/relative_gain"), score = f.read_rows<double>("/score");
  const std::vector<int64_t> seeds = f.read_rows<int64_t>("/seeds");
  std::printf("pairwise study (target + one auxiliary vs the target alone), %lld data sets, from %s\n",
              static_cast<long long>(d), f.has_attr("/", "source") ? f.attr_string("/", "source").c_str() : "?");
  auto at = [&](const std::vector<double>& m, int64_t i, int64_t j) { return m[static_cast<size_t>(i * d + j)]; };
  // A study gathered row by row (tests/bench/molgroup_pairs.sh --targets) leaves the other targets' rows NaN:
  // report the targets that were run and name the others once, instead of a screen of nan and n/a.
  std::vector<int64_t> run;
  std::string not_run;
  for (int64_t i = 0; i < d; ++i) {
    bool any = seeds[static_cast<size_t>(i * d + i)] > 0;
    for (int64_t j = 0; j < d && !any; ++j) any = j != i && std::isfinite(at(score, i, j));
    if (any) run.push_back(i);
    else not_run += (not_run.empty() ? "" : ", ") + names[static_cast<size_t>(i)];
  }
  if (!not_run.empty()) std::printf("  targets not run (their rows are empty): %s\n", not_run.c_str());
  for (const int64_t i : run) {
    std::vector<int64_t> order;
    for (int64_t j = 0; j < d; ++j)
      if (j != i && std::isfinite(at(gain, i, j))) order.push_back(j);
    std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return at(gain, i, a) > at(gain, i, b); });
    std::printf("  %-10s alone %s %.4f (%lld seeds)", names[static_cast<size_t>(i)].c_str(), metric[static_cast<size_t>(i)].c_str(),
                at(score, i, i), static_cast<long long>(seeds[static_cast<size_t>(i * d + i)]));
    if (!order.empty())
      std::printf("; best with %s (%+.1f%%), worst with %s (%+.1f%%)", names[static_cast<size_t>(order.front())].c_str(),
                  100 * at(gain, i, order.front()), names[static_cast<size_t>(order.back())].c_str(), 100 * at(gain, i, order.back()));
    std::printf("\n");
  }
  std::printf("  relative gain (%%), row = target, column = auxiliary:\n  %10s", "");
  for (const std::string& n : names) std::printf(" %8.8s", n.c_str());
  std::printf("\n");
  for (const int64_t i : run) {
    std::printf("  %10.10s", names[static_cast<size_t>(i)].c_str());
    for (int64_t j = 0; j < d; ++j) {
      const double g = at(gain, i, j);
      if (i == j) std::printf(" %8s", "-");
      else if (std::isfinite(g)) std::printf(" %+8.1f", 100 * g);
      else std::printf(" %8s", "n/a");
    }
    std::printf("\n");
  }
}

}  // namespace relfm
