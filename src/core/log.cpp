#include "src/core/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <memory>

namespace relfm::logging {
namespace {

struct State {
  int rank = 0;
  int size = 1;
  Level level = Level::kInfo;
  std::shared_ptr<spdlog::logger> logger;
};

State& state() {
  static State s;
  if (!s.logger) {
    // Unsynchronised stderr sink: one thread logs per rank, and lines must not interleave with the
    // progress display, which writes to stderr too.
    s.logger = std::make_shared<spdlog::logger>("relfm", std::make_shared<spdlog::sinks::stderr_sink_st>());
    s.logger->set_level(spdlog::level::trace);
    s.logger->set_pattern("%v");
    s.logger->flush_on(spdlog::level::trace);  // a line is on the terminal before the next MPI call
  }
  return s;
}

spdlog::level::level_enum spd(Level l) {
  switch (l) {
    case Level::kDebug: return spdlog::level::debug;
    case Level::kInfo: return spdlog::level::info;
    case Level::kWarning: return spdlog::level::warn;
    case Level::kError: return spdlog::level::err;
    case Level::kOff: return spdlog::level::off;
  }
  return spdlog::level::info;
}

}  // namespace

void configure(int rank, int size, Level level) {
  State& s = state();
  s.rank = rank;
  s.size = size;
  s.level = level;
  // Lines from rank 0 read as they always did; other ranks say who they are.
  s.logger->set_pattern(size > 1 && rank != 0 ? fmt::format("[rank {}/{}] %v", rank, size) : std::string("%v"));
}

Level level() { return state().level; }
bool enabled(Level l) { return l >= state().level && state().level != Level::kOff; }
int rank() { return state().rank; }

void write(Level l, const std::string& text, bool everywhere) {
  State& s = state();
  if (!everywhere && s.rank != 0) return;
  const char* prefix = l == Level::kWarning ? "relfm: warning: " : l == Level::kError ? "relfm: error: "
                       : l == Level::kDebug ? "relfm: debug: "   : "";
  s.logger->log(spd(l), "{}{}", prefix, text);
}

}  // namespace relfm::logging
