#include "io/moleculenet_files.hpp"

#include "io/csv.hpp"
#include "src/core/error.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <optional>

namespace relfm {
namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool is_nan_text(std::string_view text) {
  return text.size() == 3 && std::tolower(text[0]) == 'n' && std::tolower(text[1]) == 'a' &&
         std::tolower(text[2]) == 'n';
}

// Parsed as double and then rounded to float, like pandas → torch.float32, so labels agree bit for bit.
std::optional<float> parse_label(std::string_view field) {
  std::string_view text = trim(field);
  if (text.empty() || is_nan_text(text)) return kMissingLabel;
  if (text.front() == '+') text.remove_prefix(1);
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) return std::nullopt;
  return static_cast<float>(value);
}

void check_split_part(const std::vector<int64_t>& indices, const std::string& path, int64_t num_molecules,
                      std::vector<char>& taken) {
  for (size_t k = 0; k < indices.size(); ++k) {
    const int64_t i = indices[k];
    if (i >= num_molecules)
      fail_input("{}:{}: row index {} is out of range for {} molecules", path, k + 1, i, num_molecules);
    if (taken[i]) fail_input("{}:{}: row index {} appears twice in the split", path, k + 1, i);
    taken[i] = 1;
  }
}

}  // namespace

std::string moleculenet_data_dir() {
  const char* root = std::getenv("RELFM_DATA_DIR");
  if (root != nullptr && *root != '\0') return std::string(root) + "/moleculenet";
  return RELFM_SOURCE_DIR "/data/moleculenet";
}

LabelledSmiles read_labelled_csv(const std::string& path, int smiles_column) {
  CsvTable table = read_csv(path);
  const int width = static_cast<int>(table.header.size());
  if (smiles_column < 0 || smiles_column >= width)
    fail_input("{}: SMILES column {} does not exist (the header has {} columns)", path, smiles_column, width);

  LabelledSmiles data;
  data.source_path = path;
  std::vector<int> task_columns;
  for (int c = 0; c < width; ++c) {
    if (c == smiles_column) continue;
    task_columns.push_back(c);
    data.task_names.push_back(table.header[c]);
  }
  const int64_t n = table.num_rows();
  data.labels.resize(n, static_cast<Eigen::Index>(task_columns.size()));
  data.smiles.reserve(n);
  for (int64_t r = 0; r < n; ++r) {
    auto& row = table.rows[r];
    for (size_t t = 0; t < task_columns.size(); ++t) {
      const std::string& field = row[task_columns[t]];
      const auto label = parse_label(field);
      if (!label)
        fail_input("{}:{}: column '{}': cannot parse '{}' as a number", path, table.line_numbers[r],
                   data.task_names[t], field);
      data.labels(r, static_cast<Eigen::Index>(t)) = *label;
    }
    data.smiles.push_back(std::move(row[smiles_column]));
  }
  data.source_lines = std::move(table.line_numbers);
  return data;
}

LabelledSmiles load_moleculenet(const MoleculeNetSpec& spec, const std::string& data_dir) {
  LabelledSmiles data = read_labelled_csv(data_dir + "/" + std::string(spec.file_name), spec.smiles_column);
  if (data.num_tasks() != spec.num_tasks)
    fail_input("{}: expected {} task columns for '{}', found {}", data.source_path, spec.num_tasks, spec.name,
               data.num_tasks());
  return data;
}

std::string official_split_path(const MoleculeNetSpec& spec, std::string_view part, const std::string& data_dir) {
  RELFM_CHECK(spec.has_official_split(), "'{}' has no official split", spec.name);
  return fmt::format("{}/ogb/{}/split/scaffold/{}.csv.gz", data_dir, spec.ogb_folder, part);
}

IndexSplit moleculenet_split(const MoleculeNetSpec& spec, const LabelledSmiles& data, const std::string& data_dir) {
  if (!spec.has_official_split()) return scaffold_split_of(data);
  IndexSplit split;
  std::vector<char> taken(static_cast<size_t>(data.num_molecules()), 0);
  const std::pair<std::string_view, std::vector<int64_t>*> parts[] = {
      {"train", &split.train}, {"valid", &split.valid}, {"test", &split.test}};
  for (const auto& [part, indices] : parts) {
    const std::string path = official_split_path(spec, part, data_dir);
    *indices = read_index_file(path);
    check_split_part(*indices, path, data.num_molecules(), taken);
    std::sort(indices->begin(), indices->end());
  }
  return split;
}

}  // namespace relfm
