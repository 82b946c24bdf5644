#include "dist/gemm_select.hpp"

#include <fmt/format.h>

namespace relfm::dist {

const gemm::Selection& agree_gemm_backend(const Comm& comm) {
  std::string key = gemm::pending_key();
  comm.broadcast(key);
  const int rank = comm.rank();
  comm.collective([&] {
    try {
      gemm::activate(key);
    } catch (const InputError& e) {
      throw InputError(fmt::format("rank {}: {}", rank, e.what()));
    } catch (const Error& e) {
      throw Error(fmt::format("rank {}: {}", rank, e.what()));
    }
  });
  return gemm::selection();
}

const gemm::Selection& select_gemm_backend(const Comm& comm, const std::string& request, const std::string& source) {
  comm.collective([&] { gemm::apply_gemm_request(request, source); });
  return agree_gemm_backend(comm);
}

}  // namespace relfm::dist
