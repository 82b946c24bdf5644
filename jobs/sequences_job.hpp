// `relfm sequences`: a sequence shard (io/sequences.hpp) for the Diffuser job, from one of
//   --listops       LRA's ListOps, generated deterministically from --seed (src/seq/listops.hpp), by default
//                   96,000 / 2,000 / 2,000 sequences of 501-1999 tokens, as LRA's release;
//   --lra-dir DIR   LRA's released ListOps files DIR/basic_{train,val,test}.tsv;
//   --text-tsv T,V,E  byte-level text classification from three "label<TAB>text" files.
#pragma once

#include "dist/comm.hpp"

#include <string>
#include <vector>

namespace relfm::jobs {

struct SequencesOptions {
  bool listops = false;
  std::string lra_dir;
  std::vector<std::string> text_tsv;  // train, valid, test
  std::string out;
  uint64_t seed = 0;
  int64_t train = 96000, valid = 2000, test = 2000;
  int64_t min_length = 500, max_length = 2000, max_depth = 10, max_args = 10;  // ListOps generator (lengths exclusive)
  int64_t max_tokens = 4096;  // readers: longest sequence kept
  bool truncate = false;      // readers: cut longer sequences instead of failing
  bool quiet = false;
};

int run_sequences(const dist::Comm& comm, const SequencesOptions& options);

}  // namespace relfm::jobs
