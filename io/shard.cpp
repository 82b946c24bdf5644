#include "io/shard.hpp"

#include <cstdio>

#include <algorithm>

namespace relfm {

void write_molecule_shard(const std::string& path, const dist::Comm& comm, const MoleculeSet& local,
                          const std::vector<std::string>& local_smiles, const std::vector<int64_t>& local_lines,
                          const ShardInfo& info, const ShardSplit& split) {
  const int64_t m_local = local.size();
  const int64_t a_base = comm.exclusive_scan(local.num_atoms());
  const int64_t e_base = comm.exclusive_scan(local.num_edges());
  const int64_t m_total = comm.sum(m_local), a_total = comm.sum(local.num_atoms()), e_total = comm.sum(local.num_edges());
  const int64_t t = local.labels.cols();

  // Offsets become global; each rank writes its entries without the trailing end-offset, and the last
  // rank appends the global total (a rank with no molecules writes nothing).
  auto globalise = [&](const std::vector<int64_t>& offsets, int64_t base, int64_t total) {
    std::vector<int64_t> out(offsets.begin(), offsets.end() - 1);
    for (auto& v : out) v += base;
    if (comm.rank() == comm.size() - 1) out.push_back(total);
    return out;
  };
  const auto atom_offsets = globalise(local.atom_offsets, a_base, a_total);
  const auto edge_offsets = globalise(local.edge_offsets, e_base, e_total);
  const auto edge_row_ptr = globalise(local.edge_row_ptr, e_base, e_total);

  std::vector<uint8_t> chars;
  std::vector<int64_t> char_offsets;
  for (const auto& s : local_smiles) {
    char_offsets.push_back(static_cast<int64_t>(chars.size()));
    chars.insert(chars.end(), s.begin(), s.end());
  }
  const int64_t c_base = comm.exclusive_scan(static_cast<int64_t>(chars.size()));
  const int64_t c_total = comm.sum(static_cast<int64_t>(chars.size()));
  for (auto& v : char_offsets) v += c_base;
  if (comm.rank() == comm.size() - 1) char_offsets.push_back(c_total);

  h5::write_atomically(path, comm, [&](h5::File& f) {
    f.set_attr("/", "format", std::string(kShardFormat));
    f.set_attr("/", "format_version", kShardFormatVersion);
    f.set_attr("/", "dataset", info.dataset);
    f.set_attr("/", "task_type", info.task_type);
    f.set_attr("/", "metric", info.metric);
    f.set_attr("/", "source_file", info.source_file);
    f.set_attr("/", "source_sha256", info.source_sha256);
    f.set_attr("/", "featurization", info.featurization);
    f.set_attr("/", "split_method", info.split_method);
    f.set_attr("/", "num_molecules", m_total);
    f.set_attr("/", "num_atoms", a_total);
    f.set_attr("/", "num_edges", e_total);
    f.set_attr("/", "num_tasks", t);
    f.set_attr("/", "num_skipped", static_cast<int64_t>(info.skipped_lines.size()));
    f.set_attr("/", "created_by", std::string("relfm shard"));
    f.write_text("/config", info.config);
    f.write_rows("/labels", local.labels.data(), m_local, t);
    f.set_attr("/labels", "task_names", info.task_names);
    f.write_rows("/smiles/chars", chars.data(), static_cast<int64_t>(chars.size()));
    f.write_rows("/smiles/offsets", char_offsets.data(), static_cast<int64_t>(char_offsets.size()));
    f.write_rows("/source_line", local_lines.data(), static_cast<int64_t>(local_lines.size()));
    f.write_rows("/graph/atom_offsets", atom_offsets.data(), static_cast<int64_t>(atom_offsets.size()));
    f.write_rows("/graph/atom_features", local.atom_features.data(), local.num_atoms(), local.atom_features.cols());
    f.write_rows("/graph/edge_offsets", edge_offsets.data(), static_cast<int64_t>(edge_offsets.size()));
    f.write_rows("/graph/edge_row_ptr", edge_row_ptr.data(), static_cast<int64_t>(edge_row_ptr.size()));
    f.write_rows("/graph/edge_src", local.edge_src.data(), local.num_edges());
    f.write_rows("/graph/edge_features", local.edge_features.data(), local.num_edges(), local.edge_features.cols());
    f.write_replicated("/split/train", split.train);
    f.write_replicated("/split/valid", split.valid);
    f.write_replicated("/split/test", split.test);
    f.write_replicated("/skipped/source_line", info.skipped_lines);
  });
}

namespace {

void check_offsets(const std::string& path, const std::string& name, const std::vector<int64_t>& offsets, int64_t rows,
                   int64_t total) {
  if (static_cast<int64_t>(offsets.size()) != rows + 1)
    fail_input("'{}': {} has {} entries, expected {}", path, name, offsets.size(), rows + 1);
  if (offsets.front() != 0 || offsets.back() != total)
    fail_input("'{}': {} must run from 0 to {}, found {} .. {}", path, name, total, offsets.front(), offsets.back());
  for (size_t i = 1; i < offsets.size(); ++i)
    if (offsets[i] < offsets[i - 1]) fail_input("'{}': {} decreases at entry {}", path, name, i);
}

std::vector<int64_t> read_split_part(const h5::File& f, const std::string& name, int64_t m) {
  std::vector<int64_t> v = f.read_rows<int64_t>("/split/" + name);
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] < 0 || v[i] >= m) fail_input("'{}': /split/{} entry {} is {}, outside [0, {})", f.path(), name, i, v[i], m);
    if (i > 0 && v[i] <= v[i - 1]) fail_input("'{}': /split/{} is not strictly increasing at entry {}", f.path(), name, i);
  }
  return v;
}

}  // namespace

