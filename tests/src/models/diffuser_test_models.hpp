// A small Diffuser encoder and attention pattern shared by the encoder's unit tests and the
// sequence-parallel MPI tests.
#pragma once

#include "src/models/diffuser_encoder.hpp"

#include <span>
#include <vector>

namespace relfm::testing {

inline DiffuserEncoderConfig small_encoder_config() {
  DiffuserEncoderConfig c;
  c.vocab = 17;  // ListOps' 16 and a CLS token
  c.dim = 8;
  c.heads = 2;
  c.ffn = 12;
  c.layers = 2;
  c.max_length = 16;
  c.dropout = 0.0;
  c.diffusion.hops = 3;
  c.diffusion.alpha = 0.2;
  return c;
}

inline AttentionGraphConfig small_graph_config() {
  AttentionGraphConfig g;
  g.block = 4;
  g.stride = 2;
  g.num_global = 1;
  g.num_random = 2;
  g.random_mode = "fixed";
  return g;
}

inline SequenceBatch batch_of(const std::vector<std::vector<int32_t>>& seqs, AttentionGraphCache* cache) {
  std::vector<std::span<const int32_t>> spans;
  for (const auto& s : seqs) spans.emplace_back(s);
  return make_sequence_batch(spans, cache);
}

}  // namespace relfm::testing
