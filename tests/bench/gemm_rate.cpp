// The sgemm rate the GIN's matrix products reach on this machine, for every GEMM backend relfm can run:
// the six products of one GIN layer (forward h -> 2h and 2h -> h; the input and weight gradients of both)
// at the model's shapes, through the backend registry (src/tensor/gemm.hpp), best of several passes.
// Candidates: eigen, openblas (the kernel it detects, or the user's OPENBLAS_CORETYPE), and, when the user
// set no OPENBLAS_CORETYPE, openblas:<Core> for the ISA's kernel and Prescott (OpenBLAS's generic
// fallback). Each OpenBLAS kernel needs its own process (the kernel is fixed when the library loads), so
// the program re-runs itself per candidate. Also runs relfm's own start-up selection and reports it.
// Prints one JSON object.
//
//   relfm_gemm_rate ROWS [HIDDEN]         ROWS = atoms per (local) batch
//   relfm_gemm_rate --one KEY ROWS HIDDEN (internal: one candidate)
#include "src/tensor/gemm.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace relfm;

// {"key": ..., "kernel": ..., "correct": ..., "gflops": ...} for one candidate, measured in this process.
std::string measure_one(const std::string& key, int rows, int hidden) {
  try {
    auto backend = gemm::make_backend(key);
    const std::string err = gemm::check(*backend);
    const double rate = err.empty() ? gemm::measure_gflops(*backend, rows, hidden, 10) : 0.0;
    return fmt::format("{{\"key\": \"{}\", \"kernel\": \"{}\", \"correct\": {}, \"gflops\": {:.1f}}}", key,
                       backend->kernel(), err.empty() ? "true" : "false", rate);
  } catch (const std::exception& e) {
    return fmt::format("{{\"key\": \"{}\", \"kernel\": \"?\", \"correct\": false, \"gflops\": 0, \"error\": \"{}\"}}", key,
                       e.what());
  }
}

std::string run_child(const char* self, const std::string& key, int rows, int hidden) {
  const std::string cmd = fmt::format("'{}' --one '{}' {} {}", self, key, rows, hidden);
  std::string out;
  if (FILE* f = popen(cmd.c_str(), "r")) {
    std::array<char, 512> buf{};
    while (fgets(buf.data(), buf.size(), f)) out += buf.data();
    pclose(f);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out.empty() ? fmt::format("{{\"key\": \"{}\", \"correct\": false, \"gflops\": 0}}", key) : out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 5 && std::string(argv[1]) == "--one") {
    std::printf("%s\n", measure_one(argv[2], std::atoi(argv[3]), std::atoi(argv[4])).c_str());
    return 0;
  }
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s ROWS [HIDDEN]\n", argv[0]);
    return 2;
  }
  const int rows = std::atoi(argv[1]);
  const int hidden = argc > 2 ? std::atoi(argv[2]) : 300;
  std::vector<std::string> keys = {"eigen"};
  const auto names = gemm::backend_names();
  if (std::find(names.begin(), names.end(), "openblas") != names.end()) {
    keys.push_back("openblas");
    if (gemm::user_coretype().empty()) {
      const std::string isa = gemm::isa_coretype();
      if (!isa.empty()) keys.push_back("openblas:" + isa);
      if (isa != "SkylakeX" && isa.rfind("Cooper", 0) == 0) keys.push_back("openblas:SkylakeX");
      keys.push_back("openblas:Prescott");
    }
  }
  std::string list;
  for (const std::string& key : keys) list += (list.empty() ? "" : ", ") + run_child(argv[0], key, rows, hidden);
  // What relfm itself would pick at start-up (its short probe), in a process of its own.
  gemm::probe_candidates();
  const std::string chosen = gemm::apply_gemm_request("auto", "bench");
  const gemm::Selection& sel = gemm::activate(chosen);
  std::printf("{\"rows\": %d, \"hidden\": %d, \"relfm_choice\": \"%s\", \"relfm_kernel\": \"%s\", \"candidates\": [%s]}\n",
              rows, hidden, sel.key.c_str(), sel.summary().c_str(), list.c_str());
  return 0;
}
