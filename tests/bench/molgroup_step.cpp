// Cost of MolGroup's meta step against a plain multi-data-set step of the same batch (issue 7's cost ratio),
// the official grouping model (MetaGIN 5 x 300, MACCS router of size 16, batch 128 split evenly over target +
// auxiliaries), on any number of MPI ranks: the data sets are placed on ranks as the molgroup job places
// them (place_datasets). The plain step is forward + backward of (L_0 + sum_k L_k) / (1 + M) with the gates
// fixed (what a multi-data-set step costs without the bi-level part), one backward per data set and the
// gradient sum over ranks the job's gin_group uses; the meta step is molgroup_meta_step with the chosen
// method. Prints medians over the repetitions (slowest rank) and their ratio, measured in this one run
// (the machine is shared and noisy).
//
//   mpirun -n P relfm_molgroup_step [METHOD=central] [AUXILIARIES=2] [REPS=5]   (data/moleculenet, bbbp target)
//   relfm_molgroup_step dump AUXILIARIES FILE.h5   writes the sub-batches for the PyTorch reference
//                                                 (tests/bench/torch_molgroup.py) and exits. Per data set m:
//     /<m>/atoms int32 [n, 2] (atomic number, chirality), /<m>/bonds int32 [E, 2] (type, stereo),
//     /<m>/edge_dst, /<m>/edge_src int64 [E] (directed edges, CSR order), /<m>/graph_offsets int64 [G + 1],
//     /<m>/labels float32 [G, T] (NaN = missing), /<m>/fingerprints float32 [G, 167]; attribute regression.
#include "dist/comm.hpp"
#include "dist/runtime.hpp"
#include "io/h5.hpp"
#include "io/moleculenet_files.hpp"
#include "src/mol/featurize.hpp"
#include "src/mol/fingerprints.hpp"
#include "src/mol/molecule_set_builder.hpp"
#include "src/models/molgroup.hpp"
#include "src/models/molgroup_plan.hpp"
#include "src/nn/gradient_sum.hpp"
#include "src/tensor/gemm.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

using namespace relfm;

struct Data {
  GraphBatch batch;
  MatF fingerprints;
  bool regression = false;
  int64_t tasks = 0;
};

Data sub_batch(const std::string& name, int64_t molecules) {
  const MoleculeNetSpec& spec = moleculenet_spec(name);
  const LabelledSmiles all = load_moleculenet(spec);
  std::vector<MolGraph> graphs;
  std::vector<std::string> smiles;
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < all.num_molecules() && static_cast<int64_t>(graphs.size()) < molecules; ++i) {
    auto g = smiles_to_graph(all.smiles[static_cast<size_t>(i)]);
    if (!g || g->num_atoms < 2) continue;
    graphs.push_back(std::move(*g));
    smiles.push_back(all.smiles[static_cast<size_t>(i)]);
    rows.push_back(i);
  }
  MatF labels(static_cast<Eigen::Index>(rows.size()), all.labels.cols());
  for (size_t r = 0; r < rows.size(); ++r) labels.row(static_cast<Eigen::Index>(r)) = all.labels.row(rows[r]);
  const MoleculeSet set = build_molecule_set(graphs, labels);
  std::vector<int64_t> positions(rows.size());
  for (size_t r = 0; r < positions.size(); ++r) positions[r] = static_cast<int64_t>(r);
  const std::vector<int> acols{0, 1}, bcols{0, 1};
  return {collate(set, positions, acols, bcols), fingerprints(smiles, {}), spec.task_type == TaskType::kRegression,
          all.num_tasks()};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

void dump(const dist::Comm& comm, const std::vector<Data>& data, const std::string& path) {
  h5::write_on_root(path, comm, [&](h5::File& f) {
    for (size_t m = 0; m < data.size(); ++m) {
      const GraphBatch& b = data[m].batch;
      const std::string g = "/" + std::to_string(m);
      f.create_group(g);
      f.write_replicated(g + "/atoms", b.atom_categories.data(), {b.atom_categories.rows(), b.atom_categories.cols()});
      f.write_replicated(g + "/bonds", b.edge_categories.data(), {b.edge_categories.rows(), b.edge_categories.cols()});
      std::vector<int64_t> dst, src;
      for (int64_t r = 0; r < b.adjacency->num_rows; ++r)
        for (int64_t e = b.adjacency->row_begin(r); e < b.adjacency->row_end(r); ++e) {
          dst.push_back(r);
          src.push_back(static_cast<int64_t>(b.adjacency->col[static_cast<size_t>(e)]));
        }
      f.write_replicated(g + "/edge_dst", dst);
      f.write_replicated(g + "/edge_src", src);
      f.write_replicated(g + "/graph_offsets", *b.graph_offsets);
      f.write_replicated(g + "/labels", b.labels->data(), {b.labels->rows(), b.labels->cols()});
      f.write_replicated(g + "/fingerprints", data[m].fingerprints.data(), {data[m].fingerprints.rows(), data[m].fingerprints.cols()});
      f.set_attr(g, "regression", static_cast<int64_t>(data[m].regression));
    }
  });
}

