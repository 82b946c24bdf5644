// Mini-batches written for other frameworks by `relfm sample` (format "relfm.batches", format_version 1):
//   /                     attributes: format, format_version, sampler (kind), num_instances, batch_size,
//                         epochs, seed, candidates, neighbours, restart, epoch_mode, source (the
//                         embeddings file and dataset), build_seconds, sample_seconds
//   /offsets              int64 [B + 1]  batch b holds /instances[offsets[b] : offsets[b+1]]
//   /instances            int64 [sum]    instance ids (rows of the embeddings), in the order drawn
//   /epoch                int64 [B]      the epoch (0-based) of each batch
//   /from_graph           int64 [B]      1: drawn from the graph; 0: a uniform or leftover batch
//   /mean_cosine          float64 [B]    mean cosine over the batch's pairs (the embeddings given)
//   /same_label_share     float64 [B]    share of the batch's pairs with equal labels (only with labels)
//   /visits               int64 [N]      batches each instance is in, over all epochs
//   /neighbours           int32 [N, K]   the proximity graph's out-neighbours (only with --write-graph)
// The batches of an epoch, in order, are what one pass over the data should train on.
#pragma once

#include "io/h5.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace relfm {

inline constexpr const char* kBatchesFormat = "relfm.batches";
inline constexpr int64_t kBatchesFormatVersion = 1;

struct BatchesFile {
  std::map<std::string, std::string> text_attrs;
  std::map<std::string, int64_t> int_attrs;
  std::map<std::string, double> real_attrs;
  std::vector<int64_t> offsets{0}, instances, epoch, from_graph, visits;
  std::vector<double> mean_cosine, same_label_share;  // same_label_share empty without labels
  std::vector<int32_t> neighbours;                    // N x K row-major, or empty
  int64_t neighbour_columns = 0;
};

// Rank 0 writes (through a temporary and a rename); collective.
void write_batches_file(const std::string& path, const dist::Comm& comm, const BatchesFile& b);

// `relfm inspect`: the sampler and its settings, batch counts and sizes, hardness, visit spread.
void inspect_batches(const h5::File& f);

}  // namespace relfm
