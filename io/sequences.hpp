// Sequence shards: token sequences with one class label each, in train / valid / test splits, for the
// Diffuser job. Written by `relfm sequences` (ListOps generated from a seed, or LRA's released TSV files,
// or a byte-level text TSV); read whole by every rank.
//
// Layout (format "relfm.sequences", format_version 1):
//   /                     attributes: format, format_version, dataset (e.g. "listops"), vocab_size,
//                         num_classes, max_length (longest sequence), source (how it was made: generator
//                         and seed, or the files read), created_by
//   /<split>/tokens       int32 [T]      every sequence's token ids, concatenated (split = train, valid, test)
//   /<split>/offsets      int64 [N + 1]  sequence i is tokens[offsets[i], offsets[i + 1])
//   /<split>/labels       int32 [N]      its class in [0, num_classes)
#pragma once

#include "dist/comm.hpp"
#include "src/seq/sequence_set.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace relfm {

inline constexpr const char* kSequencesFormat = "relfm.sequences";
inline constexpr int64_t kSequencesFormatVersion = 1;

struct SequenceShard {
  std::string dataset;
  int64_t vocab_size = 0;
  int64_t num_classes = 0;
  std::string source;
  SequenceSet train, valid, test;
};

// Collective. Checks every token against vocab_size and every label against num_classes first (InputError
// naming the split and sequence), then writes atomically (no half-written file on failure).
void write_sequence_shard(const std::string& path, const dist::Comm& comm, const SequenceShard& shard);
// Collective; InputError naming the file for a wrong format or inconsistent offsets, tokens or labels.
SequenceShard read_sequence_shard(const std::string& path, const dist::Comm& comm);

namespace h5 {
class File;
}
void inspect_sequences(const h5::File& f);

}  // namespace relfm
