#include "src/models/diffuser_attention.hpp"

#include "src/tensor/dual.hpp"

#include <algorithm>
#include <cmath>

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
  return ppr_diffusion(pattern.by_query, a, v, DiffusionHops{config.hops, config.alpha, config.hop_dropout}, dropout_rng, training,
                       pattern.by_key, pattern.tiles);
}

template <typename T>
Var<T> diffuser_attention(const AttentionPattern& pattern, Var<T> q, Var<T> k, Var<T> v, int64_t heads,
                          const DiffusionConfig& config, const CounterRng& dropout_rng, bool training, Mat<T>* weights) {
  Var<T> a = edge_softmax(pattern.by_query, sddmm(pattern.by_query, q, k, heads, pattern.by_key, pattern.tiles));
  if (weights) *weights = a.value();
  if (config.attention_dropout > 0.0) a = dropout(a, config.attention_dropout, dropout_rng.derive(0), training);
  return diffuse(pattern, a, v, config, dropout_rng, training);
}

std::vector<double> diffused_attention_row(const Csr& pattern, const MatF& a, int64_t head, int64_t query,
                                           const DiffusionConfig& config) {
  RELFM_CHECK(query >= 0 && query < pattern.num_rows && head >= 0 && head < a.cols() && a.rows() == pattern.nnz(),
              "diffused row: query {} of {}, head {} of {}", query, pattern.num_rows, head, a.cols());
  const auto n = static_cast<size_t>(pattern.num_cols);
  std::vector<double> row(n, 0.0), next(n), out(n, 0.0);
  row[static_cast<size_t>(query)] = 1.0;  // e_i^T A^0
  double weight = config.alpha;
  for (int64_t t = 0; t <= config.hops; ++t) {
    const double c = t < config.hops ? weight : std::pow(1.0 - config.alpha, static_cast<double>(config.hops));
    for (size_t j = 0; j < n; ++j) out[j] += c * row[j];
    if (t == config.hops) break;
    std::fill(next.begin(), next.end(), 0.0);  // e_i^T A^(t+1) = (e_i^T A^t) A
    for (int64_t m = 0; m < pattern.num_rows; ++m) {
      const double r = row[static_cast<size_t>(m)];
      if (r == 0.0) continue;
      for (int64_t e = pattern.row_ptr[m]; e < pattern.row_ptr[m + 1]; ++e)
        next[static_cast<size_t>(pattern.col[e])] += r * static_cast<double>(a(e, head));
    }
    row.swap(next);
    weight *= 1.0 - config.alpha;
  }
  return out;
}

double attention_beyond_one_hop(const Csr& pattern, const MatF& a, int64_t head, int64_t query, const DiffusionConfig& config) {
  const std::vector<double> row = diffused_attention_row(pattern, a, head, query, config);
  double total = 0.0, own = 0.0;
  for (double x : row) total += x;
  for (int64_t e = pattern.row_ptr[query]; e < pattern.row_ptr[query + 1]; ++e) own += row[static_cast<size_t>(pattern.col[e])];
  return total > 0.0 ? 1.0 - own / total : 0.0;
}

#define RELFM_INSTANTIATE_DIFFUSER(T)                                                                        \
  template Var<T> diffuse<T>(const AttentionPattern&, Var<T>, Var<T>, const DiffusionConfig&, const CounterRng&, bool); \
  template Var<T> diffuser_attention<T>(const AttentionPattern&, Var<T>, Var<T>, Var<T>, int64_t, const DiffusionConfig&, \
                                        const CounterRng&, bool, Mat<T>*);

RELFM_INSTANTIATE_DIFFUSER(float)
RELFM_INSTANTIATE_DIFFUSER(double)
RELFM_INSTANTIATE_DIFFUSER(Dual<double>)

}  // namespace relfm
