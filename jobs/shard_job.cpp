#include "jobs/shard_job.hpp"

#include "io/csv.hpp"
#include "io/moleculenet_files.hpp"
#include "io/shard.hpp"
#include "src/core/log.hpp"
#include "src/mol/molecule_set_builder.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <unordered_map>

namespace relfm::jobs {

int run_shard(const dist::Comm& comm, const ShardOptions& options) {
  // ---- what to read, and how to score it ----
  struct Plan {
    std::string csv, dataset, task_type, metric, data_dir;
    const MoleculeNetSpec* spec = nullptr;
  };
  const Plan plan = comm.collective([&] {
    Plan p;
    if (options.out.empty()) fail_input("relfm shard: --out is required");
    if (options.dataset.empty() == options.csv.empty())
      fail_input("relfm shard: give exactly one of --dataset NAME (a MoleculeNet set) or --csv FILE");
    if (options.split != "auto" && options.split != "official" && options.split != "scaffold")
      fail_input("relfm shard: --split must be auto, official or scaffold, not '{}'", options.split);
    p.data_dir = options.data_dir.empty() ? moleculenet_data_dir() : options.data_dir;
    if (!options.dataset.empty()) {
      p.spec = &moleculenet_spec(options.dataset);
      p.dataset = std::string(p.spec->name);
      p.csv = p.data_dir + "/" + std::string(p.spec->file_name);
      p.task_type = std::string(task_type_name(p.spec->task_type));
      p.metric = std::string(metric_name(p.spec->metric));
      if (options.split == "official" && !p.spec->has_official_split())
        fail_input("relfm shard: '{}' has no official split files; use --split scaffold", p.dataset);
    } else {
      p.csv = options.csv;
      p.dataset = std::filesystem::path(options.csv).stem().string();
      if (p.dataset.size() > 4 && p.dataset.ends_with(".csv")) p.dataset.resize(p.dataset.size() - 4);
      if (options.task_type != "classification" && options.task_type != "regression")
        fail_input("relfm shard --csv: --task-type must be classification or regression");
      if (options.split == "official") fail_input("relfm shard --csv: official splits exist only for --dataset");
      p.task_type = options.task_type;
      p.metric = options.metric.empty() ? (p.task_type == "classification" ? "rocauc" : "rmse") : options.metric;
      (void)parse_metric(p.metric);
    }
    return p;
  });

  // ---- read the CSV (every rank; it is small next to featurisation) ----
  const LabelledSmiles table = comm.collective([&] { return read_labelled_csv(plan.csv, options.smiles_column); });
  comm.collective([&] {
    if (plan.spec && table.num_tasks() != plan.spec->num_tasks)
      fail_input("'{}' has {} label columns; {} has {}", plan.csv, table.num_tasks(), plan.dataset, plan.spec->num_tasks);
    if (table.num_molecules() == 0) fail_input("'{}' has no data rows", plan.csv);
  });
  const std::string checksum = comm.collective([&] { return comm.is_root() ? h5::sha256_file(plan.csv) : std::string(); });

  // ---- featurise this rank's block of rows ----
  const int64_t n = table.num_molecules();
  const int64_t row_begin = n * comm.rank() / comm.size(), row_end = n * (comm.rank() + 1) / comm.size();
  std::vector<MolGraph> graphs;
  std::vector<int64_t> kept_rows, skipped_lines;
  std::vector<std::string> local_smiles, local_scaffolds;
  comm.collective([&] {
    for (int64_t r = row_begin; r < row_end; ++r) {
      std::string why;
      std::optional<MolGraph> g = smiles_to_graph(table.smiles[r], &why);
      if (!g) {
        if (options.strict)
          fail_input("{}:{}: RDKit cannot parse SMILES '{}' ({}); rerun without --strict to skip such rows", plan.csv,
                     table.source_lines[r], table.smiles[r], why.empty() ? "invalid" : why);
        skipped_lines.push_back(table.source_lines[r]);
        continue;
      }
      graphs.push_back(std::move(*g));
      kept_rows.push_back(r);
      local_smiles.push_back(table.smiles[r]);
      local_scaffolds.push_back(murcko_scaffold_smiles(table.smiles[r], true).value_or(""));
    }
  });
  MatF labels(static_cast<int64_t>(kept_rows.size()), table.num_tasks());
  std::vector<int64_t> lines;
  for (size_t i = 0; i < kept_rows.size(); ++i) {
    labels.row(static_cast<int64_t>(i)) = table.labels.row(kept_rows[i]);
    lines.push_back(table.source_lines[kept_rows[i]]);
  }
  const MoleculeSet local = build_molecule_set(graphs, labels);

  // ---- the split, over all ranks' molecules ----
  const std::vector<int64_t> all_rows = comm.allgatherv(kept_rows);  // CSV data row of each molecule, in order
  const std::vector<int64_t> all_skipped = comm.allgatherv(skipped_lines);
  ShardSplit split;
  std::string split_method;
  const bool official = plan.spec && plan.spec->has_official_split() && options.split != "scaffold";
  if (official) {
    split_method = "ogb-official";
    comm.collective([&] {
      std::unordered_map<int64_t, int64_t> molecule_of_row;
      for (size_t m = 0; m < all_rows.size(); ++m) molecule_of_row[all_rows[m]] = static_cast<int64_t>(m);
      auto map_part = [&](const char* part) {
        std::vector<int64_t> out;
        for (int64_t row : read_index_file(official_split_path(*plan.spec, part, plan.data_dir))) {
          if (row < 0 || row >= n) fail_input("official {} split of {} names row {} of {}", part, plan.dataset, row, n);
          auto it = molecule_of_row.find(row);
          if (it != molecule_of_row.end()) out.push_back(it->second);  // skipped rows leave the split
        }
        std::sort(out.begin(), out.end());
        return out;
      };
      split.train = map_part("train");
      split.valid = map_part("valid");
      split.test = map_part("test");
    });
  } else {
    split_method = "scaffold";
    const std::vector<std::string> scaffolds = comm.allgather_strings(local_scaffolds);
    const IndexSplit s = comm.collective([&] { return split_by_scaffold(scaffolds); });
    split.train = s.train;
    split.valid = s.valid;
    split.test = s.test;
  }

  ShardInfo info;
  info.dataset = plan.dataset;
  info.task_type = plan.task_type;
  info.metric = plan.metric;
  info.source_file = std::filesystem::path(plan.csv).filename().string();
  info.source_sha256 = checksum;
  comm.broadcast(info.source_sha256);
  info.split_method = split_method;
  info.task_names = table.task_names;
  info.skipped_lines = all_skipped;
  info.config = fmt::format(
      "# relfm shard\n[shard]\ndataset = \"{}\"\ncsv = \"{}\"\ntask_type = \"{}\"\nmetric = \"{}\"\nsplit = \"{}\"\n"
      "strict = {}\nsmiles_column = {}\n",
      plan.dataset, plan.csv, plan.task_type, plan.metric, split_method, options.strict ? "true" : "false",
      options.smiles_column);
  comm.collective([&] {
    if (comm.is_root()) {
      const auto parent = std::filesystem::path(options.out).parent_path();
      std::error_code ec;
      if (!parent.empty()) std::filesystem::create_directories(parent, ec);
      if (ec) fail_input("cannot create the directory of '{}': {}", options.out, ec.message());
    }
  });
  comm.barrier();
  write_molecule_shard(options.out, comm, local, local_smiles, lines, info, split);

  const int64_t molecules = comm.sum(local.size()), atoms = comm.sum(local.num_atoms()), edges = comm.sum(local.num_edges());
  if (comm.is_root() && !options.quiet) {
    if (!all_skipped.empty()) {
      std::string list;
      for (size_t i = 0; i < all_skipped.size() && i < 10; ++i) list += (i ? ", " : "") + std::to_string(all_skipped[i]);
      logging::warn("relfm shard: skipped {} row(s) whose SMILES RDKit rejects (lines {}{})", all_skipped.size(), list,
                all_skipped.size() > 10 ? ", ..." : "");
    }
    std::printf("wrote %s: %s, %lld molecules (%zu skipped), %lld atoms, %lld directed edges, %lld tasks; %s split "
                "%zu/%zu/%zu\n",
                options.out.c_str(), plan.dataset.c_str(), static_cast<long long>(molecules), all_skipped.size(),
                static_cast<long long>(atoms), static_cast<long long>(edges), static_cast<long long>(table.num_tasks()),
                split_method.c_str(), split.train.size(), split.valid.size(), split.test.size());
  }
  return 0;
}

}  // namespace relfm::jobs
