// DeepSeek Sparse Attention's lightning indexer (../shared/specs/deepseek.md B.2): for every
// query token, the top_k cached positions by
//   score(t) = sum_h w[h] * ReLU(q[h] . kI(t))          (t <= query position)
// The MLA attention of that token then reads only those positions (MlaAttentionParams::sel).
//
// Thread-safety: reentrant; work is split over the pool by query token.
#pragma once

#include <cstdint>

#include "base/thread_pool.h"
#include "tensor/dtype.h"

namespace cachet::model {

struct IndexerParams {
  const float* q;             // [n_q, n_heads, head_dim] indexer queries (roped), contiguous
  const float* w;             // [n_q, n_heads] head weights, already / sqrt(head_dim * n_heads)
  const int32_t* q_pos;       // [n_q]
  const void* const* blocks;  // [ceil(n_kv / block_tokens)] each [block_tokens, head_dim] keys
  DType kv_type = DType::kF16;
  int64_t n_q = 0, n_kv = 0, block_tokens = 64, n_heads = 0, head_dim = 0;
  int64_t top_k = 0;
  int32_t* sel;    // [n_q, top_k] out: selected positions, ascending
  int32_t* n_sel;  // [n_q] out: number selected, or -1 when all visible keys fit (dense)
};

// Fills sel / n_sel. Ties in score go to the lower position.
void IndexerSelect(const IndexerParams& p, ThreadPool* pool);

// y = LayerNorm(x) * g + b over rows of n (mean-centred, eps inside the sqrt), in place allowed.
void LayerNormRows(const float* x, const float* g, const float* b, float* y, int64_t n_rows,
                   int64_t n, float eps);

}  // namespace cachet::model
