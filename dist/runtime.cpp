#include "dist/runtime.hpp"
#include "src/core/malloc_tuning.hpp"

#include "src/core/log.hpp"

#include <unistd.h>

#include <atomic>
#include <filesystem>
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

bool exists_on_root(const Comm& comm, const std::string& path) {
  int64_t exists = comm.is_root() && std::filesystem::exists(path) ? 1 : 0;
  comm.broadcast(&exists, 1);
  return exists != 0;
}

int run_main(int argc, char** argv, const std::function<int(Comm&)>& fn, logging::Level log_level) {
  tune_malloc();
  // Before MPI_Init, so that a stop request arriving while MPI starts up is remembered, not fatal.
  install_signal_handlers();
  // Only the main thread calls MPI (a job may run helper threads, e.g. an HTTP client's, that never do).
  int provided = MPI_THREAD_SINGLE;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  int code = kExitOk;
  {
    Comm world(MPI_COMM_WORLD);
    logging::configure(world.rank(), world.size(), log_level);
    if (provided < MPI_THREAD_FUNNELED)
      logging::warn("this MPI provides thread level {} (< MPI_THREAD_FUNNELED); relfm calls MPI from its main thread only",
                provided);
    try {
      code = fn(world);
    } catch (const CollectiveError& e) {
      if (world.is_root()) logging::error(false, "{}", e.what());
      code = exit_code_for(e.kind());
    } catch (const std::exception& e) {
      // Raised on this rank alone: the others may be waiting in a collective, so abort the job.
      logging::error(true, "on rank {} of {}: {}", world.rank(), world.size(), e.what());
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