int run(const dist::Comm& comm, int argc, char** argv) {
  const bool dumping = argc > 1 && std::string(argv[1]) == "dump";
  const std::string method_name = argc > 1 && !dumping ? argv[1] : "central";
  const int aux_count = argc > 2 ? std::atoi(argv[2]) : 2;
  const int reps = argc > 3 && !dumping ? std::atoi(argv[3]) : 5;
  const MetaGradientMethod method = parse_meta_gradient_method(method_name);
  std::string key = gemm::apply_gemm_request("auto", "default");
  comm.broadcast(key);  // every rank runs rank 0's choice, as the jobs do
  gemm::activate(key);

  const std::vector<std::string> pool{"bbbp", "tox21", "bace", "clintox", "sider", "esol", "freesolv", "lipo",
                                      "toxcast", "hiv", "muv", "qm8"};
  const int64_t per_set = 128 / (1 + aux_count);
  std::vector<Data> data;
  std::vector<int64_t> tasks;
  for (int m = 0; m <= aux_count; ++m) {
    data.push_back(sub_batch(pool.at(static_cast<size_t>(m)), per_set));
    tasks.push_back(data.back().tasks);
  }
  if (dumping) {
    dump(comm, data, argv[3]);
    return 0;
  }
  GinConfig gin;
  gin.atom_table_sizes = {119, 4};
  gin.bond_table_sizes = {5, 6};
  ParamStore<float> store;
  MetaGin<float> model(store, gin, tasks, 0);
  RouterConfig rc;
  rc.num_datasets = 1 + aux_count;
  ParamStore<float> router_store;
  Router<float> router(router_store, rc, 0);
  ParamStore<DualD> dual_store;
  std::unique_ptr<MetaGin<DualD>> dual;
  if (method == MetaGradientMethod::kDual) dual = std::make_unique<MetaGin<DualD>>(dual_store, gin, tasks, 0);

  std::vector<double> cost;
  for (int m = 0; m <= aux_count; ++m)
    cost.push_back(static_cast<double>(data[static_cast<size_t>(m)].batch.num_nodes) * (m == 0 ? 1.0 : 3.0));
  const std::vector<int> owner = place_datasets(cost, comm.size());
  MetaStepInputs<float> inputs;
  inputs.target = {0, &data[0].batch, data[0].regression};
  inputs.target_fingerprints = &data[0].fingerprints;
  inputs.num_aux = aux_count;
  inputs.loss_rank = least_loaded_rank(cost, owner, comm.size());
  for (int k = 1; k <= aux_count; ++k) {
    if (owner[static_cast<size_t>(k)] != comm.rank()) continue;
    inputs.aux.push_back({k, &data[static_cast<size_t>(k)].batch, data[static_cast<size_t>(k)].regression});
    inputs.aux_fingerprints.push_back(&data[static_cast<size_t>(k)].fingerprints);
  }
  ForwardOptions options;
  options.training = true;
  options.dropout_rng = CounterRng(0, RngPurpose::kDropout, 1);
  MetaStepConfig config;
  config.method = method;

  auto seconds = [&](auto&& f) {
    comm.barrier();
    const auto t0 = std::chrono::steady_clock::now();
    f();
    return comm.max(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  };
  // The plain step distributed as the meta step is: theta_T's gradient summed over data sets in order,
  // every other parameter (one contributing data set each) by one all-reduce.
  const std::vector<Parameter<float>*> theta_t = target_parameters(store);
  std::vector<Parameter<float>*> rest;
  for (Parameter<float>* p : store.trainable())
    if (std::find(theta_t.begin(), theta_t.end(), p) == theta_t.end()) rest.push_back(p);
  auto plain = [&] {
    OrderedGradientSum<float> sum(theta_t);
    std::map<std::string, MatF> own;
    const float w = 1.0f / static_cast<float>(1 + aux_count);
    auto one = [&](const SubBatch& b, bool gated) {
      store.zero_grad();
      Tape<float> tape;
      const Var<float> gate = gated ? tape.input(MatF::Constant(1, 1, 0.5f)) : Var<float>();
      tape.backward(scale(sub_batch_loss(tape, model, b, gate, options), w));
      sum.add_block(b.dataset);
      for (Parameter<float>* p : rest)
        if (p->has_grad) own[p->name] = p->grad;
    };
    if (comm.is_root()) one(inputs.target, false);
    for (const SubBatch& b : inputs.aux) one(b, true);
    std::map<std::string, MatF> grads = sum.finish(comm);
    store.zero_grad();
    for (Parameter<float>* p : rest)
      if (auto it = own.find(p->name); it != own.end()) {
        p->grad = it->second;
        p->has_grad = true;
      }
    for (auto& [name, g] : GradientSum<float>(comm, rest).run()) grads.emplace(name, std::move(g));
    set_gradients(store, grads);
  };
  auto meta = [&] { molgroup_meta_step(comm, store, model, router_store, router, inputs, config, options, &dual_store, dual.get()); };
  plain();
  meta();  // warm-up
  std::vector<double> t_plain, t_meta;
  for (int r = 0; r < reps; ++r) {  // interleaved, so drift on a shared machine hits both alike
    t_plain.push_back(seconds(plain));
    t_meta.push_back(seconds(meta));
  }
  if (comm.is_root())
    fmt::print("{{\"method\": \"{}\", \"auxiliaries\": {}, \"ranks\": {}, \"molecules_per_set\": {}, \"gemm\": \"{}\", "
               "\"plain_step_s\": {:.4f}, \"meta_step_s\": {:.4f}, \"ratio\": {:.2f}}}\n",
               method_name, aux_count, comm.size(), per_set, gemm::selection().summary(), median(t_plain), median(t_meta),
               median(t_meta) / median(t_plain));
  return 0;
}

int main(int argc, char** argv) {
  gemm::probe_candidates();  // before MPI_Init: the probe forks
  return dist::run_main(argc, argv, [&](dist::Comm& comm) { return run(comm, argc, argv); });
}
