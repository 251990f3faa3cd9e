// Reference paged attention: per (query token, head) scores over the visible keys, a max-shifted
// softmax in f32 with an f64 sum, and the weighted sum of values.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/ref/ref_kernels.h"

namespace cachet::kernels::ref {
namespace {


void OneHead(const AttentionParams& p, int64_t t, int64_t h, std::vector<float>& sc) {
  const int64_t kvh = h / (p.n_heads / p.n_kv_heads);
  const float* q = p.q + t * p.q_stride + h * p.head_dim;
  float* o = p.out + t * p.out_stride + h * p.head_dim_v;
  const int64_t nk = std::min<int64_t>(static_cast<int64_t>(p.q_pos[t]) + 1, p.n_kv);
  if (nk <= 0) {
    std::fill(o, o + p.head_dim_v, 0.0f);
    return;
  }
  sc.resize(nk);
  float mx = -INFINITY;
  for (int64_t j = 0; j < nk; ++j) {
    const void* k = AttentionKvRow(p, p.k_blocks, j, kvh, p.head_dim, false);
    double s = 0;
    for (int64_t d = 0; d < p.head_dim; ++d)
      s += static_cast<double>(q[d]) * KvLoad(p.kv_type, k, d);
    sc[j] = static_cast<float>(s) * p.scale;
    mx = std::max(mx, sc[j]);
  }
  double sum = 0;
  for (float& s : sc) {
    s = std::exp(s - mx);
    sum += s;
  }
  std::vector<double> acc(p.head_dim_v, 0.0);
  for (int64_t j = 0; j < nk; ++j) {
    const void* v = AttentionKvRow(p, p.v_blocks, j, kvh, p.head_dim_v, true);
    for (int64_t d = 0; d < p.head_dim_v; ++d) acc[d] += sc[j] * KvLoad(p.kv_type, v, d);
  }
  for (int64_t d = 0; d < p.head_dim_v; ++d) o[d] = static_cast<float>(acc[d] / sum);
}

}  // namespace

void Attention(const AttentionParams& p, ThreadPool* pool) {
  ParallelRange(pool, p.n_q * p.n_heads, 4, [&](int64_t i0, int64_t i1) {
    std::vector<float> sc;
    for (int64_t i = i0; i < i1; ++i) OneHead(p, i / p.n_heads, i % p.n_heads, sc);
  });
}

}  // namespace cachet::kernels::ref
