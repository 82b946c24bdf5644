#include "src/models/diffuser_attention.hpp"

#include "src/tensor/dual.hpp"

namespace relfm {

void validate_diffusion_config(const DiffusionConfig& c, const std::string& key_prefix) {
  if (c.hops < 1) fail_input("{}hops must be at least 1, got {}", key_prefix, c.hops);
  if (!(c.alpha >= 0.0 && c.alpha <= 1.0)) fail_input("{}alpha must be in [0, 1], got {}", key_prefix, c.alpha);
  if (!(c.attention_dropout >= 0.0 && c.attention_dropout < 1.0))
    fail_input("{}attention_dropout must be in [0, 1), got {}", key_prefix, c.attention_dropout);
  if (!(c.hop_dropout >= 0.0 && c.hop_dropout < 1.0))
    fail_input("{}hop_dropout must be in [0, 1), got {}", key_prefix, c.hop_dropout);
}

template <typename T>
Var<T> diffuse(const AttentionPattern& pattern, Var<T> a, Var<T> v, const DiffusionConfig& config,
               const CounterRng& dropout_rng, bool training) {
  validate_diffusion_config(config);
  const T keep = T(1.0 - config.alpha), teleport = T(config.alpha);
  Var<T> z = v;
  // alpha V is the same in every hop: computed once.
  Var<T> restart = config.alpha > 0.0 ? scale(v, teleport) : Var<T>();
  for (int64_t t = 0; t < config.hops; ++t) {
    Var<T> spread = spmm(pattern.by_query, a, z, pattern.by_key);
    z = restart ? add(scale(spread, keep), restart) : spread;
    if (config.hop_dropout > 0.0) z = dropout(z, config.hop_dropout, dropout_rng.derive(static_cast<uint64_t>(t) + 1), training);
  }
  return z;
}

template <typename T>
Var<T> diffuser_attention(const AttentionPattern& pattern, Var<T> q, Var<T> k, Var<T> v, int64_t heads,
                          const DiffusionConfig& config, const CounterRng& dropout_rng, bool training) {
  Var<T> a = edge_softmax(pattern.by_query, sddmm(pattern.by_query, q, k, heads, pattern.by_key));
  if (config.attention_dropout > 0.0) a = dropout(a, config.attention_dropout, dropout_rng.derive(0), training);
  return diffuse(pattern, a, v, config, dropout_rng, training);
}

#define RELFM_INSTANTIATE_DIFFUSER(T)                                                                        \
  template Var<T> diffuse<T>(const AttentionPattern&, Var<T>, Var<T>, const DiffusionConfig&, const CounterRng&, bool); \
  template Var<T> diffuser_attention<T>(const AttentionPattern&, Var<T>, Var<T>, Var<T>, int64_t, const DiffusionConfig&, \
                                        const CounterRng&, bool);

RELFM_INSTANTIATE_DIFFUSER(float)
RELFM_INSTANTIATE_DIFFUSER(double)
RELFM_INSTANTIATE_DIFFUSER(Dual<double>)

}  // namespace relfm
