// MolGroup's pairwise study gathered into one file (format "relfm.pairwise", format_version 1), written
// by io/analysis/molgroup_pairs.py, whose docstring is the layout: /datasets, /metric,
// /higher_is_better, /score, /score_std, /seeds, /relative_gain ([D, D], row = target, column =
// auxiliary). relfm only summarises it.
#pragma once

#include "io/h5.hpp"

namespace relfm {

inline constexpr const char* kPairwiseFormat = "relfm.pairwise";

// `relfm inspect`: per target, its score alone, the auxiliaries that help most and least, and the
// matrix of relative gains in percent.
void inspect_pairwise(const h5::File& f);

}  // namespace relfm
