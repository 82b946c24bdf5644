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
//   mpirun -n P relfm_molgroup_step sum [AUXILIARIES=11] [REPS=20]   the ordered sum of the auxiliaries' theta_T
//     gradient blocks (OrderedGradientSum: reduce-scatter, ordered adds, all-gather) against all-gathering
//     every block and adding them all on every rank (what it replaced), alternately, one block per data set
//     placed as the job places them; prints both medians, their ratio and the values each rank receives.
//   relfm_molgroup_step dump AUXILIARIES FILE.h5   writes the sub-batches for the PyTorch reference
//                                                 (tests/bench/torch_molgroup.py) and exits. Per data set m:
//     /<m>/atoms int32 [n, 2] (atomic number, chirality), /<m>/bonds int32 [E, 2] (type, stereo),
//     /<m>/edge_dst, /<m>/edge_src int64 [E] (directed edges, CSR order), /<m>/graph_offsets int64 [G + 1],
//     /<m>/labels float32 [G, T] (NaN = missing), /<m>/fingerprints float32 [G, 167]; attribute regression.
//   relfm_molgroup_step check AUXILIARIES FILE.h5 [PERTURB=0] [SKIP=0]   (1 rank) the cross-check against the
//     official step (tests/bench/torch_molgroup_check.py): the sub-batches as dump writes them (SKIP: each data
//     set's sub-batch starts at its molecule SKIP instead of its first, for other samples), then one meta step
//     in double with method dual (exact), dropout 0, training-mode batch norm (batch statistics, biased
//     variance), virtual_lr 1e-3, gate_grad_scale 1000, on the parameters of MetaGin / Router with seed 0
//     (as the molgroup job builds them). PERTURB > 0 first adds PERTURB * U(-1, 1) to the tensors whose
//     initial values are structured (every eps, batch-norm weight and bias, gate.task_embeddings), so that no
//     path of the step is trivially symmetric. Every parameter is then rounded to float, so the float32
//     copies below are exactly the values the step used.
//     /params/gin/<name>, /params/router/<name>  float32, relfm's names and layouts (Linear weights in x out,
//         EmbeddingSum tables stacked by feature, LSTM one block per gate input|forget|cell|output with
//         weight_ih 2d x d, weight_hh d x d, bias 1 x d, structure projection bits x d; buffers too), each with
//         attribute trainable (0/1)
//     /relfm/gates [M] g_k, /relfm/hvp [M] h_k = d/dt dL_aux/dg_k (theta_T + t v) (dL_meta/dg_k = -lr h_k),
//     /relfm/aux_losses [M] L_k (each data set's own mean loss, not divided by M), /relfm/L0, /relfm/L_aux,
//     /relfm/L_meta (L_T at theta_T') scalars [1], float64;
//     /relfm/router_meta_grad/<name> float64: dL_meta/dphi (unscaled); /relfm/router_meta_grad_x1000/<name>:
//     what the step leaves in the router store (gate_grad_scale times it, what Adam sees);
//     /relfm/real_grad/<name> float64: the real gradient of (L_0 + sum_k L_k) / (1 + M) for every MetaGIN
//     parameter that has one; root attributes lr, gate_grad_scale, perturb, mix_lambda, temperature.
//     /relfm_float/<central|forward>/hvp [M] float64 and /relfm_float/<method>/router_meta_grad_x1000/<name>
//     float32: the same step from the same values as the job computes it (float, its default epsilons, or
//     both from the environment variable RELFM_CHECK_FLOAT_EPS);
//     /relfm_float/central_unfrozen/...: the central difference without the frozen relu pattern;
//     /relfm_double/<central|central_unfrozen>/... the same for the central difference in double (its epsilon
//     from the environment variable RELFM_CHECK_CENTRAL_EPS when set, else the job's default 1e-3).
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
#include <map>
#include <random>
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

