// The results history (every run's series, tables and summary so far) inside a checkpoint's "trainer"
// section, so that a resumed job writes the results file an uninterrupted one would (jobs/trainer.cpp).
#pragma once

#include "io/checkpoint.hpp"
#include "io/results.hpp"

namespace relfm::jobs {

void save_history(const ResultsDocument& doc, StateSection& st);
// Replaces doc.seeds with the records `st` holds.
void load_history(const StateSection& st, ResultsDocument& doc);

}  // namespace relfm::jobs
