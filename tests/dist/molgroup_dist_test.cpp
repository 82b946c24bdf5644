// MolGroup's meta step across ranks (issue 7, research/molgroup.md §6): the auxiliary data sets placed on
// ranks by place_datasets, the gates and the parameters after several steps (meta step + Adam) equal the
// one-process run of the same steps, which every rank also computes locally, bit for bit (per-data-set
// gradient blocks summed in data set order, molgroup.hpp).
#include "dist/comm.hpp"
#include "src/models/molgroup.hpp"
#include "src/models/molgroup_plan.hpp"
#include "src/nn/gradient_sum.hpp"
#include "src/nn/optim.hpp"
#include "tests/src/models/gin_test_batch.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>

namespace relfm {
namespace {

constexpr int64_t kDatasets = 5;  // the target and four auxiliaries
constexpr int kSteps = 4;

struct Replica {
  std::vector<GraphBatch> batches;
  std::vector<MatF> fingerprints;
  ParamStore<float> store, router_store;
  std::unique_ptr<MetaGin<float>> model;
  std::unique_ptr<Router<float>> router;
  std::unique_ptr<Optimizer<float>> gin_opt, router_opt;

  Replica() {
    const std::vector<std::array<const char*, 4>> smiles = {
        {"CC(=O)Oc1ccccc1C(=O)O", "C[C@@H](N)C(=O)O", "C=CC#N", "c1ccncc1"},
        {"CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "CCN(CC)CC"},
        {"OCC(O)CO", "C1CCCCC1", "ClC(Cl)Cl", "CC(C)Cc1ccccc1"},
        {"CCCCO", "c1ccc2ccccc2c1", "CC(=O)C", "NC(=O)N"},
        {"O=C(O)CCC(=O)O", "c1ccsc1", "CCOC(=O)C", "CN1CCCC1"}};
    for (int64_t m = 0; m < kDatasets; ++m) {
      batches.push_back(test::four_molecule_batch(smiles[static_cast<size_t>(m)]));
      fingerprints.push_back(test::fixed_fingerprints<MatF>(4, 12, static_cast<uint64_t>(m)));
    }
    model = std::make_unique<MetaGin<float>>(store, test::tiny_gin_config(), std::vector<int64_t>(kDatasets, 2), 11);
    RouterConfig rc;
    rc.num_datasets = kDatasets;
    rc.fingerprint_bits = 12;
    rc.dim = 4;
    router = std::make_unique<Router<float>>(router_store, rc, 13);
    OptimizerConfig adam;
    adam.lr = 1e-2;
    gin_opt = make_optimizer(store, adam);
    router_opt = make_optimizer(router_store, adam);
  }

  // The step's inputs for the data sets `owner` puts on `rank`.
  MetaStepInputs<float> inputs(const std::vector<int>& owner, int rank, int loss_rank = -1) const {
    MetaStepInputs<float> in;
    in.loss_rank = loss_rank;
    in.target = SubBatch{0, &batches[0], false, "target"};
    in.target_fingerprints = &fingerprints[0];
    in.num_aux = kDatasets - 1;
    for (int64_t m = 1; m < kDatasets; ++m)
      if (owner[static_cast<size_t>(m)] == rank) {
        in.aux.push_back(SubBatch{m, &batches[static_cast<size_t>(m)], m == 3, "aux" + std::to_string(m)});
        in.aux_fingerprints.push_back(&fingerprints[static_cast<size_t>(m)]);
      }
    return in;
  }

  // Runs the steps (the first a warm-up) and returns the gates of every meta step, in data set order.
  std::vector<double> run(const Communicator& comm, const std::vector<int>& owner, int loss_rank = -1) {
    std::vector<double> gates;
    MetaStepConfig config;
    config.virtual_lr = 0.05;  // larger than the official 1e-3, so the meta-gradient moves the gates visibly
    config.gate_grad_scale = 1000;
    for (int step = 0; step < kSteps; ++step) {
      ForwardOptions fo;
      fo.training = true;
      fo.dropout_rng = CounterRng(3, RngPurpose::kDropout, static_cast<uint64_t>(step));
      const MetaStepInputs<float> in = inputs(owner, comm.rank(), loss_rank);
      if (step == 0) {
        molgroup_warmup_step(comm, store, *model, in, fo);
      } else {
        const MetaStepResult r = molgroup_meta_step(comm, store, *model, router_store, *router, in, config, fo);
        EXPECT_EQ(r.datasets, (std::vector<int64_t>{1, 2, 3, 4}));
        gates.insert(gates.end(), r.gates.begin(), r.gates.end());
        router_opt->step();
      }
      gin_opt->step();
    }
    return gates;
  }
};

TEST(MolGroupAcrossRanks, GatesAndParametersEqualTheOneProcessRun) {
  const dist::Comm comm;
  // Unequal costs so that the placement is not the identity.
  const std::vector<double> cost = {4, 1, 3, 2, 2};
  const std::vector<int> owner = place_datasets(cost, comm.size());
  Replica alone;
  const LocalCommunicator local;
  const std::vector<double> expected = alone.run(local, std::vector<int>(kDatasets, 0));
  // The router's gradient reached the gates: they are not all where they started.
  EXPECT_GT(std::abs(expected.back() - expected[3]), 1e-6);
  // L_0 beside the virtual pass on another rank (as l0_rank places it here), and L_0 on the target rank
  // first, while every other rank leaves its weight-gradient products for the virtual pass's time.
  for (const int loss_rank : {l0_rank(cost, owner, comm.size()), 0}) {
    SCOPED_TRACE(fmt::format("L_0 on rank {}", loss_rank));
    Replica distributed;
    const std::vector<double> g = distributed.run(comm, owner, loss_rank);
    ASSERT_EQ(g.size(), expected.size());
    for (size_t i = 0; i < g.size(); ++i) EXPECT_EQ(g[i], expected[i]) << i;
    for (Parameter<float>* p : alone.store.all()) {
      const Parameter<float>& q = distributed.store.get(p->name);
      if (!p->trainable) continue;  // running statistics move on the owning rank only
      EXPECT_EQ(p->value, q.value) << p->name;
    }
    for (Parameter<float>* p : alone.router_store.trainable())
      EXPECT_EQ(p->value, distributed.router_store.get(p->name).value) << p->name;
  }
}

// The ordered sum alone, against the definition (start at +0, add in data set order only the blocks that
// have the gradient): bit for bit, for every placement of 7 blocks on the ranks (one rank holding them
// all, some ranks none), a block length that no rank count divides, absent gradients, signed zeros and
// values of very different magnitudes (where any other order of addition would round differently).
TEST(OrderedGradientSumAcrossRanks, EqualsTheDataSetOrderSumBitForBitForEveryPlacement) {
  const dist::Comm comm;
  constexpr int64_t kBlocks = 7;
  ParamStore<float> store;
  Parameter<float>& a = store.add("a", MatF::Zero(3, 5));
  Parameter<float>& b = store.add("b", MatF::Zero(1, 1));
  Parameter<float>& c = store.add("c", MatF::Zero(2, 3));  // absent in every block
  const std::vector<Parameter<float>*> params = {&a, &b, &c};
  auto fill = [&](int64_t id) {  // data set id's gradients; b is absent in the odd ones
    for (Parameter<float>* p : params) p->zero_grad();
    a.grad = MatF::NullaryExpr(3, 5, [&](Eigen::Index i, Eigen::Index j) {
      const float mag = std::ldexp(1.0f, static_cast<int>((id * 7 + i * 5 + j * 3) % 41) - 20);
      return ((id + i + j) % 3 == 0 ? -mag : mag) * (1.0f + 0.1f * static_cast<float>(j));
    });
    a.grad(0, 0) = id % 2 == 0 ? -0.0f : 0.0f;
    a.has_grad = true;
    if (id % 2 == 0) {
      b.grad = MatF::Constant(1, 1, 1e-3f * static_cast<float>(id + 1));
      b.has_grad = true;
    }
  };
  std::map<std::string, MatF> expected;  // the definition
  for (int64_t id = 0; id < kBlocks; ++id) {
    fill(id);
    for (Parameter<float>* p : params)
      if (p->has_grad) {
        auto [it, fresh] = expected.try_emplace(p->name, MatF::Zero(p->value.rows(), p->value.cols()));
        (void)fresh;
        for (Eigen::Index e = 0; e < p->grad.size(); ++e) it->second.data()[e] += p->grad.data()[e];
      }
  }
  ASSERT_EQ(expected.size(), 2u);
  // Placements: round-robin in reverse order, everything on the last rank, and blocked.
  const int ranks = comm.size();
  const std::vector<std::function<int(int64_t)>> placements = {
      [&](int64_t id) { return static_cast<int>((kBlocks - 1 - id) % ranks); },
      [&](int64_t) { return ranks - 1; },
      [&](int64_t id) { return static_cast<int>(id * ranks / kBlocks); }};
  for (size_t k = 0; k < placements.size(); ++k) {
    OrderedGradientSum<float> sum(params);
    for (int64_t id = kBlocks - 1; id >= 0; --id)  // added out of order on purpose
      if (placements[k](id) == comm.rank()) {
        fill(id);
        sum.add_block(id);
      }
    const std::map<std::string, MatF> got = sum.finish(comm);
    ASSERT_EQ(got.size(), expected.size()) << "placement " << k;
    for (const auto& [name, m] : expected) {
      ASSERT_TRUE(got.count(name)) << name;
      const MatF& g = got.at(name);
      ASSERT_EQ(g.size(), m.size());
      EXPECT_EQ(std::memcmp(g.data(), m.data(), sizeof(float) * static_cast<size_t>(m.size())), 0)
          << name << " differs in its bits, placement " << k;
    }
  }
}

TEST(MolGroupAcrossRanks, ANonFiniteGateStopsEveryRankNamingTheDataSet) {
  const dist::Comm comm;
  const std::vector<int> owner = place_datasets({4, 1, 3, 2, 2}, comm.size());
  Replica r;
  // Poison data set 2's task embedding: its gate becomes NaN on whichever rank holds it.
  r.router_store.get("gate.task_embeddings").value.row(2).setConstant(std::nanf(""));
  ForwardOptions fo;
  fo.training = true;
  const std::vector<float> before(r.store.get("datasets.0.atom_encoder.weight").value.data(),
                                  r.store.get("datasets.0.atom_encoder.weight").value.data() + 8);
  try {
    molgroup_meta_step(comm, r.store, *r.model, r.router_store, *r.router, r.inputs(owner, comm.rank()), MetaStepConfig{}, fo);
    FAIL() << "expected an error";
  } catch (const CollectiveError& e) {
    EXPECT_NE(std::string(e.what()).find("'aux2'"), std::string::npos) << e.what();
    EXPECT_EQ(e.kind(), CollectiveError::Kind::kDiverged);
  }
  const Mat<float>& after = r.store.get("datasets.0.atom_encoder.weight").value;
  EXPECT_TRUE(std::equal(before.begin(), before.end(), after.data()));
}

}  // namespace
}  // namespace relfm
