// Process-level MPI runtime: initialisation, the error policy and stop requests from signals.
//
// Error policy (DESIGN.md): on bad input every rank stops with one clear message and a non-zero exit,
// never a hang. run_main() implements it: a CollectiveError (all ranks agreed) is printed once by rank 0
// and every rank exits with the same code; any other exception escaped on one rank only, so that rank
// prints it and aborts the job (MPI_Abort), which stops the other ranks wherever they are.
#pragma once

#include "dist/comm.hpp"
#include "src/core/log.hpp"

#include <functional>

namespace relfm::dist {

// Exit codes of the relfm command line.
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;          // a bug or an environment failure
inline constexpr int kExitInputError = 2;     // bad input: file, line or key named in the message
inline constexpr int kExitDiverged = 3;       // NaN/Inf loss; the last good checkpoint is kept
inline constexpr int kExitCheckpointed = 75;  // stopped on a signal after checkpointing (EX_TEMPFAIL): requeue

// MPI_Init_thread/MPI_Finalize around fn, with the error policy above. Installs the SIGUSR1/SIGTERM
// handlers and sets up logging (src/core/log.hpp) with this rank and `log_level`.
int run_main(int argc, char** argv, const std::function<int(Comm&)>& fn, logging::Level log_level = logging::Level::kInfo);

// Set by SIGUSR1 or SIGTERM (e.g. Slurm's --signal=B:USR1@T forwarded to the tasks, or scancel).
bool stop_requested();
void request_stop();  // the same as receiving the signal (tests)
int stop_signal();    // the signal that requested the stop, or 0

// Whether `path` exists, as rank 0 sees it, on every rank: ranks that decide for themselves (NFS attribute
// caches, node-local directories) could take different branches into different collectives and hang.
bool exists_on_root(const Comm& comm, const std::string& path);

// Whether rank 0's stderr is a terminal (progress bars redraw in place only then).
bool stderr_is_terminal();

}  // namespace relfm::dist
