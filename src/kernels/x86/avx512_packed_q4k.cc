// Packed q4_k for AVX-512 VNNI; layout and arithmetic in avx512_packed.h (namespace packed).
//
// The 4-bit quants are unsigned, so they are vpdpbusd's unsigned operand as they are (no +128
// offset); the activations (one scale per 256 values) are broadcast signed bytes. Per
// sub-block of 32 values: 8 vpdpbusd per (tile, row), then one integer multiply-add by the
// 6-bit scale; per super-block 4 vpdpwssd for the minimums and two f32 steps (Q4kFold).
// GCC 12 flags the _mm512_undefined_* placeholders of its own intrinsics as maybe-uninitialized
// in the register-starved instantiations (MT 5, 6: RunBlock's, never called here).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/ref/ref_kernels.h"
#include "kernels/x86/avx512_packed.h"
#include "tensor/dtype.h"

namespace cachet::kernels::x86::packed {
namespace {

// Rows [m0, m0 + MT) against tiles [wt, wt + NT * tb). Per sub-block: 8 vpdpbusd per (tile,
// row) into s, then isum += s * sc (exact); per super-block the shared f32 step (Q4kFold).
template <int NT, int MT>
void Kernel(const uint8_t* wt, int64_t tb, const Act256& a, int64_t k, int64_t m0, float* y,
            int64_t ldy, bool accumulate, int64_t cols) {
  const int64_t nsb = k / 256;
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  __m512 f[NT][MT];
  for (int j = 0; j < NT; ++j)
    for (int i = 0; i < MT; ++i) f[j][i] = _mm512_setzero_ps();
  for (int64_t sb = 0; sb < nsb; ++sb) {
    __m512i isum[NT][MT];
    for (int j = 0; j < NT; ++j)
      for (int i = 0; i < MT; ++i) isum[j][i] = _mm512_setzero_si512();
    for (int sub = 0; sub < 8; ++sub) {
      const uint8_t* qb = wt + sb * kQ4kSbQBytes + (sub / 2) * 512;
      __m512i s[NT][MT];
      for (int j = 0; j < NT; ++j)
        for (int i = 0; i < MT; ++i) s[j][i] = _mm512_setzero_si512();
#pragma GCC unroll 8
      for (int t = 0; t < 8; ++t) {
        __m512i w[NT];
        for (int j = 0; j < NT; ++j) {
          // Decode streams every tile from DRAM: fetch the next super-block's quants ahead.
          if (MT == 1 && sub % 2 == 0)
            _mm_prefetch(qb + j * tb + kQ4kSbQBytes + 64 * t, _MM_HINT_T0);
          const __m512i v = _mm512_loadu_si512(qb + j * tb + 64 * t);
          w[j] = _mm512_and_si512(sub % 2 ? _mm512_srli_epi16(v, 4) : v, m4);
        }
        for (int i = 0; i < MT; ++i) {
          const __m512i xb = Bcast4(a.q.data() + (m0 + i) * k + 256 * sb + 32 * sub + 4 * t);
          for (int j = 0; j < NT; ++j) s[j][i] = _mm512_dpbusd_epi32(s[j][i], w[j], xb);
        }
      }
      for (int j = 0; j < NT; ++j) {
        const uint8_t* meta = Q4kMeta(wt + j * tb, nsb, sb);
        const __m512i sc = _mm512_cvtepu8_epi32(
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(meta + 64 + 16 * sub)));
        for (int i = 0; i < MT; ++i) {
          isum[j][i] = _mm512_add_epi32(isum[j][i], _mm512_mullo_epi32(s[j][i], sc));
        }
      }
    }
    for (int j = 0; j < NT; ++j) {
      const uint8_t* meta = Q4kMeta(wt + j * tb, nsb, sb);
      const __m512 d = HalfToF32(meta), dmin = HalfToF32(meta + 32);
      __m512i mp[4];
      MinPairs(meta, mp);
      for (int i = 0; i < MT; ++i) {
        const int64_t row = m0 + i;
        f[j][i] = Q4kFold(f[j][i], isum[j][i], mp, a.bsum.data() + (row * nsb + sb) * 8, d, dmin,
                          a.d[row * nsb + sb]);
      }
    }
  }
  for (int j = 0; j < NT; ++j) {
    for (int i = 0; i < MT; ++i) {
      StoreTile(y + (m0 + i) * ldy + 16 * j, f[j][i], accumulate, cols - 16 * j);
    }
  }
}

template <int NT, int MT>
struct KernelQ4k {
  static void Run(const uint8_t* wt, int64_t tb, const Act256& a, int64_t k, int64_t m0, float* y,
                  int64_t ldy, bool acc, int64_t cols) {
    Kernel<NT, MT>(wt, tb, a, k, m0, y, ldy, acc, cols);
  }
};

// The 6-bit scale and minimum of sub-block j of a q4_k block (gguf.md §6.5).
inline void ScaleMin(const uint8_t* s, int j, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = s[j] & 63;
    *m = s[j + 4] & 63;
  } else {
    *sc = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
    *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

}  // namespace

size_t Q4kBytes(int64_t n, int64_t k) {
  if (n <= 0 || k <= 0 || k % 256 != 0) return 0;
  return static_cast<size_t>((n + 15) / 16) * static_cast<size_t>(Q4kTileBytes(k / 256));
}

void PackQ4k(const void* w, int64_t n, int64_t k, void* dst, ThreadPool* pool) {
  const int64_t nsb = k / 256, rb = RowBytes(DType::kQ4_K, k), tb = Q4kTileBytes(nsb);
  ref::ParallelRange(pool, (n + 15) / 16, 1, [&](int64_t j0, int64_t j1) {
    const __m512i idx =
        _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                           _mm512_set1_epi32(static_cast<int>(rb)));
    for (int64_t j = j0; j < j1; ++j) {
      const uint8_t* src = static_cast<const uint8_t*>(w) + j * 16 * rb;
      uint8_t* out = static_cast<uint8_t*>(dst) + j * tb;
      const int64_t valid = std::min<int64_t>(16, n - j * 16);  // rows of a short last tile
      const __mmask16 rows = Mask(valid);
      for (int64_t sb = 0; sb < nsb; ++sb) {
        const uint8_t* bp = src + sb * static_cast<int64_t>(sizeof(BlockQ4_K));
        for (int c = 0; c < 4; ++c) {
          for (int t = 0; t < 8; ++t) {
            const __m512i q = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), rows, idx,
                                                          bp + 16 + 32 * c + 4 * t, 1);
            _mm512_storeu_si512(out + sb * kQ4kSbQBytes + c * 512 + 64 * t, q);
          }
        }
        uint8_t* meta = Q4kMeta(out, nsb, sb);
        std::memset(meta, 0, kQ4kSbMBytes);
        for (int r = 0; r < valid; ++r) {
          const auto* blk = reinterpret_cast<const BlockQ4_K*>(bp + r * rb);
          std::memcpy(meta + 2 * r, &blk->d, 2);
          std::memcpy(meta + 32 + 2 * r, &blk->dmin, 2);
          for (int sub = 0; sub < 8; ++sub) {
            ScaleMin(blk->scales, sub, meta + 64 + 16 * sub + r,
                     meta + 192 + 32 * (sub / 2) + 2 * r + sub % 2);
          }
        }
      }
    }
  });
}

void MatmulQ4k(const MatmulParams& p, ThreadPool* pool) {
  thread_local Act256 act_buf;  // the caller's; jobs reach it through the pointer
  Act256* const a = &act_buf;
  QuantizeAct256(p, 1, a, pool);
  const int64_t tb = Q4kTileBytes(p.k / 256);
  const uint8_t* wp = static_cast<const uint8_t*>(p.w_packed);
  // 3 accumulators per (tile, row): at most 2 x 4 of them stay in registers.
  ForTileBlocks<4>(p, pool, [&, a](int ntile, int mt, int64_t j0, int64_t m0) {
    RunBlock<KernelQ4k>(ntile, mt, wp + j0 * tb, tb, *a, p.k, m0, p.y + j0 * 16, p.ldy,
                        p.accumulate, p.n - j0 * 16);
  });
}

}  // namespace cachet::kernels::x86::packed
