#include "model/dsa_indexer.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "model/mla_attention.h"

namespace cachet::model {

void IndexerSelect(const IndexerParams& p, ThreadPool* pool) {
  const int64_t D = p.head_dim, esize = p.kv_type == DType::kF32 ? 4 : 2;
  int64_t n_vis = 0;
  for (int64_t t = 0; t < p.n_q; ++t) n_vis = std::max<int64_t>(n_vis, p.q_pos[t] + 1);
  n_vis = std::min(n_vis, p.n_kv);
  std::vector<float> keys;
  if (n_vis > p.top_k) {  // otherwise every query is dense and no key is read
    keys.resize(n_vis * D);
    for (int64_t j = 0; j < n_vis; ++j) {
      const auto* blk = static_cast<const uint8_t*>(p.blocks[j / p.block_tokens]);
      MlaLoadRow(p.kv_type, blk + (j % p.block_tokens) * D * esize, keys.data() + j * D, D);
    }
  }
  auto one = [&](int64_t t, std::vector<float>& score, std::vector<int32_t>& idx) {
    const int64_t nv = std::min<int64_t>(p.q_pos[t] + 1, p.n_kv);
    if (nv <= p.top_k) {
      p.n_sel[t] = -1;
      return;
    }
    score.assign(nv, 0.0f);
    for (int64_t h = 0; h < p.n_heads; ++h) {
      const float* q = p.q + (t * p.n_heads + h) * D;
      const float wh = p.w[t * p.n_heads + h];
      for (int64_t j = 0; j < nv; ++j) {
        const float* k = keys.data() + j * D;
        float dot = 0;
        for (int64_t i = 0; i < D; ++i) dot += q[i] * k[i];
        score[j] += wh * std::max(dot, 0.0f);
      }
    }
    idx.resize(nv);
    std::iota(idx.begin(), idx.end(), 0);
    std::partial_sort(idx.begin(), idx.begin() + p.top_k, idx.end(), [&](int32_t a, int32_t b) {
      return score[a] > score[b] || (score[a] == score[b] && a < b);
    });
    std::sort(idx.begin(), idx.begin() + p.top_k);
    std::copy_n(idx.begin(), p.top_k, p.sel + t * p.top_k);
    p.n_sel[t] = static_cast<int32_t>(p.top_k);
  };
  auto body = [&](int64_t t0, int64_t t1) {
    std::vector<float> score;
    std::vector<int32_t> idx;
    for (int64_t t = t0; t < t1; ++t) one(t, score, idx);
  };
  if (pool == nullptr || pool->size() <= 1 || p.n_q <= 1) {
    body(0, p.n_q);
  } else {
    pool->ParallelFor(p.n_q, 1, body);
  }
}

void LayerNormRows(const float* x, const float* g, const float* b, float* y, int64_t n_rows,
                   int64_t n, float eps) {
  for (int64_t r = 0; r < n_rows; ++r) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    double mean = 0, var = 0;
    for (int64_t i = 0; i < n; ++i) mean += xr[i];
    mean /= n;
    for (int64_t i = 0; i < n; ++i) var += (xr[i] - mean) * (xr[i] - mean);
    const double inv = 1.0 / std::sqrt(var / n + eps);
    for (int64_t i = 0; i < n; ++i) yr[i] = static_cast<float>((xr[i] - mean) * inv) * g[i] + b[i];
  }
}

}  // namespace cachet::model
