// Diffuser's attention (research/diffuser.md §1.4, as the official code runs it): per head, scores on the
// edges of a sparse pattern, softmax over each query's keys, then K hops of personalised-PageRank
// diffusion of the values,
//   A = softmax_per_query(q_h . k_h)   (attention dropout on A),
//   Z_0 = V,  Z_{t+1} = dropout((1 - alpha) A Z_t + alpha V),  output Z_K.
// q arrives scaled (1 / sqrt(d_head)) and already projected; every hop is differentiated exactly (the
// tape keeps Z_0 .. Z_{K-1}: memory O(E H + K L d), never L^2).
#pragma once

#include "src/core/rng.hpp"
#include "src/tensor/ops.hpp"

namespace relfm {

struct DiffusionConfig {
  int64_t hops = 5;        // K (official 5)
  double alpha = 0.1;      // teleport (official 0.1)
  double attention_dropout = 0.0;  // on A (official 0.1)
  double hop_dropout = 0.0;        // on every Z_t (official 0.1, not in the paper's equation)
};
// InputError naming the key (`key_prefix` + name) for a value out of range.
void validate_diffusion_config(const DiffusionConfig& config, const std::string& key_prefix = "attention.");

// A pattern by query with its transpose and its dense tiles (both optional: backward passes then gather
// instead of scatter, and the tiles run as matrix products).
struct AttentionPattern {
  CsrPtr by_query;
  CsrTransposePtr by_key;
  EdgeTilesPtr tiles;
};

// The K hops on fixed weights A (nnz x H over the pattern) from V (L x d, H heads).
template <typename T>
Var<T> diffuse(const AttentionPattern& pattern, Var<T> a, Var<T> v, const DiffusionConfig& config,
               const CounterRng& dropout_rng, bool training);

// Scores, softmax and diffusion: the whole attention core of one layer (heads = H).
// `weights`, when given, receives A (nnz x H, before attention dropout) for diagnostics.
template <typename T>
Var<T> diffuser_attention(const AttentionPattern& pattern, Var<T> q, Var<T> k, Var<T> v, int64_t heads,
                          const DiffusionConfig& config, const CounterRng& dropout_rng, bool training,
                          Mat<T>* weights = nullptr);

// Row `query` of the diffused operator sum_t c_t A^t that the K hops apply (c_t = alpha (1 - alpha)^t for
// t < K, (1 - alpha)^K for t = K; dropout aside), for head `head` of the edge weights a (nnz x H over
// `pattern`): how much of the query's attention each token receives after diffusion (a dense row of L).
std::vector<double> diffused_attention_row(const Csr& pattern, const MatF& a, int64_t head, int64_t query,
                                           const DiffusionConfig& config);
// The share of that row outside the query's own keys: the attention that arrives from beyond one hop.
double attention_beyond_one_hop(const Csr& pattern, const MatF& a, int64_t head, int64_t query, const DiffusionConfig& config);

}  // namespace relfm
