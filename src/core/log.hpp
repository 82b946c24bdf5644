// Logging for every layer, through spdlog: levels (debug, info, warning, error) chosen once per process
// (`relfm --verbose` / `--quiet`), and on a multi-rank run a rank tag on every line not from rank 0.
// Informational lines come from rank 0 only, unless asked for everywhere, so a 64-rank job logs like a
// one-rank job; warnings and errors come from whichever rank has them. No MPI here: the runtime tells
// this module its rank once (dist/runtime.cpp).
#pragma once

#include <fmt/format.h>

#include <string>

namespace relfm::logging {

enum class Level { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3, kOff = 4 };

// Once per process, after the rank is known; before that the logger behaves as rank 0 of 1 at kInfo.
void configure(int rank, int size, Level level);
Level level();
bool enabled(Level level);
int rank();

// The lines themselves (stderr). `everywhere` = also from ranks other than 0.
void write(Level level, const std::string& text, bool everywhere);

template <typename... Args>
void debug(fmt::format_string<Args...> format, Args&&... args) {
  if (enabled(Level::kDebug)) write(Level::kDebug, fmt::format(format, std::forward<Args>(args)...), true);
}
template <typename... Args>
void info(fmt::format_string<Args...> format, Args&&... args) {
  if (enabled(Level::kInfo)) write(Level::kInfo, fmt::format(format, std::forward<Args>(args)...), false);
}
template <typename... Args>
void warn(fmt::format_string<Args...> format, Args&&... args) {
  if (enabled(Level::kWarning)) write(Level::kWarning, fmt::format(format, std::forward<Args>(args)...), true);
}
// Errors are printed by whoever reports them (the runtime prints a collective error once, on rank 0).
template <typename... Args>
void error(bool everywhere, fmt::format_string<Args...> format, Args&&... args) {
  if (enabled(Level::kError)) write(Level::kError, fmt::format(format, std::forward<Args>(args)...), everywhere);
}

}  // namespace relfm::logging