MoleculeShard read_molecule_shard(const std::string& path, const dist::Comm& comm, bool with_smiles) {
  return comm.collective([&] {
    MoleculeShard shard;
    h5::File f = h5::File::open(path, comm);
    f.expect_format(kShardFormat, kShardFormatVersion);
    ShardInfo& info = shard.info;
    info.dataset = f.attr_string("/", "dataset");
    info.task_type = f.attr_string("/", "task_type");
    info.metric = f.attr_string("/", "metric");
    info.source_file = f.attr_string("/", "source_file");
    info.source_sha256 = f.attr_string("/", "source_sha256");
    info.featurization = f.attr_string("/", "featurization");
    info.split_method = f.attr_string("/", "split_method");
    info.task_names = f.attr_strings("/labels", "task_names");
    info.config = f.read_text("/config");
    info.num_molecules = f.attr_int("/", "num_molecules");
    info.num_atoms = f.attr_int("/", "num_atoms");
    info.num_edges = f.attr_int("/", "num_edges");
    info.skipped_lines = f.read_rows<int64_t>("/skipped/source_line");
    const int64_t m = info.num_molecules, a = info.num_atoms, e = info.num_edges;
    const int64_t t = static_cast<int64_t>(info.task_names.size());

    MoleculeSet& set = shard.molecules;
    set.atom_offsets = f.read_rows<int64_t>("/graph/atom_offsets");
    set.edge_offsets = f.read_rows<int64_t>("/graph/edge_offsets");
    set.edge_row_ptr = f.read_rows<int64_t>("/graph/edge_row_ptr");
    check_offsets(path, "/graph/atom_offsets", set.atom_offsets, m, a);
    check_offsets(path, "/graph/edge_offsets", set.edge_offsets, m, e);
    check_offsets(path, "/graph/edge_row_ptr", set.edge_row_ptr, a, e);
    set.edge_src = f.read_rows<int32_t>("/graph/edge_src");
    const auto atom_dims = f.dims("/graph/atom_features");
    const auto edge_dims = f.dims("/graph/edge_features");
    const auto label_dims = f.dims("/labels");
    if (atom_dims.size() != 2 || atom_dims[0] != a) fail_input("'{}': /graph/atom_features must be [{}, F]", path, a);
    if (edge_dims.size() != 2 || edge_dims[0] != e) fail_input("'{}': /graph/edge_features must be [{}, F]", path, e);
    if (label_dims.size() != 2 || label_dims[0] != m || label_dims[1] != t)
      fail_input("'{}': /labels must be [{}, {}]", path, m, t);
    const auto af = f.read_rows<uint8_t>("/graph/atom_features");
    const auto ef = f.read_rows<uint8_t>("/graph/edge_features");
    const auto labels = f.read_rows<float>("/labels");
    set.atom_features = Eigen::Map<const FeatureMat>(af.data(), a, atom_dims[1]);
    set.edge_features = Eigen::Map<const FeatureMat>(ef.data(), e, edge_dims[1]);
    set.labels = Eigen::Map<const MatF>(labels.data(), m, t);
    set.ids.resize(static_cast<size_t>(m));
    for (int64_t i = 0; i < m; ++i) set.ids[i] = i;
    try {
      set.validate();
    } catch (const Error& err) {
      fail_input("'{}': {}", path, err.what());
    }
    shard.split.train = read_split_part(f, "train", m);
    shard.split.valid = read_split_part(f, "valid", m);
    shard.split.test = read_split_part(f, "test", m);
    if (with_smiles) {
      const auto chars = f.read_rows<uint8_t>("/smiles/chars");
      const auto offsets = f.read_rows<int64_t>("/smiles/offsets");
      check_offsets(path, "/smiles/offsets", offsets, m, static_cast<int64_t>(chars.size()));
      for (int64_t i = 0; i < m; ++i)
        shard.smiles.emplace_back(reinterpret_cast<const char*>(chars.data()) + offsets[i],
                                  static_cast<size_t>(offsets[i + 1] - offsets[i]));
    }
    f.close();
    return shard;
  });
}

void inspect_shard(const h5::File& f) {
  auto i = [&](const char* k) { return static_cast<long long>(f.attr_int("/", k)); };
  std::printf("molecule shard (format_version %lld)\n", i("format_version"));
  std::printf("  dataset        %s (%s, metric %s)\n", f.attr_string("/", "dataset").c_str(),
              f.attr_string("/", "task_type").c_str(), f.attr_string("/", "metric").c_str());
  std::printf("  source         %s  sha256 %s\n", f.attr_string("/", "source_file").c_str(),
              f.attr_string("/", "source_sha256").c_str());
  std::printf("  molecules      %lld (%lld skipped as unparsable)\n", i("num_molecules"), i("num_skipped"));
  std::printf("  atoms / edges  %lld / %lld directed\n", i("num_atoms"), i("num_edges"));
  const auto tasks = f.attr_strings("/labels", "task_names");
  std::string names;
  for (size_t k = 0; k < tasks.size() && k < 6; ++k) names += (k ? ", " : "") + tasks[k];
  std::printf("  tasks          %zu (%s%s)\n", tasks.size(), names.c_str(), tasks.size() > 6 ? ", ..." : "");
  std::printf("  split          %s: train %lld, valid %lld, test %lld\n", f.attr_string("/", "split_method").c_str(),
              static_cast<long long>(f.dims("/split/train")[0]), static_cast<long long>(f.dims("/split/valid")[0]),
              static_cast<long long>(f.dims("/split/test")[0]));
}


}  // namespace relfm
