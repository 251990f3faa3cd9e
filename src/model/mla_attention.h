// Multi-head latent attention over the compressed cache (../shared/specs/deepseek.md A.5).
//
// The cache holds, per token and layer, one row K(t) = [c(t) (r_kv, after kv_a_norm) ; kr(t)
// (r, after RoPE)] (KvLayout: n_kv_heads 1, head_dim_k r_kv + r, head_dim_v 0). Two ways to
// attend over it, mathematically identical:
//  * absorbed (A.5.2): queries are pre-multiplied by W_UK (Q_h = [Kb_h qn_h ; qr_h]), attention
//    is MQA over the latent rows directly, the output is o_bar_h = sum_t a_h(t) c(t) and W_UV is
//    applied afterwards. Reads r_kv + r values per cached token: the decode path.
//  * expanded (A.5.3): K and V are decompressed per head for all cached tokens of the chunk and
//    ordinary MHA runs over them. Fewer flops per (query, key) pair: long prefill chunks.
// MlaUseExpanded() picks between them from the shape alone.
//
// This file holds the absorbed attention core: dense attention runs on the kernel table's
// attention entry (MQA over the latent rows: K = the whole row, V = its first r_kv values);
// sparse (deepseek32 top-k) attention is scalar here. Thread-safety: reentrant; work is split
// over the pool.
#pragma once

#include <cstdint>
#include <functional>

#include "base/thread_pool.h"
#include "kernels/kernels.h"
#include "tensor/dtype.h"

namespace cachet::model {

struct MlaAttentionParams {
  const float* q;             // [n_q, n_heads, r_kv + r] absorbed queries, token stride q_stride
  float* out;                 // [n_q, n_heads, r_kv] latent outputs o_bar, token stride out_stride
  const int32_t* q_pos;       // [n_q] absolute positions (keys 0..q_pos[t] are visible)
  const void* const* blocks;  // [ceil(n_kv / block_tokens)] each [block_tokens, r_kv + r]
  DType kv_type = DType::kF16;  // f32, f16 or bf16
  int64_t n_q = 0;
  int64_t n_kv = 0;  // valid cached tokens
  int64_t block_tokens = 64;
  int64_t n_heads = 0;
  int64_t kv_lora_rank = 0;  // r_kv
  int64_t rope_dim = 0;      // r
  int64_t q_stride = 0;
  int64_t out_stride = 0;
  float scale = 1.0f;  // sigma = mscale^2 / sqrt(d_qk), NOT 1/sqrt(r_kv + r)
  // Sparse attention (deepseek32): query t attends only to positions sel[t * sel_stride + i],
  // i < n_sel[t] (ascending, each <= q_pos[t]); n_sel[t] < 0 or sel == nullptr: all visible.
  const int32_t* sel = nullptr;
  const int32_t* n_sel = nullptr;
  int64_t sel_stride = 0;
};

// out[t][h] = sum_{j <= q_pos[t]} softmax_j(scale * q[t][h] . K(j)) c(j). Dense: k.attention
// (its accuracy contract; batch-invariant per query). Sparse: softmax in f32 with a max shift
// and an f64 denominator over the selected rows, converted to f32 once per call.
void MlaAttention(const kernels::KernelTable& k, const MlaAttentionParams& p, ThreadPool* pool);

struct MlaDims {
  int64_t n_heads = 0, kv_lora_rank = 0, rope_dim = 0, qk_nope_dim = 0, v_head_dim = 0;
};

// Upper bound on the decompressed K/V of one expanded chunk: n_kv * n_heads * (d_qk + d_v)
// floats (256 MiB). Longer contexts use the absorbed path (no tiling of the expanded path yet).
constexpr int64_t kMlaMaxExpandedFloats = int64_t{64} << 20;

// True when the expanded path costs fewer multiply-adds than the absorbed one for a chunk of
// n_q query tokens whose cache holds n_kv tokens after the chunk (so n_kv >= n_q); per head,
// with v = n_kv - n_q/2 the average visible keys of a causal chunk:
//   absorbed: n_q * v * (2 r_kv + r) + n_q * r_kv * (d_nope + d_v)      (absorb q, apply W_UV)
//   expanded: n_kv * r_kv * (d_nope + d_v) + n_q * v * (d_qk + d_v)      (decompress K, V)
// and the decompressed chunk fits kMlaMaxExpandedFloats. Decode (n_q = 1) is always absorbed;
// with a long history the cross-over is n_q ~ r_kv (d_nope + d_v) / (2 r_kv + r - d_qk - d_v)
// (171 for DeepSeek's 512/64/128/128).
bool MlaUseExpanded(const MlaDims& d, int64_t n_q, int64_t n_kv);

// Converts n cache values of type t (f32, f16, bf16) to f32, and back (round to nearest even).
void MlaLoadRow(DType t, const void* src, float* dst, int64_t n);
void MlaStoreRow(DType t, const float* src, void* dst, int64_t n);

}  // namespace cachet::model
