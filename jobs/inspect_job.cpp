#include "jobs/inspect_job.hpp"

#include "io/checkpoint.hpp"
#include "io/results.hpp"
#include "io/shard.hpp"

#include <cmath>
#include <cstdio>

namespace relfm::jobs {
namespace {

std::string shape_text(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

herr_t list_object(hid_t, const char* name, const H5O_info_t* info, void* data) {
  auto* out = static_cast<std::vector<std::pair<std::string, bool>>*>(data);
  if (std::string(name) != ".") out->push_back({std::string("/") + name, info->type == H5O_TYPE_DATASET});
  return 0;
}

void list_all(const h5::File& f) {
  std::vector<std::pair<std::string, bool>> objects;
  H5Ovisit2(f.id(), H5_INDEX_NAME, H5_ITER_INC, list_object, &objects, H5O_INFO_BASIC);
  for (const auto& [name, is_dataset] : objects)
    std::printf("  %-48s %s\n", name.c_str(), is_dataset ? shape_text(f.dims(name)).c_str() : "(group)");
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

void inspect_checkpoint(const h5::File& f) {
  std::printf("checkpoint (format_version %lld), written by %lld rank(s)\n",
              static_cast<long long>(f.attr_int("/", "format_version")), static_cast<long long>(f.attr_int("/", "world_size")));
  auto si = [&](const char* k) { return f.has_attr("/state", k) ? static_cast<long long>(f.attr_int("/state", k)) : -1LL; };
  std::printf("  position       seed index %lld, epoch %lld, step in epoch %lld, global step %lld\n", si("seed_index"),
              si("epoch"), si("step_in_epoch"), si("global_step"));
  std::printf("  optimizer      %s, %lld steps, lr %g\n", f.attr_string("/optimizer", "name").c_str(),
              static_cast<long long>(f.attr_int("/optimizer", "steps")), f.attr_double("/optimizer", "lr"));
  std::vector<std::pair<std::string, bool>> objects;
  H5Ovisit2(f.id(), H5_INDEX_NAME, H5_ITER_INC, list_object, &objects, H5O_INFO_BASIC);
  int64_t tensors = 0, values = 0;
  for (const auto& [name, is_dataset] : objects)
    if (is_dataset && name.rfind("/params/", 0) == 0) {
      ++tensors;
      int64_t n = 1;
      for (int64_t d : f.dims(name)) n *= d;
      values += n;
    }
  std::printf("  parameters     %lld tensors, %lld values\n", static_cast<long long>(tensors), static_cast<long long>(values));
}

void inspect_results(const h5::File& f) {
  const std::string metric = f.attr_string("/", "metric");
  std::printf("results of job '%s' (format_version %lld): %s, metric %s (%s is better), %lld rank(s)\n",
              f.attr_string("/", "job").c_str(), static_cast<long long>(f.attr_int("/", "format_version")),
              f.attr_string("/", "dataset").c_str(), metric.c_str(), f.attr_int("/", "higher_is_better") ? "higher" : "lower",
              static_cast<long long>(f.attr_int("/", "world_size")));
  const auto seeds = f.read_rows<int64_t>("/summary/seed");
  const auto best = f.read_rows<int64_t>("/summary/best_epoch");
  const auto valid = f.read_rows<double>("/summary/best_valid");
  const auto test = f.read_rows<double>("/summary/test_at_best");
  const auto done = f.read_rows<int64_t>("/summary/completed");
  std::printf("  %6s %8s %10s %12s %12s %12s\n", "seed", "epochs", "best epoch", ("valid " + metric).c_str(),
              ("test " + metric).c_str(), "mol/s (mean)");
  for (size_t i = 0; i < seeds.size(); ++i) {
    const std::string g = "/seeds/" + std::to_string(seeds[i]);
    const auto rate = f.read_rows<double>(g + "/molecules_per_second");
    double mean_rate = 0;
    for (double r : rate) mean_rate += r;
    if (!rate.empty()) mean_rate /= static_cast<double>(rate.size());
    std::printf("  %6lld %8zu %10lld %12.4f %12.4f %12.0f%s\n", static_cast<long long>(seeds[i]), rate.size(),
                static_cast<long long>(best[i]), valid[i], test[i], mean_rate, done[i] ? "" : "  (incomplete)");
  }
  std::printf("  test %s at best validation: %.4f +/- %.4f over %lld completed seed(s)\n", metric.c_str(),
              f.attr_double("/", "test_mean"), f.attr_double("/", "test_std"),
              static_cast<long long>(f.attr_int("/", "seeds_completed")));
}

}  // namespace

int run_inspect(const dist::Comm& comm, const std::string& path, bool list_everything) {
  h5::File f = h5::File::open(path, comm);
  comm.collective([&] {
    if (!comm.is_root()) return;
    const std::string format = f.has_attr("/", "format") ? f.attr_string("/", "format") : std::string();
    std::printf("%s\n", path.c_str());
    if (format == kShardFormat) inspect_shard(f);
    else if (format == kCheckpointFormat) inspect_checkpoint(f);
    else if (format == kResultsFormat) inspect_results(f);
    else if (format.empty()) std::printf("HDF5 file without a relfm 'format' attribute\n");
    else std::printf("relfm file of format '%s'\n", format.c_str());
    if (list_everything || format.empty()) list_all(f);
    std::fflush(stdout);
  });
  f.close();
  return 0;
}

}  // namespace relfm::jobs
