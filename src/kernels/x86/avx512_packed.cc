// Packed q8_0 matmul for AVX-512 VNNI; layout, method and error bound in avx512_packed.h.
//
// Register blocking: a kernel call takes NT tiles (16 rows each) against MT activation rows:
// NT*MT int32 accumulators (one per tile and row, 16 weight rows in the lanes) collect a
// block's 8 vpdpbusd, then one convert and one FMA per accumulator apply the block scales.
// Each weight vector load feeds MT vpdpbusd and each activation broadcast NT, so prefill runs
// mostly vpdpbusd; decode (M <= 2) takes 4 tiles at a time to keep 4 independent chains.
#include "kernels/x86/avx512_packed.h"

// GCC 12 flags the _mm512_undefined_* placeholders of its own intrinsics as maybe-uninitialized
// in the register-heavy kernel instantiations; a false positive of the header code.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/ref/ref_kernels.h"
#include "tensor/dtype.h"

namespace cachet::kernels::x86 {
namespace {

using packed::kQBytes;
using packed::kSBytes;
using packed::kTile;
using PackedAct = packed::Act;

// One scale per 32 values; block b's 32 quants go to q + b * cstride (see QuantizeRows).
void QuantizeRow32(const float* x, int64_t nb, int8_t* q, int64_t cstride, float* d,
                   int32_t* s128) {
  for (int64_t b = 0; b < nb; ++b) {
    const __m512 v0 = _mm512_loadu_ps(x + 32 * b), v1 = _mm512_loadu_ps(x + 32 * b + 16);
    const float am = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
    d[b] = am / 127.0f;
    const __m512 id = _mm512_set1_ps(am > 0 ? 127.0f / am : 0.0f);
    const __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, id));  // round to nearest even
    const __m512i q1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, id));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + b * cstride), _mm512_cvtsepi32_epi8(q0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + b * cstride + 16), _mm512_cvtsepi32_epi8(q1));
    const int32_t sum = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
    s128[b] = 128 * sum;
  }
}

// One scale per 256 values; bsum[j] = sum of the quants of each 32. The quants of super-block
// sb go out as four 64-byte blocks, block c (values 64c .. 64c + 63 of the row) at
// q + (4 * sb + c) * cstride (see QuantizeRows).
// Saturating packs and one dword permute replace per-vector narrowing stores, and the 8
// sub-block sums come from one transposing reduction instead of 8 horizontal sums.
void QuantizeRow256(const float* x, int64_t nsb, int8_t* q, int64_t cstride, float* d,
                    int16_t* bsum) {
  // packs_epi32 then packs_epi16 of vectors a, b, c, d leave, in 128-bit lane l, the 4-byte
  // groups a[4l..], b[4l..], c[4l..], d[4l..]; this dword permute restores a, b, c, d order.
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  const __m512i pick = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 0, 0, 0, 0, 0, 0, 0, 0);
  for (int64_t sb = 0; sb < nsb; ++sb) {
    const float* xs = x + 256 * sb;
    __m512 v[16];
    __m512 am = _mm512_setzero_ps();
    for (int i = 0; i < 16; ++i) {
      v[i] = _mm512_loadu_ps(xs + 16 * i);
      am = _mm512_max_ps(am, _mm512_abs_ps(v[i]));
    }
    const float amax = _mm512_reduce_max_ps(am);
    d[sb] = amax / 127.0f;
    const __m512 id = _mm512_set1_ps(amax > 0 ? 127.0f / amax : 0.0f);
    __m512i qi[16];
    for (int i = 0; i < 16; ++i) qi[i] = _mm512_cvtps_epi32(_mm512_mul_ps(v[i], id));  // RNE
    for (int c = 0; c < 4; ++c) {
      const __m512i w = _mm512_packs_epi16(_mm512_packs_epi32(qi[4 * c], qi[4 * c + 1]),
                                           _mm512_packs_epi32(qi[4 * c + 2], qi[4 * c + 3]));
      _mm512_storeu_si512(q + (4 * sb + c) * cstride, _mm512_permutexvar_epi32(order, w));
    }
    // Sub-block j is qi[2j] + qi[2j + 1]; halve each sum's width while pairing them up.
    __m512i u[4];
    for (int i = 0; i < 4; ++i) {
      const __m512i s0 = _mm512_add_epi32(qi[4 * i], qi[4 * i + 1]);
      const __m512i s1 = _mm512_add_epi32(qi[4 * i + 2], qi[4 * i + 3]);
      u[i] = _mm512_add_epi32(_mm512_shuffle_i64x2(s0, s1, 0x44), _mm512_shuffle_i64x2(s0, s1, 0xEE));
    }
    // u[i]: lanes 0, 1 partial sums of sub-block 2i, lanes 2, 3 of 2i + 1 (128-bit lanes).
    const __m512i w0 = _mm512_add_epi32(_mm512_shuffle_i64x2(u[0], u[1], 0x88),
                                        _mm512_shuffle_i64x2(u[0], u[1], 0xDD));
    const __m512i w1 = _mm512_add_epi32(_mm512_shuffle_i64x2(u[2], u[3], 0x88),
                                        _mm512_shuffle_i64x2(u[2], u[3], 0xDD));
    // w0 lane l: sub-block l's four partials; w1 lane l: sub-block 4 + l's.
    __m512i z = _mm512_add_epi32(_mm512_unpacklo_epi32(w0, w1), _mm512_unpackhi_epi32(w0, w1));
    z = _mm512_add_epi32(z, _mm512_shuffle_epi32(z, _MM_PERM_BADC));
    // z lane l: dword 0 = sum of sub-block l, dword 1 = sum of sub-block 4 + l.
    _mm_storeu_si128(reinterpret_cast<__m128i*>(bsum + 8 * sb),
                     _mm256_cvtepi32_epi16(_mm512_castsi512_si256(_mm512_permutexvar_epi32(pick, z))));
  }
}

