// The random-walk engine: step statistics against exact transition probabilities (chi-square), the
// alias tables, determinism whatever the interleaving, and walks split over two graph slices (what
// ranks do) equal to walks on the whole graph.
#include "src/sampler/first_visits.hpp"
#include "src/sampler/walk_engine.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

namespace relfm::sampler {
namespace {

// Directed test graph with a dead end (vertex 5), a self loop (3 -> 3) and a repeated edge (0 -> 1 twice).
Csr test_graph() {
  const std::vector<VertexId> src = {0, 0, 0, 1, 1, 2, 2, 2, 2, 3, 3, 4, 4};
  const std::vector<VertexId> dst = {1, 1, 2, 2, 3, 0, 3, 4, 5, 3, 4, 0, 2};
  return Csr::from_pairs(6, 6, src, dst);
}
const std::vector<float> kWeights = {1.0f, 2.0f, 0.5f, 3.0f, 1.0f, 1.0f, 1.0f, 1.0f, 4.0f, 0.25f, 1.0f, 2.0f, 1.0f};

// Upper 1e-6 quantile of chi-square with `df` degrees of freedom (Wilson-Hilferty): a correct sampler
// fails it once in a million seeds; a wrong probability of even 1% fails it at these sample sizes.
double chi_square_limit(int df) {
  const double z = 4.753, h = 2.0 / (9.0 * df);
  return df * std::pow(1.0 - h + z * std::sqrt(h), 3.0);
}

double chi_square(const std::vector<double>& expected_p, const std::vector<int64_t>& counts, int64_t total) {
  double x = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    const double e = expected_p[i] * static_cast<double>(total);
    if (e == 0) {
      EXPECT_EQ(counts[i], 0) << "outcome " << i << " has probability 0";
      continue;
    }
    x += (counts[i] - e) * (counts[i] - e) / e;
  }
  return x;
}

std::vector<Walker> walkers_from(VertexId v, int64_t count, uint64_t first_id = 0) {
  std::vector<Walker> w(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    w[i].id = first_id + static_cast<uint64_t>(i);
    w[i].start = w[i].cur = v;
  }
  return w;
}

TEST(WalkGraph, AliasTablesRealiseTheWeights) {
  const WalkGraph g = WalkGraph::whole(test_graph(), kWeights);
  const Csr rows = test_graph();
  for (VertexId v = 0; v < 6; ++v) {
    const std::vector<double> p = g.step_probabilities(v);
    double total = 0;
    for (int64_t e = rows.row_begin(v); e < rows.row_end(v); ++e) total += kWeights[e];
    for (int64_t e = rows.row_begin(v); e < rows.row_end(v); ++e)
      EXPECT_NEAR(p[e - rows.row_begin(v)], kWeights[e] / total, 1e-7) << "vertex " << v;
  }
  const WalkGraph uniform = WalkGraph::whole(test_graph());
  EXPECT_EQ(uniform.step_probabilities(2), std::vector<double>(4, 0.25));
}

TEST(WalkGraph, RejectsBadWeights) {
  std::vector<float> w = kWeights;
  w[3] = -1.0f;
  EXPECT_THROW(WalkGraph::whole(test_graph(), w), InputError);
  w[3] = std::nanf("");
  EXPECT_THROW(WalkGraph::whole(test_graph(), w), InputError);
  w = kWeights;
  w[9] = w[10] = 0.0f;  // both out-edges of vertex 3
  EXPECT_THROW(WalkGraph::whole(test_graph(), w), InputError);
}

// One step from every vertex, many walkers: destinations follow the exact step probabilities.
void check_one_step(bool weighted) {
  const WalkGraph g = weighted ? WalkGraph::whole(test_graph(), kWeights) : WalkGraph::whole(test_graph());
  WalkRule rule;
  rule.action = AlphaAction::kTerminate;
  rule.max_steps = 1;
  const WalkEngine engine(g, rule, CounterRng(11, RngPurpose::kTest));
  constexpr int64_t kWalkers = 200000;
  for (VertexId v = 0; v < 5; ++v) {
    std::vector<Walker> walkers = walkers_from(v, kWalkers, static_cast<uint64_t>(v) << 32);
    std::vector<Walker> departed;
    NoVisits none;
    engine.advance(walkers, departed, none);
    ASSERT_TRUE(departed.empty());
    // Expected law over destination vertices (a repeated edge adds its probabilities).
    std::vector<double> expected(6, 0.0);
    const std::vector<double> p = g.step_probabilities(v);
    for (int64_t e = g.row_begin(v); e < g.row_end(v); ++e) expected[g.neighbour(e)] += p[e - g.row_begin(v)];
    std::vector<int64_t> counts(6, 0);
    for (const Walker& w : walkers) {
      ASSERT_EQ(w.steps, 1u);
      ASSERT_EQ(w.status, WalkStatus::kStepCap);
      ++counts[w.cur];
    }
    int df = -1;
    for (double e : expected) df += e > 0;
    if (df < 1) continue;
    EXPECT_LT(chi_square(expected, counts, kWalkers), chi_square_limit(df)) << "vertex " << v << " weighted " << weighted;
  }
}

TEST(WalkEngine, OneStepMatchesExactTransitionProbabilities) {
  check_one_step(false);
  check_one_step(true);
}

// Restart walks for three steps: the law of the position is (alpha·e_start + (1-alpha)·P)^3 applied to the
// start, with a dead end sending the walker home (the alpha action by force).
TEST(WalkEngine, RestartWalkPositionAfterThreeSteps) {
  const WalkGraph g = WalkGraph::whole(test_graph(), kWeights);
  const double alpha = 0.3;
  const VertexId start = 2;
  std::vector<std::vector<double>> step(6, std::vector<double>(6, 0.0));  // step[u][v] = P(u -> v)
  for (VertexId u = 0; u < 6; ++u) {
    const std::vector<double> p = g.step_probabilities(u);
    step[u][start] += alpha;
    if (p.empty()) step[u][start] += 1.0 - alpha;
    for (size_t j = 0; j < p.size(); ++j) step[u][g.neighbour(g.row_begin(u) + static_cast<int64_t>(j))] += (1 - alpha) * p[j];
  }
  std::vector<double> law(6, 0.0);
  law[start] = 1.0;
  for (int s = 0; s < 3; ++s) {
    std::vector<double> next(6, 0.0);
    for (int u = 0; u < 6; ++u)
      for (int v = 0; v < 6; ++v) next[v] += law[u] * step[u][v];
    law = next;
  }
  WalkRule rule;
  rule.alpha = alpha;
  rule.max_steps = 3;
  constexpr int64_t kWalkers = 300000;
  std::vector<Walker> walkers = walkers_from(start, kWalkers);
  std::vector<Walker> departed;
  NoVisits none;
  WalkEngine(g, rule, CounterRng(5, RngPurpose::kTest)).advance(walkers, departed, none);
  std::vector<int64_t> counts(6, 0);
  for (const Walker& w : walkers) ++counts[w.cur];
  EXPECT_LT(chi_square(law, counts, kWalkers), chi_square_limit(5));
}

// Terminating walks (PPR sampling): the number of steps taken is geometric, P(L = l) = (1-a)^l a, on a
// graph without dead ends.
TEST(WalkEngine, TerminationGivesGeometricLengths) {
  const std::vector<VertexId> src = {0, 1, 2, 2}, dst = {1, 2, 0, 1};
  const WalkGraph g = WalkGraph::whole(Csr::from_pairs(3, 3, src, dst));
  WalkRule rule;
  rule.alpha = 0.2;
  rule.action = AlphaAction::kTerminate;
  constexpr int64_t kWalkers = 200000;
  std::vector<Walker> walkers = walkers_from(0, kWalkers);
  std::vector<Walker> departed;
  NoVisits none;
  const AdvanceCounts counts = WalkEngine(g, rule, CounterRng(8, RngPurpose::kTest)).advance(walkers, departed, none);
  EXPECT_EQ(counts.finished, kWalkers);
  constexpr int kBins = 15;  // lengths 0..13 and ">= 14"
  std::vector<int64_t> hist(kBins, 0);
  int64_t steps = 0;
  for (const Walker& w : walkers) {
    ASSERT_EQ(w.status, WalkStatus::kTerminated);
    ++hist[std::min<int>(static_cast<int>(w.steps), kBins - 1)];
    steps += w.steps;
  }
  EXPECT_EQ(steps, counts.steps);
  std::vector<double> p(kBins);
  for (int l = 0; l < kBins - 1; ++l) p[l] = std::pow(0.8, l) * 0.2;
  p[kBins - 1] = std::pow(0.8, kBins - 1);
  EXPECT_LT(chi_square(p, hist, kWalkers), chi_square_limit(kBins - 1));
}

TEST(WalkEngine, DeadEndsAndStepCap) {
  const WalkGraph g = WalkGraph::whole(test_graph());
  WalkRule rule;
  rule.max_steps = 50;
  std::vector<Walker> walkers = walkers_from(5, 1);  // the start is a dead end: stuck at once
  std::vector<Walker> departed;
  NoVisits none;
  WalkEngine(g, rule, CounterRng(1, RngPurpose::kTest)).advance(walkers, departed, none);
  EXPECT_EQ(walkers[0].status, WalkStatus::kStuck);
  EXPECT_EQ(walkers[0].steps, 0u);
  walkers = walkers_from(0, 10);
  WalkEngine(g, rule, CounterRng(1, RngPurpose::kTest)).advance(walkers, departed, none);
  for (const Walker& w : walkers) {
    EXPECT_EQ(w.status, WalkStatus::kStepCap);
    EXPECT_EQ(w.steps, 50u);
  }
  rule.action = AlphaAction::kTerminate;
  rule.max_steps = 0;
  walkers = walkers_from(2, 1000);
  WalkEngine(g, rule, CounterRng(1, RngPurpose::kTest)).advance(walkers, departed, none);
  int ended_at_dead_end = 0;
  for (const Walker& w : walkers) {
    ASSERT_EQ(w.status, WalkStatus::kTerminated);
    ended_at_dead_end += w.cur == 5;
  }
  EXPECT_GT(ended_at_dead_end, 0);
}

// Distinct-vertex target with first-visit records, as walk batches use it.
TEST(WalkEngine, DistinctTargetStopsOnTheStepThatReachesIt) {
  const WalkGraph g = WalkGraph::whole(test_graph());
  WalkRule rule;
  rule.alpha = 0.1;
  rule.max_steps = 10000;
  rule.distinct_target = 5;
  std::vector<Walker> walkers = walkers_from(0, 500);
  std::vector<Walker> departed;
  FirstVisits visits;
  WalkEngine(g, rule, CounterRng(2, RngPurpose::kTest)).advance(walkers, departed, visits);
  std::vector<VisitRecord> records = visits.take_records();
  sort_records(records);
  std::map<uint64_t, std::vector<VertexId>> by_walk;
  for (const VisitRecord& r : records) {
    EXPECT_EQ(r.position, by_walk[r.walk].size());
    by_walk[r.walk].push_back(r.vertex);
  }
  for (const Walker& w : walkers) {
    ASSERT_EQ(w.status, WalkStatus::kReachedTarget);
    EXPECT_EQ(w.distinct, 5u);
    const std::vector<VertexId>& seen = by_walk[w.id];
    ASSERT_EQ(seen.size(), 5u);
    EXPECT_EQ(seen.front(), 0);
    EXPECT_EQ(seen.back(), w.cur);  // the walk stops on the vertex that completed it
    EXPECT_EQ(std::set<VertexId>(seen.begin(), seen.end()).size(), 5u);
  }
}

// A walk depends only on (seed, id): one walker at a time or 1000 interleaved give the same walks.
TEST(WalkEngine, InterleavingDoesNotChangeWalks) {
  const WalkGraph g = WalkGraph::whole(test_graph(), kWeights);
  WalkRule rule;
  rule.alpha = 0.05;
  rule.action = AlphaAction::kTerminate;
  const WalkEngine engine(g, rule, CounterRng(3, RngPurpose::kTest));
  std::vector<Walker> together = walkers_from(1, 1000);
  std::vector<Walker> departed;
  NoVisits none;
  engine.advance(together, departed, none);
  for (int i = 0; i < 1000; i += 37) {
    std::vector<Walker> alone = {walkers_from(1, 1000)[i]};
    engine.advance(alone, departed, none);
    EXPECT_EQ(alone[0].steps, together[i].steps);
    EXPECT_EQ(alone[0].cur, together[i].cur);
  }
}

// Two slices of the graph (vertices 0-2 and 3-5), walkers handed between them until all finish, as
// ranks do: every walk ends where it ends on the whole graph, with the same first visits.
TEST(WalkEngine, WalksSplitOverSlicesEqualWholeGraphWalks) {
  const Csr whole = test_graph();
  auto slice = [&](VertexId first, VertexId last) {
    std::vector<VertexId> src, dst;
    std::vector<float> w;
    for (VertexId v = first; v < last; ++v)
      for (int64_t e = whole.row_begin(v); e < whole.row_end(v); ++e) {
        src.push_back(v - first);
        dst.push_back(whole.col[e]);
        w.push_back(kWeights[e]);
      }
    return WalkGraph(Csr::from_pairs(last - first, 6, src, dst), first, 6, w);
  };
  const WalkGraph parts[2] = {slice(0, 3), slice(3, 6)};
  const WalkGraph all = WalkGraph::whole(test_graph(), kWeights);
  WalkRule rule;
  rule.alpha = 0.15;
  rule.max_steps = 2000;
  rule.distinct_target = 4;
  const CounterRng rng(21, RngPurpose::kTest);

  std::vector<Walker> reference;
  for (VertexId v = 0; v < 5; ++v)
    for (Walker w : walkers_from(v, 200, static_cast<uint64_t>(v) * 1000)) reference.push_back(w);
  std::vector<Walker> inbox[2], finished;
  for (const Walker& w : reference) inbox[w.cur >= 3].push_back(w);
  FirstVisits visits_whole, visits_parts[2];
  std::vector<Walker> none_departed;
  WalkEngine(all, rule, rng).advance(reference, none_departed, visits_whole);
  ASSERT_TRUE(none_departed.empty());
  int supersteps = 0;
  while (!inbox[0].empty() || !inbox[1].empty()) {
    std::vector<Walker> out[2];
    for (int p = 0; p < 2; ++p) {
      WalkEngine(parts[p], rule, rng).advance(inbox[p], out[p], visits_parts[p]);
      for (const Walker& w : inbox[p]) finished.push_back(w);
      inbox[p].clear();
    }
    for (int p = 0; p < 2; ++p)
      for (const Walker& w : out[p]) inbox[w.cur >= 3].push_back(w);
    ASSERT_LT(++supersteps, 100000);
  }
  EXPECT_GT(supersteps, 1);
  ASSERT_EQ(finished.size(), reference.size());
  std::sort(finished.begin(), finished.end(), [](const Walker& a, const Walker& b) { return a.id < b.id; });
  std::sort(reference.begin(), reference.end(), [](const Walker& a, const Walker& b) { return a.id < b.id; });
  for (size_t i = 0; i < reference.size(); ++i) {
    EXPECT_EQ(finished[i].cur, reference[i].cur);
    EXPECT_EQ(finished[i].steps, reference[i].steps);
    EXPECT_EQ(finished[i].status, reference[i].status);
  }
  std::vector<VisitRecord> split = visits_parts[0].take_records(), other = visits_parts[1].take_records();
  split.insert(split.end(), other.begin(), other.end());
  std::vector<VisitRecord> joined = visits_whole.take_records();
  sort_records(split);
  sort_records(joined);
  EXPECT_EQ(split, joined);
}

}  // namespace
}  // namespace relfm::sampler
