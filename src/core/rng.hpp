// Counter-based random numbers. Every random choice in relfm is a pure function of
// (seed, purpose, stream, index): no generator state advances, so results do not depend on thread
// timing, on how work is split across ranks, or on whether a run was stopped and resumed.
// The generator is Random123's Philox4x32-10; one call yields four 32-bit words.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace relfm {

// What a random stream is used for. Values are part of the on-disk reproducibility contract: never
// renumber an existing entry.
enum class RngPurpose : uint32_t {
  kInit = 1,        // parameter initialisation (stream = hash of the parameter name)
  kShuffle = 2,     // training order (stream = epoch)
  kDropout = 3,     // dropout masks (stream = step, layer and rank mixed by CounterRng::derive)
  kPartition = 4,   // METIS seed and tie-breaks
  kSplit = 5,       // random data splits
  kSampler = 6,     // graph samplers (random walks)
  kAugment = 7,     // data augmentations (stream = step, then instance)
  kAttentionGraph = 8,  // Diffuser's random edges and global tokens (stream = part, then query)
  kGenerate = 9,    // generated data sets (ListOps: stream = attempt)
  kLlmJitter = 10,  // retry delays of the LLM client (never reaches a result)
  kTest = 100,      // tests only
};

class CounterRng {
 public:
  CounterRng(uint64_t seed, RngPurpose purpose, uint64_t stream = 0);

  // A generator for a sub-stream; derive(a).derive(b) differs from derive(b).derive(a).
  CounterRng derive(uint64_t sub_stream) const;

  // The four words of block `block`.
  void block(uint64_t block, uint32_t out[4]) const;
  // The same key on another stream: with_stream(s).block(b) is block b of stream s. Many independent
  // streams under one key (one per random walker) can then be computed 16 at a time by blocks16.
  CounterRng with_stream(uint64_t stream) const { return CounterRng(key_, stream, true); }
  // out[w][i] = word w of with_stream(streams[i]).block(blocks[i]), for 16 lanes at once (vector code,
  // about ten times the rate of 16 block() calls).
  void blocks16(const uint64_t blocks[16], const uint64_t streams[16], uint32_t out[4][16]) const;
  uint32_t u32(uint64_t index) const;
  uint64_t u64(uint64_t index) const;
  // Uniform in [0, 1) with 24 random bits (float) or 53 (double).
  float uniform_float(uint64_t index) const;
  double uniform_double(uint64_t index) const;
  // Uniform integer in [0, n), n > 0, unbiased (Lemire's multiply-shift with rejection).
  uint64_t below(uint64_t index, uint64_t n) const;
  // out[i] = uniform_float(first + i), generated four at a time.
  void fill_uniform(std::span<float> out, uint64_t first = 0) const;
  // Standard normal (Box-Muller on two uniforms); index-addressable like the others.
  double normal(uint64_t index) const;

  uint64_t key() const { return key_; }
  uint64_t stream() const { return stream_; }

 private:
  CounterRng(uint64_t key, uint64_t stream, bool) : key_(key), stream_(stream) {}
  uint64_t key_;
  uint64_t stream_;
};

// A uniformly random permutation of 0..n-1 (Fisher-Yates driven by rng indices 0..n-2).
std::vector<int64_t> random_permutation(const CounterRng& rng, int64_t n);

// SplitMix64 finaliser, used to mix seeds and names into keys.
uint64_t mix64(uint64_t x);
uint64_t hash_string(std::string_view s);

}  // namespace relfm