// Calls row(m, q_row, cstride) for rows [0, p.m) of p.x, split over `pool` once a part holds
// >= 16K values (a 16-row batch of 2,048). Row m's quants go out in blocks of `block` bytes: the
// first at q_row, each next one cstride further. Row-major: q_row = q + m * k, cstride = block.
// Tiled, the AMX A-tile layout: per group of 16 rows (at 16 * k per group), per block column c,
// the 16 rows' blocks contiguous (at c * 16 * block), so one A tile is one contiguous load.
template <typename Row>
void QuantizeRows(const MatmulParams& p, int8_t* q, int64_t block, bool tiled, ThreadPool* pool,
                  Row row) {
  const int64_t grain = std::max<int64_t>(1, 16384 / p.k);
  ref::ParallelRange(pool, p.m, grain, [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m) {
      if (tiled) {
        row(m, q + (m / 16) * 16 * p.k + (m % 16) * block, 16 * block);
      } else {
        row(m, q + m * p.k, block);
      }
    }
  });
}

}  // namespace

void packed::QuantizeAct(const MatmulParams& p, int64_t row_pad, Act* a, ThreadPool* pool,
                         bool tiled) {
  const int64_t rows = (p.m + row_pad - 1) / row_pad * row_pad;
  a->nb = p.k / 32;
  a->q.resize(rows * p.k);
  a->d.resize(rows * a->nb);
  a->s128.resize(rows * a->nb);
  // Padded rows are zero (in the tiled layout they share the last group's blocks).
  std::fill(a->q.begin() + (tiled ? p.m / 16 * 16 : p.m) * p.k, a->q.end(), 0);
  std::fill(a->d.begin() + p.m * a->nb, a->d.end(), 0.0f);
  std::fill(a->s128.begin() + p.m * a->nb, a->s128.end(), 0);
  QuantizeRows(p, a->q.data(), 32, tiled, pool, [&](int64_t m, int8_t* q, int64_t cstride) {
    QuantizeRow32(p.x + m * p.ldx, a->nb, q, cstride, a->d.data() + m * a->nb,
                  a->s128.data() + m * a->nb);
  });
}

void packed::QuantizeAct256(const MatmulParams& p, int64_t row_pad, Act256* a, ThreadPool* pool,
                            bool tiled) {
  const int64_t rows = (p.m + row_pad - 1) / row_pad * row_pad;
  a->nsb = p.k / 256;
  a->q.resize(rows * p.k);
  a->d.resize(rows * a->nsb);
  a->bsum.resize(rows * a->nsb * 8);
  // Padded rows are zero (in the tiled layout they share the last group's blocks).
  std::fill(a->q.begin() + (tiled ? p.m / 16 * 16 : p.m) * p.k, a->q.end(), 0);
  std::fill(a->d.begin() + p.m * a->nsb, a->d.end(), 0.0f);
  std::fill(a->bsum.begin() + p.m * a->nsb * 8, a->bsum.end(), 0);
  QuantizeRows(p, a->q.data(), 64, tiled, pool, [&](int64_t m, int8_t* q, int64_t cstride) {
    QuantizeRow256(p.x + m * p.ldx, a->nsb, q, cstride, a->d.data() + m * a->nsb,
                   a->bsum.data() + m * a->nsb * 8);
  });
}

