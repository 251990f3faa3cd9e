#include "model/mla_attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace cachet::model {
namespace {

void Run(ThreadPool* pool, int64_t n, int64_t grain,
         const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  if (pool == nullptr || pool->size() <= 1 || n <= grain) {
    fn(0, n);
    return;
  }
  pool->ParallelFor(n, grain, fn);
}

// Eight independent partial sums so the compiler can keep them in one vector register.
float Dot(const float* a, const float* b, int64_t n) {
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) s[j] += a[i + j] * b[i + j];
  }
  for (; i < n; ++i) s[0] += a[i] * b[i];
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

void OneHead(const MlaAttentionParams& p, const float* kv, int64_t t, int64_t h,
             std::vector<float>& sc) {
  const int64_t dk = p.kv_lora_rank + p.rope_dim;
  const float* q = p.q + t * p.q_stride + h * dk;
  float* o = p.out + t * p.out_stride + h * p.kv_lora_rank;
  const bool sparse = p.sel != nullptr && p.n_sel[t] >= 0;
  const int32_t* rows = sparse ? p.sel + t * p.sel_stride : nullptr;
  const int64_t nk =
      sparse ? p.n_sel[t] : std::min<int64_t>(static_cast<int64_t>(p.q_pos[t]) + 1, p.n_kv);
  std::fill(o, o + p.kv_lora_rank, 0.0f);
  if (nk <= 0) return;
  sc.resize(nk);
  float mx = -INFINITY;
  for (int64_t j = 0; j < nk; ++j) {
    sc[j] = Dot(q, kv + (sparse ? rows[j] : j) * dk, dk) * p.scale;
    mx = std::max(mx, sc[j]);
  }
  double sum = 0;
  for (int64_t j = 0; j < nk; ++j) {
    sc[j] = std::exp(sc[j] - mx);
    sum += sc[j];
  }
  for (int64_t j = 0; j < nk; ++j) {
    const float w = sc[j];
    const float* c = kv + (sparse ? rows[j] : j) * dk;
    for (int64_t d = 0; d < p.kv_lora_rank; ++d) o[d] += w * c[d];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t d = 0; d < p.kv_lora_rank; ++d) o[d] *= inv;
}

// Dense attention as MQA on the kernel table: one KV "head" whose K row is the latent row and
// whose V is its first r_kv values.
void DenseOnTable(const kernels::KernelTable& k, const MlaAttentionParams& p, ThreadPool* pool) {
  const int64_t dk = p.kv_lora_rank + p.rope_dim;
  kernels::AttentionParams ap;
  ap.q = p.q;
  ap.out = p.out;
  ap.q_pos = p.q_pos;
  ap.k_blocks = p.blocks;
  ap.v_blocks = p.blocks;
  ap.kv_type = p.kv_type;
  ap.n_q = p.n_q;
  ap.n_kv = p.n_kv;
  ap.block_tokens = p.block_tokens;
  ap.n_heads = p.n_heads;
  ap.n_kv_heads = 1;
  ap.head_dim = dk;
  ap.head_dim_v = p.kv_lora_rank;
  ap.q_stride = p.q_stride;
  ap.out_stride = p.out_stride;
  ap.scale = p.scale;
  ap.k_row_stride = dk;
  ap.v_row_stride = dk;
  k.attention(ap, pool);
}

}  // namespace

void MlaAttention(const kernels::KernelTable& k, const MlaAttentionParams& p, ThreadPool* pool) {
  if (p.sel == nullptr) return DenseOnTable(k, p, pool);
  const int64_t dk = p.kv_lora_rank + p.rope_dim;
  int64_t n_vis = 0;
  for (int64_t t = 0; t < p.n_q; ++t) n_vis = std::max<int64_t>(n_vis, p.q_pos[t] + 1);
  n_vis = std::min(n_vis, p.n_kv);
  // One f32 copy of the visible rows, shared by all heads (MQA: one latent "head").
  thread_local std::vector<float> kv;
  if (static_cast<int64_t>(kv.size()) < n_vis * dk) kv.resize(n_vis * dk);
  const int64_t esize = p.kv_type == DType::kF32 ? 4 : 2;
  float* kvp = kv.data();
  Run(pool, n_vis, 256, [&](int64_t j0, int64_t j1) {
    for (int64_t j = j0; j < j1; ++j) {
      const auto* blk = static_cast<const uint8_t*>(p.blocks[j / p.block_tokens]);
      MlaLoadRow(p.kv_type, blk + (j % p.block_tokens) * dk * esize, kvp + j * dk, dk);
    }
  });
  Run(pool, p.n_q * p.n_heads, 1, [&](int64_t i0, int64_t i1) {
    std::vector<float> sc;
    for (int64_t i = i0; i < i1; ++i) OneHead(p, kvp, i / p.n_heads, i % p.n_heads, sc);
  });
}

void MlaLoadRow(DType t, const void* src, float* dst, int64_t n) {
  if (t == DType::kF32) {
    std::copy_n(static_cast<const float*>(src), n, dst);
  } else if (t == DType::kF16) {
    const auto* s = static_cast<const f16_t*>(src);
    for (int64_t i = 0; i < n; ++i) dst[i] = F16ToF32(s[i]);
  } else {
    const auto* s = static_cast<const bf16_t*>(src);
    for (int64_t i = 0; i < n; ++i) dst[i] = BF16ToF32(s[i]);
  }
}

void MlaStoreRow(DType t, const float* src, void* dst, int64_t n) {
  if (t == DType::kF32) {
    std::copy_n(src, n, static_cast<float*>(dst));
  } else if (t == DType::kF16) {
    auto* d = static_cast<f16_t*>(dst);
    for (int64_t i = 0; i < n; ++i) d[i] = F32ToF16(src[i]);
  } else {
    auto* d = static_cast<bf16_t*>(dst);
    for (int64_t i = 0; i < n; ++i) d[i] = F32ToBF16(src[i]);
  }
}

bool MlaUseExpanded(const MlaDims& d, int64_t n_q, int64_t n_kv) {
  if (n_q <= 1) return false;
  const int64_t d_qk = d.qk_nope_dim + d.rope_dim;
  if (n_kv * d.n_heads * (d_qk + d.v_head_dim) > kMlaMaxExpandedFloats) return false;
  const double v = static_cast<double>(n_kv) - 0.5 * static_cast<double>(n_q);
  const double proj = static_cast<double>(d.kv_lora_rank) * (d.qk_nope_dim + d.v_head_dim);
  const double absorbed = n_q * v * (2.0 * d.kv_lora_rank + d.rope_dim) + n_q * proj;
  const double expanded = n_kv * proj + n_q * v * (d_qk + d.v_head_dim);
  return expanded < absorbed;
}

}  // namespace cachet::model
