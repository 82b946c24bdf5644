#include "io/batches.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

namespace relfm {

void write_batches_file(const std::string& path, const dist::Comm& comm, const BatchesFile& b) {
  h5::write_on_root(path, comm, [&](h5::File& f) {
    f.set_attr("/", "format", std::string(kBatchesFormat));
    f.set_attr("/", "format_version", kBatchesFormatVersion);
    for (const auto& [k, v] : b.text_attrs) f.set_attr("/", k, v);
    for (const auto& [k, v] : b.int_attrs) f.set_attr("/", k, v);
    for (const auto& [k, v] : b.real_attrs) f.set_attr("/", k, v);
    f.write_replicated("/offsets", b.offsets);
    f.write_replicated("/instances", b.instances);
    f.write_replicated("/epoch", b.epoch);
    f.write_replicated("/from_graph", b.from_graph);
    f.write_replicated("/mean_cosine", b.mean_cosine);
    if (!b.same_label_share.empty()) f.write_replicated("/same_label_share", b.same_label_share);
    f.write_replicated("/visits", b.visits);
    if (!b.neighbours.empty())
      f.write_replicated("/neighbours", b.neighbours.data(),
                         {static_cast<int64_t>(b.neighbours.size()) / b.neighbour_columns, b.neighbour_columns});
  });
}

namespace {

double mean_finite(const std::vector<double>& v) {
  double s = 0;
  int64_t n = 0;
  for (double x : v)
    if (std::isfinite(x)) s += x, ++n;
  return n ? s / static_cast<double>(n) : std::nan("");
}

}  // namespace

void inspect_batches(const h5::File& f) {
  auto text = [&](const char* k) { return f.has_attr("/", k) ? f.attr_string("/", k) : std::string("?"); };
  auto integer = [&](const char* k) { return f.has_attr("/", k) ? f.attr_int("/", k) : int64_t{-1}; };
  const auto offsets = f.read_rows<int64_t>("/offsets");
  const auto epoch = f.read_rows<int64_t>("/epoch");
  const auto from_graph = f.read_rows<int64_t>("/from_graph");
  const auto visits = f.read_rows<int64_t>("/visits");
  const int64_t batches = static_cast<int64_t>(offsets.size()) - 1;
  std::printf("batches from sampler '%s' (format_version %lld) over %lld instances of %s\n", text("sampler").c_str(),
              static_cast<long long>(integer("format_version")), static_cast<long long>(integer("num_instances")),
              text("source").c_str());
  std::printf("  batch size %lld, %lld epoch(s), seed %lld; M = %lld candidates, K = %lld neighbours, restart %.3f, epoch mode %s\n",
              static_cast<long long>(integer("batch_size")), static_cast<long long>(integer("epochs")),
              static_cast<long long>(integer("seed")), static_cast<long long>(integer("candidates")),
              static_cast<long long>(integer("neighbours")), f.has_attr("/", "restart") ? f.attr_double("/", "restart") : 0.0,
              text("epoch_mode").c_str());
  int64_t smallest = batches ? offsets[1] - offsets[0] : 0, largest = smallest;
  for (int64_t b = 0; b < batches; ++b) {
    smallest = std::min(smallest, offsets[b + 1] - offsets[b]);
    largest = std::max(largest, offsets[b + 1] - offsets[b]);
  }
  const int64_t graph = std::accumulate(from_graph.begin(), from_graph.end(), int64_t{0});
  std::printf("  %lld batches (%lld from the graph), %lld .. %lld instances each, %lld in all\n",
              static_cast<long long>(batches), static_cast<long long>(graph), static_cast<long long>(smallest),
              static_cast<long long>(largest), static_cast<long long>(offsets.empty() ? 0 : offsets.back()));
  std::printf("  mean in-batch cosine %.4f", mean_finite(f.read_rows<double>("/mean_cosine")));
  const auto names = f.list("/");
  if (std::find(names.begin(), names.end(), "same_label_share") != names.end())
    std::printf(", same-label pair share %.4f", mean_finite(f.read_rows<double>("/same_label_share")));
  std::printf("\n");
  if (!visits.empty()) {
    std::vector<int64_t> sorted = visits;
    std::sort(sorted.begin(), sorted.end());
    const auto never = std::count(sorted.begin(), sorted.end(), int64_t{0});
    std::printf("  visits per instance: min %lld, median %lld, max %lld; %lld never in a batch\n",
                static_cast<long long>(sorted.front()), static_cast<long long>(sorted[sorted.size() / 2]),
                static_cast<long long>(sorted.back()), static_cast<long long>(never));
  }
  if (!epoch.empty()) std::printf("  epochs 0 .. %lld\n", static_cast<long long>(epoch.back()));
  if (f.has_attr("/", "build_seconds"))
    std::printf("  graph build %.3f s, sampling %.3f s\n", f.attr_double("/", "build_seconds"), f.attr_double("/", "sample_seconds"));
}

}  // namespace relfm