namespace {

// Rows [m0, m0 + MT) against tiles [wt, wt + NT * tb): y[m][16j + r] for r < 16.
// cols: output columns that exist from this group's first tile on.
// Signed: the quants are stored as they are (PackWeightAmx), so the activations become the
// unsigned operand (x + 128, one XOR on the broadcast) and the offset is 128 * the block's
// weight sum, formed by one more vpdpbusd per tile and chunk; the int32 per block is the same.
template <int NT, int MT, bool Signed>
void Kernel(const uint8_t* wt, int64_t tb, const PackedAct& a, int64_t k, int64_t m0, float* y,
            int64_t ldy, bool accumulate, int64_t cols) {
  const int64_t nb = a.nb;
  const int8_t* xq[MT];
  const float* xd[MT];
  const int32_t* xs[MT];
  for (int i = 0; i < MT; ++i) {
    xq[i] = a.q.data() + (m0 + i) * k;
    xd[i] = a.d.data() + (m0 + i) * nb;
    xs[i] = a.s128.data() + (m0 + i) * nb;
  }
  __m512 f[NT][MT];
  for (int j = 0; j < NT; ++j)
    for (int i = 0; i < MT; ++i) f[j][i] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    __m512i s[NT][MT];
    for (int j = 0; j < NT; ++j)
      for (int i = 0; i < MT; ++i) s[j][i] = _mm512_setzero_si512();
    const uint8_t* wb = wt + b * kQBytes;
    __m512i corr[NT];  // Signed: 128 * the block's weight sum per row
    for (int j = 0; j < NT; ++j) corr[j] = _mm512_setzero_si512();
    const __m512i c128 = _mm512_set1_epi8(static_cast<char>(0x80));
#pragma GCC unroll 8
    for (int t = 0; t < 8; ++t) {
      __m512i w[NT];
      for (int j = 0; j < NT; ++j) {
        w[j] = _mm512_loadu_si512(wb + j * tb + 64 * t);
        if constexpr (Signed) corr[j] = _mm512_dpbusd_epi32(corr[j], c128, w[j]);
      }
      for (int i = 0; i < MT; ++i) {
        const __m512i xb = packed::Bcast4(xq[i] + 32 * b + 4 * t);
        for (int j = 0; j < NT; ++j) {
          if constexpr (Signed) {
            s[j][i] = _mm512_dpbusd_epi32(s[j][i], _mm512_xor_si512(xb, c128), w[j]);
          } else {
            s[j][i] = _mm512_dpbusd_epi32(s[j][i], w[j], xb);
          }
        }
      }
    }
    for (int j = 0; j < NT; ++j) {
      const __m512 wd = _mm512_cvtph_ps(_mm256_loadu_si256(
          reinterpret_cast<const __m256i*>(wt + j * tb + nb * kQBytes + b * kSBytes)));
      for (int i = 0; i < MT; ++i) {
        const __m512 sc = _mm512_mul_ps(wd, _mm512_set1_ps(xd[i][b]));
        const __m512i is = Signed ? _mm512_sub_epi32(s[j][i], corr[j])
                                  : _mm512_sub_epi32(s[j][i], _mm512_set1_epi32(xs[i][b]));
        f[j][i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is), sc, f[j][i]);
      }
    }
  }
  for (int j = 0; j < NT; ++j) {
    for (int i = 0; i < MT; ++i) {
      packed::StoreTile(y + (m0 + i) * ldy + kTile * j, f[j][i], accumulate, cols - kTile * j);
    }
  }
}

template <int NT, int MT>
struct KernelQ8 {
  static void Run(const uint8_t* wt, int64_t tb, const PackedAct& a, int64_t k, int64_t m0,
                  float* y, int64_t ldy, bool acc, int64_t cols) {
    Kernel<NT, MT, false>(wt, tb, a, k, m0, y, ldy, acc, cols);
  }
};
template <int NT, int MT>
struct KernelQ8Signed {
  static void Run(const uint8_t* wt, int64_t tb, const PackedAct& a, int64_t k, int64_t m0,
                  float* y, int64_t ldy, bool acc, int64_t cols) {
    Kernel<NT, MT, true>(wt, tb, a, k, m0, y, ldy, acc, cols);
  }
};

