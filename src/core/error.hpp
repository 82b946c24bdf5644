// Errors. Every failure the user can cause is an InputError whose message names the file, line or key;
// everything else is a bug and surfaces as Error. The MPI runtime (dist/runtime.hpp) turns either into
// one message and a non-zero exit on every rank.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace relfm {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Bad input: a file, a line of a file, a job-file key, a command-line argument.
class InputError : public Error {
 public:
  using Error::Error;
};

// Training diverged (NaN/Inf loss); the last good checkpoint is kept.
class DivergedError : public Error {
 public:
  using Error::Error;
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

template <typename... Args>
[[noreturn]] void fail_input(fmt::format_string<Args...> format, Args&&... args) {
  throw InputError(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace relfm

// Internal invariant; a failure is a bug in relfm, not in the input.
#define RELFM_CHECK(cond, ...)                                                                 \
  do {                                                                                         \
    if (!(cond)) [[unlikely]]                                                                  \
      ::relfm::fail("internal check failed at {}:{}: {} ({})", __FILE__, __LINE__, #cond,      \
                    ::fmt::format(__VA_ARGS__));                                               \
  } while (0)
