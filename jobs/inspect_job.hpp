// `relfm inspect FILE`: a human summary of any relfm file (shard, checkpoint, results, predictions), and
// a listing of groups, datasets and attributes for any other HDF5 file.
#pragma once

#include "dist/comm.hpp"

#include <string>

namespace relfm::jobs {

int run_inspect(const dist::Comm& comm, const std::string& path, bool list_everything);

}  // namespace relfm::jobs