// q8_0 x16 tiles; plus128: quants stored + 128 (the VNNI table) or as they are (the AMX table).
void PackQ8(const void* w, int64_t n, int64_t k, void* dst, ThreadPool* pool, bool plus128) {
  const int64_t nb = k / 32, rb = RowBytes(DType::kQ8_0, k), tb = nb * (kQBytes + kSBytes);
  ref::ParallelRange(pool, (n + kTile - 1) / kTile, 1, [&](int64_t j0, int64_t j1) {
    // Gathers of 4 bytes from the 16 rows of a tile (all reads stay inside the block).
    const __m512i idx =
        _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                           _mm512_set1_epi32(static_cast<int>(rb)));
    const __m512i bias =
        plus128 ? _mm512_set1_epi8(static_cast<char>(0x80)) : _mm512_setzero_si512();
    for (int64_t j = j0; j < j1; ++j) {
      const uint8_t* src = static_cast<const uint8_t*>(w) + j * kTile * rb;
      uint8_t* out = static_cast<uint8_t*>(dst) + j * tb;
      const __mmask16 rows = Mask(n - j * kTile);  // a short last tile reads fewer
      for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* bp = src + b * static_cast<int64_t>(sizeof(BlockQ8_0));
        const __m512i sw = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), rows, idx, bp, 1);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + nb * kQBytes + b * kSBytes),
                            _mm512_cvtepi32_epi16(sw));
        for (int tq = 0; tq < 8; ++tq) {
          const __m512i q =
              _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), rows, idx, bp + 2 + 4 * tq, 1);
          _mm512_storeu_si512(out + b * kQBytes + 64 * tq, _mm512_xor_si512(q, bias));
        }
      }
    }
  });
}

template <template <int, int> class K>
void RunQ8(const MatmulParams& p, ThreadPool* pool) {
  // One activation buffer per calling thread, reached by the pool jobs through a pointer.
  thread_local PackedAct act_buf;
  PackedAct* const a = &act_buf;
  packed::QuantizeAct(p, 1, a, pool);
  const int64_t tb = p.k / 32 * (kQBytes + kSBytes);
  const uint8_t* wp = static_cast<const uint8_t*>(p.w_packed);
  packed::ForTileBlocks(p, pool, [&, a](int ntile, int mt, int64_t j0, int64_t m0) {
    packed::RunBlock<K>(ntile, mt, wp + j0 * tb, tb, *a, p.k, m0, p.y + j0 * kTile, p.ldy,
                        p.accumulate, p.n - j0 * kTile);
  });
}

}  // namespace

size_t PackedBytesVnni(DType t, int64_t n, int64_t k) {
  if (t == DType::kQ4_K) return packed::Q4kBytes(n, k);
  if (t != DType::kQ8_0 || n <= 0 || k <= 0 || k % 32 != 0) return 0;
  return static_cast<size_t>((n + kTile - 1) / kTile) * static_cast<size_t>(k / 32) *
         (kQBytes + kSBytes);
}

void PackWeightVnni(DType t, const void* w, int64_t n, int64_t k, void* dst, ThreadPool* pool) {
  if (PackedBytesVnni(t, n, k) == 0) return;
  if (t == DType::kQ4_K) return packed::PackQ4k(w, n, k, dst, pool);
  PackQ8(w, n, k, dst, pool, true);
}

void PackWeightAmx(DType t, const void* w, int64_t n, int64_t k, void* dst, ThreadPool* pool) {
  if (PackedBytesVnni(t, n, k) == 0) return;
  if (t == DType::kQ4_K) return packed::PackQ4k(w, n, k, dst, pool);
  PackQ8(w, n, k, dst, pool, false);
}

void PackedMatmulVnni(const MatmulParams& p, ThreadPool* pool) {
  if (p.w_type == DType::kQ4_K) return packed::MatmulQ4k(p, pool);
  RunQ8<KernelQ8>(p, pool);
}

void PackedMatmulVnniSigned(const MatmulParams& p, ThreadPool* pool) {
  if (p.w_type == DType::kQ4_K) return packed::MatmulQ4k(p, pool);
  RunQ8<KernelQ8Signed>(p, pool);
}

}  // namespace cachet::kernels::x86
