// AVX-512 causal attention over the paged KV cache (AttentionParams, kernels.h).
//
// Method: work items are (KV head, tile of query tokens); a tile holds the tile's tokens times
// the query heads that share the KV head (GQA), so each 16-key block of K and V is loaded and
// converted to f32 once per tile and reused by up to ~64 queries. K is transposed into
// [head_dim][16 keys], so one query's 16 scores come out of head_dim FMAs with no horizontal
// sums; softmax is online (running max and sum per query, the accumulator rescaled when the
// max grows), and the weighted sum of the 16 value rows goes into the query's accumulator.
//
// Determinism: every query walks the key blocks 0, 16, 32, ... of its own visible range with
// the same operations whatever tile, chunk or thread it lands in, so a query's output is
// bitwise the same computed alone (decode), in any prefill chunk, or on any thread count.
// Error vs the reference (two-pass softmax): f32 sums in another order, ~1e-6 relative.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/ref/ref_kernels.h"
#include "kernels/x86/avx512_math.h"
#include "kernels/x86/avx512_ops.h"

namespace cachet::kernels::x86 {
namespace {

constexpr int64_t kKeys = 16;          // keys per block (one zmm of scores)
constexpr int64_t kTileQueries = 64;   // queries per work item (tokens x heads of a KV head)
constexpr int64_t kPrefetchKeys = 32;  // keys ahead whose rows are prefetched

inline int64_t Pad16(int64_t n) { return (n + 15) / 16 * 16; }

struct Tile {
  // Per query of the tile.
  std::vector<const float*> q;
  std::vector<float*> out;
  std::vector<int64_t> nk;  // visible keys
  std::vector<float> m, l;  // running max and sum
  std::vector<float> acc;   // [queries][Pad16(head_dim_v)]
  // Per key block.
  std::vector<float> kt;          // [head_dim][16] transposed keys (zero beyond the block's keys)
  std::vector<float> vf;          // [16][Pad16(head_dim_v)]
  alignas(64) float p[4][kKeys];  // softmax weights of the block, per query of a group
};

// Transposes the 16 x 16 floats in r (r[i][j] <- r[j][i]): for s = 8, 4, 2, 1, rows a and
// a + s (bit s of a clear) swap the elements at positions with bit s set in a for those with
// it clear in a + s. Pure data movement, so the keys' values are exactly the scalar copy's.
struct TransposeIndex {
  alignas(64) int32_t a[4][16], b[4][16];  // level 0..3 = s 8, 4, 2, 1
  constexpr TransposeIndex() : a(), b() {
    for (int l = 0; l < 4; ++l) {
      const int s = 8 >> l;
      for (int i = 0; i < 16; ++i) {
        a[l][i] = (i & s) ? 16 + i - s : i;
        b[l][i] = (i & s) ? 16 + i : i + s;
      }
    }
  }
};
constexpr TransposeIndex kTransposeIndex;

inline void Transpose16(__m512 r[16]) {
#pragma GCC unroll 4
  for (int l = 0; l < 4; ++l) {
    const int s = 8 >> l;
    const __m512i xa = _mm512_load_si512(kTransposeIndex.a[l]);
    const __m512i xb = _mm512_load_si512(kTransposeIndex.b[l]);
#pragma GCC unroll 16
    for (int a = 0; a < 16; ++a) {
      if (a & s) continue;
      const __m512 na = _mm512_permutex2var_ps(r[a], xa, r[a + s]);
      const __m512 nb = _mm512_permutex2var_ps(r[a], xb, r[a + s]);
      r[a] = na;
      r[a + s] = nb;
    }
  }
}

// Converts keys j0..j0+nb-1 of KV head kvh into t->kt (transposed) and values into t->vf.
void LoadBlock(const AttentionParams& p, int64_t kvh, int64_t j0, int64_t nb, Tile* t) {
  const int64_t dk = p.head_dim, dv = p.head_dim_v, dvp = Pad16(dv);
  const void* krow[kKeys];
  for (int64_t j = 0; j < nb; ++j) krow[j] = AttentionKvRow(p, p.k_blocks, j0 + j, kvh, dk, false);
  for (int64_t d0 = 0; d0 < dk; d0 += 16) {
    // 16 keys x 16 dims, transposed in registers (keys beyond nb are zero).
    __m512 r[kKeys];
    for (int64_t j = 0; j < kKeys; ++j) {
      r[j] = j < nb ? LoadKv(p.kv_type, krow[j], d0, Mask(dk - d0)) : _mm512_setzero_ps();
    }
    Transpose16(r);
    for (int64_t d = d0; d < std::min(dk, d0 + 16); ++d)
      _mm512_storeu_ps(&t->kt[d * kKeys], r[d - d0]);
  }
  for (int64_t j = 0; j < nb; ++j) {
    const void* v = AttentionKvRow(p, p.v_blocks, j0 + j, kvh, dv, true);
    for (int64_t d = 0; d < dvp; d += 16) {
      _mm512_storeu_ps(&t->vf[j * dvp + d], LoadKv(p.kv_type, v, d, Mask(dv - d)));
    }
  }
}

// acc[i][c0 .. c0 + CN) = acc * corr[i] + sum_j p[i][j] * v[j][c0 .. c0 + CN) (16-float chunks)
// for the QN queries starting at i0; each value row chunk is loaded once for all of them.
template <int QN, int CN>
inline void Pv(Tile* t, int64_t i0, int64_t c0, int64_t valid, int64_t dvp, const float* corr) {
  __m512 a[QN][CN];
  for (int q = 0; q < QN; ++q) {
    const __m512 c = _mm512_set1_ps(corr[q]);
    for (int k = 0; k < CN; ++k) {
      a[q][k] = _mm512_mul_ps(_mm512_loadu_ps(&t->acc[(i0 + q) * dvp + 16 * (c0 + k)]), c);
    }
  }
  for (int64_t j = 0; j < valid; ++j) {
    for (int k = 0; k < CN; ++k) {
      const __m512 v = _mm512_loadu_ps(&t->vf[j * dvp + 16 * (c0 + k)]);
      for (int q = 0; q < QN; ++q)
        a[q][k] = _mm512_fmadd_ps(_mm512_set1_ps(t->p[q][j]), v, a[q][k]);
    }
  }
  for (int q = 0; q < QN; ++q) {
    for (int k = 0; k < CN; ++k) _mm512_storeu_ps(&t->acc[(i0 + q) * dvp + 16 * (c0 + k)], a[q][k]);
  }
}

// Folds key block [j0, j0 + 16) into the running softmax and accumulators of queries
// i0 .. i0 + QN - 1, which see the same keys. Each transposed key row is loaded once for all
// of them; every query's own arithmetic is the same as alone.
template <int QN>
void Update(const AttentionParams& p, int64_t i0, int64_t j0, Tile* t) {
  const int64_t dk = p.head_dim, dvp = Pad16(p.head_dim_v);
  const int64_t valid = std::min(kKeys, t->nk[i0] - j0);
  const __mmask16 mask = Mask(valid);
  __m512 s[QN];
  for (int q = 0; q < QN; ++q) s[q] = _mm512_setzero_ps();
  for (int64_t d = 0; d < dk; ++d) {
    const __m512 k = _mm512_loadu_ps(&t->kt[d * kKeys]);
    for (int q = 0; q < QN; ++q) s[q] = _mm512_fmadd_ps(_mm512_set1_ps(t->q[i0 + q][d]), k, s[q]);
  }
  float corr[QN];
  for (int q = 0; q < QN; ++q) {
    const int64_t i = i0 + q;
    const __m512 sc = _mm512_mask_mov_ps(_mm512_set1_ps(-INFINITY), mask,
                                         _mm512_mul_ps(s[q], _mm512_set1_ps(p.scale)));
    const float m_old = t->m[i];
    const float m_new = std::max(m_old, _mm512_reduce_max_ps(sc));
    corr[q] = std::exp(m_old - m_new);  // 0 for the first block (m_old = -inf)
    const __m512 e = _mm512_maskz_mov_ps(mask, Exp(_mm512_sub_ps(sc, _mm512_set1_ps(m_new))));
    t->l[i] = t->l[i] * corr[q] + _mm512_reduce_add_ps(e);
    t->m[i] = m_new;
    _mm512_store_ps(t->p[q], e);
  }
  int64_t c = 0;
  for (; c + 4 <= dvp / 16; c += 4) Pv<QN, 4>(t, i0, c, valid, dvp, corr);
  for (; c < dvp / 16; ++c) Pv<QN, 1>(t, i0, c, valid, dvp, corr);
}

// Query tokens [t0, t0 + nt) of every head that reads KV head kvh.
void AttendTile(const AttentionParams& p, int64_t kvh, int64_t t0, int64_t nt, Tile* t) {
  const int64_t g = p.n_heads / p.n_kv_heads, nq = nt * g, dv = p.head_dim_v, dvp = Pad16(dv);
  t->q.resize(nq);
  t->out.resize(nq);
  t->nk.resize(nq);
  t->m.assign(nq, -INFINITY);
  t->l.assign(nq, 0.0f);
  t->acc.assign(nq * dvp, 0.0f);
  int64_t max_nk = 0;
  for (int64_t i = 0; i < nq; ++i) {
    const int64_t tok = t0 + i / g, h = kvh * g + i % g;
    t->q[i] = p.q + tok * p.q_stride + h * p.head_dim;
    t->out[i] = p.out + tok * p.out_stride + h * dv;
    t->nk[i] = std::min<int64_t>(static_cast<int64_t>(p.q_pos[tok]) + 1, p.n_kv);
    max_nk = std::max(max_nk, t->nk[i]);
  }
  const int64_t esize = p.kv_type == DType::kF32 ? 4 : 2;
  for (int64_t j0 = 0; j0 < max_nk; j0 += kKeys) {
    // The KV rows of one head are 128-512 bytes every n_kv_heads rows apart: fetch the block two
    // ahead, or decode (few queries per block) waits on DRAM for every row.
    for (int64_t j = j0 + kPrefetchKeys; j < std::min(max_nk, j0 + kPrefetchKeys + kKeys); ++j) {
      const char* k =
          static_cast<const char*>(AttentionKvRow(p, p.k_blocks, j, kvh, p.head_dim, false));
      const char* v = static_cast<const char*>(AttentionKvRow(p, p.v_blocks, j, kvh, dv, true));
      for (int64_t b = 0; b < p.head_dim * esize; b += 64) _mm_prefetch(k + b, _MM_HINT_T0);
      for (int64_t b = 0; b < dv * esize; b += 64) _mm_prefetch(v + b, _MM_HINT_T0);
    }
    LoadBlock(p, kvh, j0, std::min(kKeys, max_nk - j0), t);
    // Groups of up to 4 consecutive queries with the same visible keys (the heads of a token).
    for (int64_t i = 0; i < nq;) {
      int64_t n = 1;
      while (n < 4 && i + n < nq && t->nk[i + n] == t->nk[i]) ++n;
      if (t->nk[i] > j0) {
        switch (n) {
          case 1:
            Update<1>(p, i, j0, t);
            break;
          case 2:
            Update<2>(p, i, j0, t);
            break;
          case 3:
            Update<3>(p, i, j0, t);
            break;
          default:
            Update<4>(p, i, j0, t);
            break;
        }
      }
      i += n;
    }
  }
  for (int64_t i = 0; i < nq; ++i) {
    const __m512 inv = _mm512_set1_ps(t->nk[i] > 0 ? 1.0f / t->l[i] : 0.0f);
    for (int64_t d = 0; d < dv; d += 16) {
      _mm512_mask_storeu_ps(t->out[i] + d, Mask(dv - d),
                            _mm512_mul_ps(_mm512_loadu_ps(&t->acc[i * dvp + d]), inv));
    }
  }
}

}  // namespace

void AttentionAvx512(const AttentionParams& p, ThreadPool* pool) {
  if (p.n_q <= 0 || p.n_heads <= 0 || p.n_kv_heads <= 0) return;
  const int64_t g = p.n_heads / p.n_kv_heads;
  const int64_t tq = std::max<int64_t>(1, kTileQueries / g);  // tokens per tile
  const int64_t tiles = (p.n_q + tq - 1) / tq;
  ref::ParallelRange(pool, p.n_kv_heads * tiles, 1, [&](int64_t i0, int64_t i1) {
    Tile t;
    t.kt.resize(p.head_dim * kKeys);
    t.vf.resize(kKeys * Pad16(p.head_dim_v));
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t kvh = i / tiles, t0 = (i % tiles) * tq;
      AttendTile(p, kvh, t0, std::min(tq, p.n_q - t0), &t);
    }
  });
}

}  // namespace cachet::kernels::x86
