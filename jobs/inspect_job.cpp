#include "jobs/inspect_job.hpp"

#include "io/batches.hpp"
#include "io/checkpoint.hpp"
#include "io/pairwise.hpp"
#include "io/predictions.hpp"
#include "io/results.hpp"
#include "io/sequences.hpp"
#include "io/shard.hpp"
#include "jobs/work_items.hpp"

#include <cmath>
#include <map>
#include <cstdio>

namespace relfm::jobs {
namespace {

std::string shape_text(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

void list_all(const h5::File& f) {
  for (const auto& [name, is_dataset] : f.walk("/"))
    std::printf("  %-48s %s\n", name.c_str(), is_dataset ? shape_text(f.dims(name)).c_str() : "(group)");
}

}  // namespace

int run_inspect(const dist::Comm& comm, const std::string& path, bool list_everything) {
  h5::File f = h5::File::open(path, comm);
  comm.collective([&] {
    if (!comm.is_root()) return;
    const std::string format = f.has_attr("/", "format") ? f.attr_string("/", "format") : std::string();
    std::printf("%s\n", path.c_str());
    // Each format's summary lives beside its writer; this table only dispatches.
    static const std::map<std::string, void (*)(const h5::File&)> summaries = {
        {kShardFormat, inspect_shard}, {kCheckpointFormat, inspect_checkpoint}, {kResultsFormat, inspect_results},
        {kWorkResultsFormat, inspect_work_results}, {kPairwiseFormat, inspect_pairwise},
        {kBatchesFormat, inspect_batches}, {kSequencesFormat, inspect_sequences},
        {kPredictionsFormat, inspect_predictions}};
    if (auto it = summaries.find(format); it != summaries.end()) it->second(f);
    else if (format.empty()) std::printf("HDF5 file without a relfm 'format' attribute\n");
    else std::printf("relfm file of format '%s'\n", format.c_str());
    if (list_everything || format.empty()) list_all(f);
    std::fflush(stdout);
  });
  f.close();
  return 0;
}

}  // namespace relfm::jobs
