#include "dist/runtime.hpp"

#include <malloc.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>

namespace relfm::dist {
namespace {

volatile std::sig_atomic_t g_stop_signal = 0;

extern "C" void on_stop_signal(int signo) { g_stop_signal = signo; }

void install_signal_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

// Large tensors are allocated and freed every step; keep freed memory in the heap instead of returning
// it to the kernel, because re-faulting pages costs ~11 us per 4 KB here (research/systems_anchors.md §5).
void tune_malloc() {
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 64 << 20);
}

int exit_code_for(CollectiveError::Kind kind) {
  switch (kind) {
    case CollectiveError::Kind::kInput: return kExitInputError;
    case CollectiveError::Kind::kDiverged: return kExitDiverged;
    case CollectiveError::Kind::kInternal: return kExitError;
  }
  return kExitError;
}

}  // namespace

bool stop_requested() { return g_stop_signal != 0; }
void request_stop() { g_stop_signal = SIGUSR1; }
int stop_signal() { return g_stop_signal; }
bool stderr_is_terminal() { return isatty(STDERR_FILENO) == 1; }

int run_main(int argc, char** argv, const std::function<int(Comm&)>& fn) {
  tune_malloc();
  // Before MPI_Init, so that a stop request arriving while MPI starts up is remembered, not fatal.
  install_signal_handlers();
  MPI_Init(&argc, &argv);
  int code = kExitOk;
  {
    Comm world(MPI_COMM_WORLD);
    try {
      code = fn(world);
    } catch (const CollectiveError& e) {
      if (world.is_root()) std::fprintf(stderr, "relfm: error: %s\n", e.what());
      code = exit_code_for(e.kind());
    } catch (const std::exception& e) {
      // Raised on this rank alone: the others may be waiting in a collective, so abort the job.
      std::fprintf(stderr, "relfm: error on rank %d of %d: %s\n", world.rank(), world.size(), e.what());
      std::fflush(stderr);
      const int local = dynamic_cast<const InputError*>(&e) ? kExitInputError
                        : dynamic_cast<const DivergedError*>(&e) ? kExitDiverged
                                                                 : kExitError;
      if (world.size() > 1) MPI_Abort(MPI_COMM_WORLD, local);
      code = local;
    }
  }
  std::fflush(stdout);
  std::fflush(stderr);
  MPI_Finalize();
  return code;
}

}  // namespace relfm::dist
