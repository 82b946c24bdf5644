#include "src/tensor/sparse_edges.hpp"

#include <cpuid.h>

#include <atomic>
#include <cstring>

namespace relfm::sparse {
namespace {

bool is_amd() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx)) return false;
  char vendor[13] = {};
  std::memcpy(vendor, &ebx, 4);
  std::memcpy(vendor + 4, &edx, 4);
  std::memcpy(vendor + 8, &ecx, 4);
  return std::strcmp(vendor, "AuthenticAMD") == 0;
}

int64_t default_block_bytes() {
  static const int64_t bytes = is_amd() ? int64_t{4} << 20 : int64_t{1} << 20;
  return bytes;
}

std::atomic<int64_t> chosen_bytes{0};  // 0 = the CPU's default

}  // namespace

int64_t cache_block_bytes() {
  const int64_t chosen = chosen_bytes.load(std::memory_order_relaxed);
  return chosen > 0 ? chosen : default_block_bytes();
}

void set_cache_block_bytes(int64_t bytes) { chosen_bytes.store(bytes > 0 ? bytes : 0, std::memory_order_relaxed); }

}  // namespace relfm::sparse