Data sub_batch(const std::string& name, int64_t molecules, int64_t skip = 0) {
  const MoleculeNetSpec& spec = moleculenet_spec(name);
  const LabelledSmiles all = load_moleculenet(spec);
  std::vector<MolGraph> graphs;
  std::vector<std::string> smiles;
  std::vector<int64_t> rows;
  const int64_t first = std::min(skip, all.num_molecules() - 1);
  for (int64_t i = first; i < all.num_molecules() && static_cast<int64_t>(graphs.size()) < molecules; ++i) {
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

// The grouping's MetaGIN on OGB's "simple" features (atomic number, chirality; bond type, stereo).
GinConfig grouping_gin() {
  GinConfig gin;
  gin.atom_table_sizes = {119, 4};
  gin.bond_table_sizes = {5, 6};
  return gin;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

// The sub-batches in the layout of the header comment.
void write_batches(h5::File& f, const std::vector<Data>& data) {
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
}

void dump(const dist::Comm& comm, const std::vector<Data>& data, const std::string& path) {
  h5::write_on_root(path, comm, [&](h5::File& f) { write_batches(f, data); });
}

// The cross-check mode (see the header): one exact meta step in double, everything written by name.
void check(const dist::Comm& comm, const std::vector<Data>& data, const std::string& path, double perturb) {
  const int64_t aux_count = static_cast<int64_t>(data.size()) - 1;
  std::vector<int64_t> tasks;
  for (const Data& d : data) tasks.push_back(d.tasks);
  GinConfig gin = grouping_gin();
  gin.dropout = 0.0;
  ParamStore<double> store;
  MetaGin<double> model(store, gin, tasks, 0);
  RouterConfig rc;
  rc.num_datasets = 1 + aux_count;
  ParamStore<double> router_store;
  Router<double> router(router_store, rc, 0);
  ParamStore<DualD> dual_store;
  MetaGin<DualD> dual(dual_store, gin, tasks, 0);

  std::mt19937_64 rng(12345);
  std::uniform_real_distribution<double> unit(-1.0, 1.0);
  auto ends_with = [](const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
  };
  for (ParamStore<double>* st : {&store, &router_store})
    for (Parameter<double>* p : st->all()) {
      const bool structured = ends_with(p->name, ".eps") || ends_with(p->name, "norm.weight") ||
                              ends_with(p->name, "norm.bias") || p->name == "gate.task_embeddings";
      if (perturb > 0 && p->trainable && structured)
        for (int64_t k = 0; k < p->value.size(); ++k) p->value.data()[k] += perturb * unit(rng);
      p->value = p->value.cast<float>().cast<double>();  // the float32 copies written below are exact
    }

  std::vector<Mat<double>> fps;
  for (const Data& d : data) fps.push_back(d.fingerprints.cast<double>());
  MetaStepInputs<double> inputs;
  inputs.target = {0, &data[0].batch, data[0].regression};
  inputs.target_fingerprints = &fps[0];
  inputs.num_aux = aux_count;
  for (int64_t k = 1; k <= aux_count; ++k) {
    inputs.aux.push_back({k, &data[static_cast<size_t>(k)].batch, data[static_cast<size_t>(k)].regression});
    inputs.aux_fingerprints.push_back(&fps[static_cast<size_t>(k)]);
  }
  ForwardOptions options;
  options.training = true;
  options.dropout_rng = CounterRng(0, RngPurpose::kDropout, 1);
  MetaStepConfig config;
  config.method = MetaGradientMethod::kDual;

  // The parameters as the step sees them (values are restored by the step; buffers move, but training-mode
  // batch norm never reads them).
  struct Named {
    std::string name;
    Mat<double> value;
    bool trainable;
  };
  std::vector<Named> gin_params, router_params;
  for (Parameter<double>* p : store.all()) gin_params.push_back({p->name, p->value, p->trainable});
  for (Parameter<double>* p : router_store.all()) router_params.push_back({p->name, p->value, p->trainable});

  // Each L_k on its own at the step's gates (no gradient, running statistics untouched).
  std::vector<double> aux_losses;
  {
    Tape<double> tape;
    tape.set_grad_enabled(false);
    ForwardOptions o = options;
    o.update_running_stats = false;
    Var<double> s_target = router.structure_embedding(tape, 0, fps[0]);
    for (size_t k = 0; k < inputs.aux.size(); ++k) {
      Var<double> g = router.gate(tape, inputs.aux[k].dataset, s_target, *inputs.aux_fingerprints[k]);
      aux_losses.push_back(sub_batch_loss(tape, model, inputs.aux[k], g, o).value()(0, 0));
    }
  }

  const MetaStepResult r = molgroup_meta_step(comm, store, model, router_store, router, inputs, config, options, &dual_store, &dual);
  std::map<std::string, Mat<double>> router_grads, real_grads;  // the dual step's, kept before the other steps run
  for (Parameter<double>* p : router_store.trainable())
    if (p->has_grad) router_grads[p->name] = p->grad;
  for (Parameter<double>* p : store.trainable())
    if (p->has_grad) real_grads[p->name] = p->grad;

  // The same step as the job computes it by default: float, method central (and forward), from the same values.
  std::map<std::string, std::map<std::string, MatF>> float_grads;
  std::map<std::string, std::vector<double>> float_hvp;
  // "_unfrozen": the plain differences (MetaStepConfig::freeze_relus off), which cross relu kinks.
  const std::vector<std::pair<MetaGradientMethod, bool>> float_variants = {
      {MetaGradientMethod::kCentral, true}, {MetaGradientMethod::kForward, true}, {MetaGradientMethod::kCentral, false}};
  for (const auto& [m, freeze] : float_variants) {
    ParamStore<float> fstore, frouter_store;
    MetaGin<float> fmodel(fstore, gin, tasks, 0);
    Router<float> frouter(frouter_store, rc, 0);
    for (const Named& p : gin_params) fstore.get(p.name).value = p.value.cast<float>();
    for (const Named& p : router_params) frouter_store.get(p.name).value = p.value.cast<float>();
    MetaStepInputs<float> fin;
    fin.target = inputs.target;
    fin.target_fingerprints = &data[0].fingerprints;
    fin.aux = inputs.aux;
    fin.num_aux = aux_count;
    for (int64_t k = 1; k <= aux_count; ++k) fin.aux_fingerprints.push_back(&data[static_cast<size_t>(k)].fingerprints);
    MetaStepConfig fc;
    fc.method = m;
    fc.freeze_relus = freeze;
    if (const char* e = std::getenv("RELFM_CHECK_FLOAT_EPS")) fc.central_epsilon = fc.forward_epsilon = std::atof(e);
    const MetaStepResult fr = molgroup_meta_step(comm, fstore, fmodel, frouter_store, frouter, fin, fc, options);
    const std::string key = std::string(meta_gradient_method_name(m)) + (freeze ? "" : "_unfrozen");
    float_hvp[key] = fr.hvp;
    for (Parameter<float>* p : frouter_store.trainable())
      if (p->has_grad) float_grads[key][p->name] = p->grad;
  }
  // The central difference in double from the same values (the method's own error, without float rounding).
  std::map<std::string, std::map<std::string, MatF>> double_grads;
  std::map<std::string, std::vector<double>> double_hvp;
  for (const bool freeze : {true, false}) {
    for (const Named& p : gin_params) store.get(p.name).value = p.value;  // buffers back as well
    MetaStepConfig dc;
    dc.method = MetaGradientMethod::kCentral;
    dc.freeze_relus = freeze;
    if (const char* e = std::getenv("RELFM_CHECK_CENTRAL_EPS")) dc.central_epsilon = std::atof(e);
    const MetaStepResult dr = molgroup_meta_step(comm, store, model, router_store, router, inputs, dc, options);
    const std::string key = freeze ? "central" : "central_unfrozen";
    double_hvp[key] = dr.hvp;
    for (Parameter<double>* p : router_store.trainable())
      if (p->has_grad) double_grads[key][p->name] = p->grad.cast<float>();
  }

  h5::write_on_root(path, comm, [&](h5::File& f) {
    write_batches(f, data);
    auto write_params = [&](const std::string& group, const std::vector<Named>& params) {
      f.create_group(group);
      for (const Named& p : params) {
        const MatF v = p.value.cast<float>();
        f.write_replicated(group + "/" + p.name, v.data(), {v.rows(), v.cols()});
        f.set_attr(group + "/" + p.name, "trainable", static_cast<int64_t>(p.trainable));
      }
    };
    write_params("/params/gin", gin_params);
    write_params("/params/router", router_params);
    f.create_group("/relfm/router_meta_grad");
    f.create_group("/relfm/router_meta_grad_x1000");
    f.create_group("/relfm/real_grad");
    f.write_replicated("/relfm/gates", r.gates);
    f.write_replicated("/relfm/hvp", r.hvp);
    f.write_replicated("/relfm/aux_losses", aux_losses);
    f.write_replicated("/relfm/L0", std::vector<double>{r.target_loss});
    f.write_replicated("/relfm/L_aux", std::vector<double>{r.aux_loss});
    f.write_replicated("/relfm/L_meta", std::vector<double>{r.meta_loss});
    for (const auto& [name, g] : router_grads) {
      const Mat<double> unscaled = g / config.gate_grad_scale;
      f.write_replicated("/relfm/router_meta_grad_x1000/" + name, g.data(), {g.rows(), g.cols()});
      f.write_replicated("/relfm/router_meta_grad/" + name, unscaled.data(), {unscaled.rows(), unscaled.cols()});
    }
    for (const auto& [name, g] : real_grads) f.write_replicated("/relfm/real_grad/" + name, g.data(), {g.rows(), g.cols()});
    for (const auto& [method, grads] : double_grads) {
      f.create_group("/relfm_double/" + method + "/router_meta_grad_x1000");
      f.write_replicated("/relfm_double/" + method + "/hvp", double_hvp.at(method));
      for (const auto& [name, g] : grads)
        f.write_replicated("/relfm_double/" + method + "/router_meta_grad_x1000/" + name, g.data(), {g.rows(), g.cols()});
    }
    for (const auto& [method, grads] : float_grads) {
      f.create_group("/relfm_float/" + method + "/router_meta_grad_x1000");
      f.write_replicated("/relfm_float/" + method + "/hvp", float_hvp.at(method));
      for (const auto& [name, g] : grads)
        f.write_replicated("/relfm_float/" + method + "/router_meta_grad_x1000/" + name, g.data(), {g.rows(), g.cols()});
    }
    f.set_attr("/", "lr", config.virtual_lr);
    f.set_attr("/", "gate_grad_scale", config.gate_grad_scale);
    f.set_attr("/", "perturb", perturb);
    f.set_attr("/", "mix_lambda", rc.mix_lambda);
    f.set_attr("/", "temperature", rc.temperature);
  });
  if (comm.is_root()) {
    fmt::print("relfm check: M = {}, L0 = {:.12g}, L_aux = {:.12g}, L_meta = {:.12g}\n", aux_count, r.target_loss,
               r.aux_loss, r.meta_loss);
    for (size_t k = 0; k < r.gates.size(); ++k)
      fmt::print("  data set {}: g = {:.12g}, L_k = {:.12g}, h = {:.6g}\n", r.datasets[k], r.gates[k], aux_losses[k], r.hvp[k]);
  }
}

// The ordered gradient sum against the all-gather it replaced (see the usage above). Both add the blocks in
// data set order, so their results are checked to be bit-identical too.
int time_ordered_sum(const dist::Comm& comm, int aux_count, int reps) {
  ParamStore<float> store;
  std::vector<int64_t> tasks(static_cast<size_t>(aux_count + 1), 1);
  MetaGin<float> model(store, grouping_gin(), tasks, 0);
  const std::vector<Parameter<float>*> theta_t = target_parameters(store);
  int64_t block = 0;
  for (Parameter<float>* p : theta_t) block += p->value.size() + 1;
  std::vector<double> cost(static_cast<size_t>(aux_count + 1), 3.0);
  cost[0] = 1.0;
  const std::vector<int> owner = place_datasets(cost, comm.size());
  std::vector<int64_t> mine;
  for (int k = 1; k <= aux_count; ++k)
    if (owner[static_cast<size_t>(k)] == comm.rank()) mine.push_back(k);
  std::map<int64_t, std::vector<MatF>> blocks;  // made once: the timed parts only copy them
  for (int64_t k : mine)
    for (Parameter<float>* p : theta_t)
      blocks[k].push_back(MatF::NullaryExpr(p->value.rows(), p->value.cols(), [&](Eigen::Index i, Eigen::Index j) {
        return std::sin(static_cast<float>(k * 131 + i * 17 + j * 7)) * std::ldexp(1.0f, static_cast<int>((i + k) % 30) - 15);
      }));
  auto fill = [&](int64_t k) {  // what a backward pass leaves in the parameters
    for (size_t i = 0; i < theta_t.size(); ++i) {
      theta_t[i]->grad = blocks[k][i];
      theta_t[i]->has_grad = true;
    }
  };
  auto ordered = [&] {
    OrderedGradientSum<float> sum(theta_t);
    for (int64_t k : mine) {
      fill(k);
      sum.add_block(k);
    }
    return sum.finish(comm);
  };
  auto gathered = [&] {  // every block to every rank, then each rank adds all of them in data set order
    std::vector<float> values;
    for (int64_t k : mine) {
      fill(k);
      for (Parameter<float>* p : theta_t) {
        values.insert(values.end(), p->grad.data(), p->grad.data() + p->grad.size());
        values.push_back(1.0f);
      }
    }
    const std::vector<int64_t> ids = comm.allgatherv(mine);
    const std::vector<float> all = comm.allgatherv(values);
    std::vector<size_t> order(ids.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ids[a] < ids[b]; });
    std::map<std::string, MatF> out;
    for (size_t i : order) {
      size_t at = i * static_cast<size_t>(block);
      for (Parameter<float>* p : theta_t) {
        auto [it, fresh] = out.try_emplace(p->name, MatF::Zero(p->value.rows(), p->value.cols()));
        (void)fresh;
        for (Eigen::Index e = 0; e < p->value.size(); ++e) it->second.data()[e] += all[at + static_cast<size_t>(e)];
        at += static_cast<size_t>(p->value.size()) + 1;
      }
    }
    return out;
  };
  auto seconds = [&](auto&& f) {
    comm.barrier();
    const auto t0 = std::chrono::steady_clock::now();
    f();
    return comm.max(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  };
  if (ordered() != gathered()) {
    if (comm.is_root()) fmt::print(stderr, "the two sums differ\n");
    return 1;
  }
  std::vector<double> t_ordered, t_gathered;
  for (int r = 0; r < reps; ++r) {
    t_ordered.push_back(seconds(ordered));
    t_gathered.push_back(seconds(gathered));
  }
  // Values each rank receives: every block, or its slice of every block plus the other slices of the sum.
  const double all_received = static_cast<double>(aux_count) * static_cast<double>(block);
  const double slice_received = all_received / comm.size() + static_cast<double>(block) * (comm.size() - 1) / comm.size();
  if (comm.is_root())
    fmt::print("{{\"auxiliaries\": {}, \"ranks\": {}, \"block_floats\": {}, \"allgather_s\": {:.4f}, \"ordered_sum_s\": {:.4f}, "
               "\"allgather_over_ordered\": {:.2f}, \"received_mb\": [{:.1f}, {:.1f}]}}\n",
               aux_count, comm.size(), block, median(t_gathered), median(t_ordered), median(t_gathered) / median(t_ordered),
               all_received * 4e-6, slice_received * 4e-6);
  return 0;
}

int run(const dist::Comm& comm, int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "sum")
    return time_ordered_sum(comm, argc > 2 ? std::atoi(argv[2]) : 11, argc > 3 ? std::atoi(argv[3]) : 20);
  const bool dumping = argc > 1 && std::string(argv[1]) == "dump";
  const bool checking = argc > 1 && std::string(argv[1]) == "check";
  if (checking && comm.size() != 1) {
    if (comm.is_root()) fmt::print(stderr, "check runs on one rank\n");
    return 2;
  }
  const std::string method_name = argc > 1 && !dumping && !checking ? argv[1] : "central";
  const int aux_count = argc > 2 ? std::atoi(argv[2]) : 2;
  const int reps = argc > 3 && !dumping && !checking ? std::atoi(argv[3]) : 5;
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
    data.push_back(sub_batch(pool.at(static_cast<size_t>(m)), per_set, checking && argc > 5 ? std::atoll(argv[5]) : 0));
    tasks.push_back(data.back().tasks);
  }
  if (dumping) {
    dump(comm, data, argv[3]);
    return 0;
  }
  if (checking) {
    check(comm, data, argv[3], argc > 4 ? std::atof(argv[4]) : 0.0);
    return 0;
  }
  const GinConfig gin = grouping_gin();
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
  inputs.loss_rank = l0_rank(cost, owner, comm.size());
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
