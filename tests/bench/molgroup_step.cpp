// Cost of MolGroup's meta step against a plain multi-data-set step of the same batch (issue 7's cost ratio),
// single process, the official grouping model (MetaGIN 5 x 300, MACCS router of size 16, batch 128 split
// evenly over target + auxiliaries). The plain step is forward + backward of (L_0 + sum_k L_k) / (1 + M) with
// the gates fixed (what a multi-data-set step costs without the bi-level part); the meta step is
// molgroup_meta_step with the chosen method. Prints medians over the repetitions and their ratio, measured
// in this one run (the machine is shared and noisy).
//
//   relfm_molgroup_step [METHOD=central] [AUXILIARIES=2] [REPS=5]   data from data/moleculenet (bbbp target)
#include "io/moleculenet_files.hpp"
#include "src/mol/featurize.hpp"
#include "src/mol/fingerprints.hpp"
#include "src/mol/molecule_set_builder.hpp"
#include "src/models/molgroup.hpp"
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

int main(int argc, char** argv) {
  const std::string method_name = argc > 1 ? argv[1] : "central";
  const int aux_count = argc > 2 ? std::atoi(argv[2]) : 2;
  const int reps = argc > 3 ? std::atoi(argv[3]) : 5;
  const MetaGradientMethod method = parse_meta_gradient_method(method_name);
  gemm::probe_candidates();
  gemm::activate(gemm::apply_gemm_request("auto", "default"));

  const std::vector<std::string> pool{"bbbp", "tox21", "bace", "clintox", "sider", "esol", "freesolv", "lipo",
                                      "toxcast", "hiv", "muv", "qm8"};
  const int64_t per_set = 128 / (1 + aux_count);
  std::vector<Data> data;
  std::vector<int64_t> tasks;
  for (int m = 0; m <= aux_count; ++m) {
    data.push_back(sub_batch(pool.at(static_cast<size_t>(m)), per_set));
    tasks.push_back(data.back().tasks);
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

  MetaStepInputs<float> inputs;
  inputs.target = {0, &data[0].batch, data[0].regression};
  inputs.target_fingerprints = &data[0].fingerprints;
  for (int k = 1; k <= aux_count; ++k) {
    inputs.aux.push_back({k, &data[static_cast<size_t>(k)].batch, data[static_cast<size_t>(k)].regression});
    inputs.aux_fingerprints.push_back(&data[static_cast<size_t>(k)].fingerprints);
  }
  ForwardOptions options;
  options.training = true;
  options.dropout_rng = CounterRng(0, RngPurpose::kDropout, 1);
  MetaStepConfig config;
  config.method = method;

  auto seconds = [](auto&& f) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  auto plain = [&] {
    store.zero_grad();
    Tape<float> tape;
    Var<float> total = sub_batch_loss(tape, model, inputs.target, Var<float>(), options);
    for (size_t k = 0; k < inputs.aux.size(); ++k)
      total = add(total, sub_batch_loss(tape, model, inputs.aux[k], tape.input(MatF::Constant(1, 1, 0.5f)), options));
    tape.backward(scale(total, 1.0f / static_cast<float>(1 + aux_count)));
  };
  auto meta = [&] { molgroup_meta_step(store, model, router_store, router, inputs, config, options, &dual_store, dual.get()); };
  plain();
  meta();  // warm-up
  std::vector<double> t_plain, t_meta;
  for (int r = 0; r < reps; ++r) {  // interleaved, so drift on a shared machine hits both alike
    t_plain.push_back(seconds(plain));
    t_meta.push_back(seconds(meta));
  }
  fmt::print("{{\"method\": \"{}\", \"auxiliaries\": {}, \"molecules_per_set\": {}, \"gemm\": \"{}\", "
             "\"plain_step_s\": {:.4f}, \"meta_step_s\": {:.4f}, \"ratio\": {:.2f}}}\n",
             method_name, aux_count, per_set, gemm::selection().summary(), median(t_plain), median(t_meta),
             median(t_meta) / median(t_plain));
  return 0;
}
