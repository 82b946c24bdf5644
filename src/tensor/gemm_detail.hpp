// Shared by the GEMM backend registry (gemm.cpp) and the start-up selection (gemm_selection.cpp); not part
// of the interface the ops see.
#pragma once

#include <chrono>
#include <string>
#include <utility>

namespace relfm::gemm {

// "openblas:SkylakeX" -> {"openblas", "SkylakeX"}; "eigen" -> {"eigen", ""}.
std::pair<std::string, std::string> split_key(const std::string& key);
bool has_backend(const std::string& name);
double seconds_since(std::chrono::steady_clock::time_point t0);

}  // namespace relfm::gemm
