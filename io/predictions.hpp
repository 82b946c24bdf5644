// Predictions of a checkpoint's model on one split (`relfm eval --predictions`), one row per example.
//
// Layout (format "relfm.predictions", format_version 1):
//   /              attributes: format, format_version, dataset, split, metric, value (the split's score),
//                  checkpoint (the model's file)
//   /ids           int64 [n]        the examples' rows in their split or shard (a GIN's: shard rows, in rank
//                                   order; a Diffuser model's: the split's sequences in order)
//   /predictions   float32 [n, T]   logits or values (T tasks; a classifier's classes)
//   /labels        float32 [n, L]   the labels (a GIN's: [n, T], NaN = missing; a classifier's: [n, 1], the class)
#pragma once

#include "dist/comm.hpp"
#include "io/h5.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace relfm {

inline constexpr const char* kPredictionsFormat = "relfm.predictions";

struct Predictions {
  std::string dataset = {}, split = {}, metric = {}, checkpoint = {};
  double value = 0.0;
  std::vector<int64_t> ids = {};   // this rank's rows (the file holds every rank's, in rank order)
  std::vector<float> predictions = {};  // row-major [ids, prediction_columns]
  int64_t prediction_columns = 1;
  std::vector<float> labels = {};  // row-major [ids, label_columns]
  int64_t label_columns = 1;
};

// Collective: every rank contributes its rows; written atomically.
void write_predictions(const std::string& path, const dist::Comm& comm, const Predictions& p);

// `relfm inspect` summary (rank-local printing).
void inspect_predictions(const h5::File& f);

}  // namespace relfm
