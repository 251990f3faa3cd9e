// deepseek4 attention over one sequence's Ds4Cache (deepseek.md C.5-C.8): the compressors that
// turn per-token (a, z) rows into compressed entries, the lightning indexer's top-k over CSA
// entries, and the sink attention over the raw window plus the compressed entries, with the
// output de-rotation. Scalar f32 code with f64 sums; the projections around it are matmuls in
// arch/deepseek4.cc.
//
// Thread-safety: functions write only the given cache and output rows; Ds4Attend splits its
// queries over the pool (the cache is only read there).
#pragma once

#include <cstdint>

#include "base/thread_pool.h"
#include "model/ds4_cache.h"

namespace cachet::model {

struct Ds4LayerParams {
  int64_t layer = 0, ratio = 0;  // ratio 0 / 4 / 128
  int64_t D = 0, r = 0, H = 0;   // head dim (K = V), rope dims (last r), heads
  int64_t n_swa = 0;
  int64_t idx_heads = 0, idx_dim = 0, idx_top_k = 0;  // CSA only
  float norm_eps = 1e-6f;
  float scale = 0;                   // 1 / sqrt(D)
  const float* inv_freq = nullptr;   // [r/2] the layer's RoPE regime
  const float* sinks = nullptr;      // [H]
  const float* ape = nullptr;        // [ratio, kappa*D] main compressor bias per in-block offset
  const float* cnorm = nullptr;      // [D] main compressor RMSNorm weight
  const float* idx_ape = nullptr;    // [4, 2*d_I] (CSA)
  const float* idx_cnorm = nullptr;  // [d_I] (CSA)
};

// Rotates the last r values of v [D] by position pos (NORM pairs); inverse = rotation by -theta.
void Ds4RopeLast(float* v, int64_t D, int64_t r, const float* inv_freq, int64_t pos,
                 bool inverse = false);

// Feeds positions start .. start+n-1 to the layer's compressors: a / z [n, kappa*D] (main,
// before the ape bias), ai / zi [n, 2*d_I] (indexer, CSA only; else nullptr). Every block
// completed by these tokens becomes an entry (pooled, RMSNormed, roped at its first position,
// rounded to the cache type). The cache must be reserved for start + n positions.
void Ds4Compress(const Ds4LayerParams& p, Ds4Cache* c, int64_t start, int64_t n, const float* a,
                 const float* z, const float* ai, const float* zi);

// Attention of the n queries at positions start.. (after Ds4Compress of the same tokens):
// q [n, H*D] (per-head normalised, roped), kv [n, D] the chunk's own kv vectors (roped, already
// rounded to the cache type), qi [n, H_I*d_I] (roped) and wi [n, H_I] the indexer's queries and
// head weights (CSA only). Writes out [n, H*D] (de-roped), then stores the chunk's last n_swa kv
// rows in the raw ring. `sel` (may be nullptr) receives each query's selected CSA entries
// [n, top_k] (-1 padded) for tests.
void Ds4Attend(const Ds4LayerParams& p, Ds4Cache* c, int64_t start, int64_t n, const float* q,
               const float* kv, const float* qi, const float* wi, float* out, ThreadPool* pool,
               int32_t* sel = nullptr);

}  // namespace cachet::model
