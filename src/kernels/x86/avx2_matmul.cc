// AVX2 matmuls: the method of avx512_matmul.h on 256-bit vectors (int8 dots via vpmaddubsw +
// vpmaddwd, q8_0 through the sign trick), same activation format and the same error bound.
//
// One decoded weight group (256 values): q[j], j = 0..7, holds values 32j..32j+31; int32 lane i
// of a dot covers values 32j+4i..32j+4i+3 and s[j] holds its scale; off[0..1] hold the offset
// term of each 16 values.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/ref/ref_kernels.h"
#include "kernels/x86/avx2_kernels.h"
#include "tensor/dtype.h"

#define CACHET_INLINE __attribute__((always_inline))
#define CACHET_INLINE_FN __attribute__((always_inline)) inline

namespace cachet::kernels::x86 {
namespace {

constexpr int64_t kG = 256;
constexpr int64_t kPrefetch = 2048;  // bytes of weight stream prefetched ahead

struct QuantAct {
  int64_t kp = 0, n_groups = 0;
  std::vector<int8_t> q;    // [M, kp]
  std::vector<float> sums;  // [M, kp / 16]
  std::vector<float> d;     // [M, n_groups]
};

inline float HSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

// Loads up to 8 floats (zeros past `rem`).
inline __m256 Load8(const float* p, int64_t rem) {
  if (rem >= 8) return _mm256_loadu_ps(p);
  alignas(32) float t[8] = {};
  for (int64_t i = 0; i < rem; ++i) t[i] = p[i];
  return _mm256_load_ps(t);
}

void QuantizeActRow(const float* x, int64_t k, int64_t kp, int8_t* q, float* sums, float* d) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (int64_t g = 0; g < kp / kG; ++g) {
    const int64_t base = g * kG;
    __m256 amax = _mm256_setzero_ps();
    for (int i = 0; i < kG; i += 8)
      amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, Load8(x + base + i, k - base - i)));
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    const float am = _mm_cvtss_f32(m);
    d[g] = am / 127.0f;
    const __m256 id = _mm256_set1_ps(am > 0 ? 127.0f / am : 0.0f);
    for (int i = 0; i < kG; i += 16) {
      const __m256i a = _mm256_cvtps_epi32(_mm256_mul_ps(Load8(x + base + i, k - base - i), id));
      const __m256i b =
          _mm256_cvtps_epi32(_mm256_mul_ps(Load8(x + base + i + 8, k - base - i - 8), id));
      const __m256i s32 = _mm256_add_epi32(a, b);
      __m128i s = _mm_add_epi32(_mm256_castsi256_si128(s32), _mm256_extracti128_si256(s32, 1));
      s = _mm_hadd_epi32(s, s);
      s = _mm_hadd_epi32(s, s);
      sums[(base + i) / 16] = static_cast<float>(_mm_cvtsi128_si32(s));
      // int32 -> int8 with saturation, keeping order (packs work per 128-bit lane).
      const __m256i p16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(a, b), 0xD8);
      const __m128i p8 =
          _mm_packs_epi16(_mm256_castsi256_si128(p16), _mm256_extracti128_si256(p16, 1));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(q + base + i), p8);
    }
  }
}

void QuantizeAct(const MatmulParams& p, QuantAct* a, ThreadPool* pool) {
  a->kp = (p.k + kG - 1) / kG * kG;
  a->n_groups = a->kp / kG;
  a->q.resize(p.m * a->kp);
  a->sums.resize(p.m * a->kp / 16);
  a->d.resize(p.m * a->n_groups);
  ref::ParallelRange(p.m >= 64 ? pool : nullptr, p.m, 16, [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m) {
      QuantizeActRow(p.x + m * p.ldx, p.k, a->kp, a->q.data() + m * a->kp,
                     a->sums.data() + m * a->kp / 16, a->d.data() + m * a->n_groups);
    }
  });
}

struct WGroup {
  __m256i q[8];
  __m256 s[8];
  __m256 off[2];
};

// Scales of 8 consecutive 32-value blocks (f16, `stride` bytes apart) as 8 f32 lanes: one gather
// of 32-bit words (scale + the 2 bytes after it, inside the block), low halves packed.
CACHET_INLINE_FN __m256 BlockScales8(const uint8_t* first_d, int64_t stride) {
  const __m256i idx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                         _mm256_set1_epi32(static_cast<int>(stride)));
  const __m256i words = _mm256_i32gather_epi32(reinterpret_cast<const int*>(first_d), idx, 1);
  const __m256i lo = _mm256_shuffle_epi8(
      words, _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1, 0, 1, 4, 5,
                              8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1));
  const __m128i h = _mm256_castsi256_si128(_mm256_permute4x64_epi64(lo, 0x08));
  return _mm256_cvtph_ps(h);
}

CACHET_INLINE_FN __m256 Bcast(__m256 v, int i) {
  return _mm256_permutevar8x32_ps(v, _mm256_set1_epi32(i));
}

// Offsets per 16 values for 32-value blocks: off[0] = blocks 0..3 (each twice), off[1] = 4..7.
CACHET_INLINE_FN void PairOffsets(__m256 d8, float mul, WGroup& w) {
  const __m256 m = _mm256_mul_ps(d8, _mm256_set1_ps(mul));
  w.off[0] = _mm256_permutevar8x32_ps(m, _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3));
  w.off[1] = _mm256_permutevar8x32_ps(m, _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7));
}

CACHET_INLINE_FN void DecodeQ8_0(const BlockQ8_0* b, WGroup& w) {
  const __m256 d8 = BlockScales8(reinterpret_cast<const uint8_t*>(&b->d), sizeof(BlockQ8_0));
#pragma GCC unroll 8
  for (int j = 0; j < 8; ++j) {
    w.q[j] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[j].qs));
    w.s[j] = Bcast(d8, j);
  }
  w.off[0] = w.off[1] = _mm256_setzero_ps();  // signed quants: no offset
}

CACHET_INLINE_FN void DecodeQ4_0(const BlockQ4_0* b, WGroup& w) {
  const __m256 d8 = BlockScales8(reinterpret_cast<const uint8_t*>(&b->d), sizeof(BlockQ4_0));
  const __m256i m4 = _mm256_set1_epi8(0x0F);
#pragma GCC unroll 8
  for (int j = 0; j < 8; ++j) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[j].qs));
    const __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(a), _mm_srli_epi16(a, 4), 1);
    w.q[j] = _mm256_and_si256(v, m4);
    w.s[j] = Bcast(d8, j);
  }
  PairOffsets(d8, 8.0f, w);
}

CACHET_INLINE_FN void KScales(const uint8_t* b, __m256* sc, __m256* mn) {
  uint32_t u0, u1, u2;
  std::memcpy(&u0, b, 4);
  std::memcpy(&u1, b + 4, 4);
  std::memcpy(&u2, b + 8, 4);
  const uint32_t sc_lo = u0 & 0x3f3f3f3fu, m_lo = u1 & 0x3f3f3f3fu;
  const uint32_t sc_hi = (u2 & 0x0f0f0f0fu) | ((u0 >> 2) & 0x30303030u);
  const uint32_t m_hi = ((u2 >> 4) & 0x0f0f0f0fu) | ((u1 >> 2) & 0x30303030u);
  const uint64_t sc8 = sc_lo | (static_cast<uint64_t>(sc_hi) << 32);
  const uint64_t m8 = m_lo | (static_cast<uint64_t>(m_hi) << 32);
  *sc = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<int64_t>(sc8))));
  *mn = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<int64_t>(m8))));
}

template <typename B>
CACHET_INLINE_FN void DecodeKLow(const B* b, WGroup& w) {
  __m256 sc, mn;
  KScales(b->scales, &sc, &mn);
  sc = _mm256_mul_ps(sc, _mm256_set1_ps(_cvtsh_ss(b->d)));
  const __m256i m4 = _mm256_set1_epi8(0x0F);
#pragma GCC unroll 4
  for (int c = 0; c < 4; ++c) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b->qs + 32 * c));
    w.q[2 * c] = _mm256_and_si256(a, m4);
    w.q[2 * c + 1] = _mm256_and_si256(_mm256_srli_epi16(a, 4), m4);
    w.s[2 * c] = Bcast(sc, 2 * c);
    w.s[2 * c + 1] = Bcast(sc, 2 * c + 1);
  }
  PairOffsets(mn, _cvtsh_ss(b->dmin), w);
}

CACHET_INLINE_FN void DecodeQ5_K(const BlockQ5_K* b, WGroup& w) {
  DecodeKLow(b, w);
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b->qh));
  const __m256i one = _mm256_set1_epi8(1);
#pragma GCC unroll 8
  for (int s = 0; s < 8; ++s) {
    const __m256i bit = _mm256_and_si256(_mm256_srli_epi16(h, s), one);
    w.q[s] = _mm256_or_si256(w.q[s], _mm256_slli_epi16(bit, 4));
  }
}

CACHET_INLINE_FN void DecodeQ6_K(const BlockQ6_K* b, WGroup& w) {
  const __m128i sc8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b->scales));
  const __m256 d = _mm256_set1_ps(_cvtsh_ss(b->d));
  const __m256 s_lo = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(sc8)), d);
  const __m256 s_hi =
      _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(sc8, 8))), d);
  const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(0x03);
#pragma GCC unroll 2
  for (int h = 0; h < 2; ++h) {
    const __m256i L0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b->ql + 64 * h));
    const __m256i L1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b->ql + 64 * h + 32));
    const __m256i H = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b->qh + 32 * h));
    auto hi = [&](int shift) {
      return _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(H, shift), m2), 4);
    };
    w.q[4 * h + 0] = _mm256_or_si256(_mm256_and_si256(L0, m4), hi(0));
    w.q[4 * h + 1] = _mm256_or_si256(_mm256_and_si256(L1, m4), hi(2));
    w.q[4 * h + 2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(L0, 4), m4), hi(4));
    w.q[4 * h + 3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(L1, 4), m4), hi(6));
  }
  // vector j covers sub-blocks 2j (lanes 0-3) and 2j+1 (lanes 4-7).
#pragma GCC unroll 8
  for (int j = 0; j < 8; ++j) {
    const __m256 src = j < 4 ? s_lo : s_hi;
    const int s = 2 * (j % 4);
    w.s[j] =
        _mm256_permutevar8x32_ps(src, _mm256_setr_epi32(s, s, s, s, s + 1, s + 1, s + 1, s + 1));
  }
  w.off[0] = _mm256_mul_ps(s_lo, _mm256_set1_ps(32.0f));
  w.off[1] = _mm256_mul_ps(s_hi, _mm256_set1_ps(32.0f));
}

template <bool kSigned>
CACHET_INLINE_FN __m256i Dot4(__m256i w, __m256i x) {
  if constexpr (kSigned) {  // |w| * (x with w's sign); x in [-127, 127]
    x = _mm256_sign_epi8(x, w);
    w = _mm256_abs_epi8(w);
  }
  return _mm256_madd_epi16(_mm256_maddubs_epi16(w, x), _mm256_set1_epi16(1));
}

template <bool kSigned>
CACHET_INLINE_FN __m256 GroupDot(const WGroup& w, const int8_t* xq, const float* xs) {
  __m256 acc = _mm256_setzero_ps();
#pragma GCC unroll 8
  for (int j = 0; j < 8; ++j) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + 32 * j));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(Dot4<kSigned>(w.q[j], x)), w.s[j], acc);
  }
  acc = _mm256_fnmadd_ps(w.off[0], _mm256_loadu_ps(xs), acc);
  return _mm256_fnmadd_ps(w.off[1], _mm256_loadu_ps(xs + 8), acc);
}

inline void StoreY(const MatmulParams& p, int64_t m, int64_t n, float v) {
  float& y = p.y[m * p.ldy + n];
  y = p.accumulate ? y + v : v;
}

template <bool kSigned, typename Decode>
void QuantRows(const MatmulParams& p, const QuantAct& a, int64_t n0, int64_t n1, Decode decode) {
  constexpr int64_t kMB = 64;
  const int64_t row_bytes = RowBytes(p.w_type, p.k), ng = a.n_groups, ns = a.kp / 16;
  const int64_t group_bytes = RowBytes(p.w_type, std::min<int64_t>(kG, p.k));
  __m256 acc[kMB];
  for (int64_t m0 = 0; m0 < p.m; m0 += kMB) {
    const int64_t mb = std::min(kMB, p.m - m0);
    for (int64_t n = n0; n < n1; ++n) {
      const uint8_t* row = static_cast<const uint8_t*>(p.w) + n * row_bytes;
      for (int64_t m = 0; m < mb; ++m) acc[m] = _mm256_setzero_ps();
      for (int64_t g = 0; g < ng; ++g) {
        const uint8_t* pf = row + g * group_bytes + kPrefetch;  // see avx512_matmul.cc
        for (int64_t b = 0; b < group_bytes; b += 64)
          _mm_prefetch(reinterpret_cast<const char*>(pf + b), _MM_HINT_T0);
        WGroup w;
        decode(row, g, w);
        for (int64_t m = 0; m < mb; ++m) {
          const int64_t mm = m0 + m;
          const __m256 gd = GroupDot<kSigned>(w, a.q.data() + mm * a.kp + g * kG,
                                              a.sums.data() + mm * ns + g * 16);
          acc[m] = _mm256_fmadd_ps(gd, _mm256_set1_ps(a.d[mm * ng + g]), acc[m]);
        }
      }
      for (int64_t m = 0; m < mb; ++m) StoreY(p, m0 + m, n, HSum(acc[m]));
    }
  }
}

template <typename Block, typename F>
auto SmallBlockDecoder(int64_t k, F f) {
  const int64_t nb = k / 32;
  return [nb, f](const uint8_t* row, int64_t g, WGroup& w) CACHET_INLINE {
    const Block* b = reinterpret_cast<const Block*>(row) + 8 * g;
    if (8 * g + 8 <= nb) [[likely]]
      return f(b, w);
    Block tmp[8];
    std::memset(tmp, 0, sizeof(tmp));
    std::memcpy(tmp, b, (nb - 8 * g) * sizeof(Block));
    f(tmp, w);
  };
}

bool QuantMatmul(const MatmulParams& p, ThreadPool* pool) {
  const DType t = p.w_type;
  if (t != DType::kQ8_0 && t != DType::kQ4_0 && t != DType::kQ4_K && t != DType::kQ5_K &&
      t != DType::kQ6_K) {
    return false;
  }
  thread_local QuantAct act_buf;  // used through a pointer by the pool jobs
  QuantAct* const a = &act_buf;
  QuantizeAct(p, a, pool);
  ref::ParallelRange(pool, p.n, 4, [&, a](int64_t n0, int64_t n1) {
    const QuantAct& act = *a;
    switch (t) {
      case DType::kQ8_0:
        QuantRows<true>(p, act, n0, n1,
                        SmallBlockDecoder<BlockQ8_0>(p.k, [](const BlockQ8_0* b, WGroup& w)
                                                              CACHET_INLINE { DecodeQ8_0(b, w); }));
        break;
      case DType::kQ4_0:
        QuantRows<false>(
            p, act, n0, n1,
            SmallBlockDecoder<BlockQ4_0>(
                p.k, [](const BlockQ4_0* b, WGroup& w) CACHET_INLINE { DecodeQ4_0(b, w); }));
        break;
      case DType::kQ4_K:
        QuantRows<false>(p, act, n0, n1, [](const uint8_t* r, int64_t g, WGroup& w) CACHET_INLINE {
          DecodeKLow(reinterpret_cast<const BlockQ4_K*>(r) + g, w);
        });
        break;
      case DType::kQ5_K:
        QuantRows<false>(p, act, n0, n1, [](const uint8_t* r, int64_t g, WGroup& w) CACHET_INLINE {
          DecodeQ5_K(reinterpret_cast<const BlockQ5_K*>(r) + g, w);
        });
        break;
      default:
        QuantRows<false>(p, act, n0, n1, [](const uint8_t* r, int64_t g, WGroup& w) CACHET_INLINE {
          DecodeQ6_K(reinterpret_cast<const BlockQ6_K*>(r) + g, w);
        });
        break;
    }
  });
  return true;
}

// ---- f32 / f16 / bf16 weights: f32 FMAs ----------------------------------------------------

inline __m256 LoadW8(DType t, const void* row, int64_t k) {
  if (t == DType::kF16) {
    return _mm256_cvtph_ps(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const f16_t*>(row) + k)));
  }
  if (t == DType::kBF16) {
    const __m128i h =
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const bf16_t*>(row) + k));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  return _mm256_loadu_ps(static_cast<const float*>(row) + k);
}

template <int kMB>
void FloatRowBlock(const MatmulParams& p, DType t, const void* row, int64_t n, int64_t m0) {
  __m256 acc[kMB];
  for (int m = 0; m < kMB; ++m) acc[m] = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 8 <= p.k; k += 8) {
    const __m256 w = LoadW8(t, row, k);
    for (int m = 0; m < kMB; ++m)
      acc[m] = _mm256_fmadd_ps(w, _mm256_loadu_ps(p.x + (m0 + m) * p.ldx + k), acc[m]);
  }
  float wt[8] = {};
  if (k < p.k)
    ref::DequantizeRow(t, static_cast<const uint8_t*>(row) + k * (t == DType::kF32 ? 4 : 2), wt,
                       p.k - k);
  for (int m = 0; m < kMB; ++m) {
    float s = HSum(acc[m]);
    for (int64_t i = k; i < p.k; ++i) s += wt[i - k] * p.x[(m0 + m) * p.ldx + i];
    StoreY(p, m0 + m, n, s);
  }
}

void FloatRow(const MatmulParams& p, DType t, const void* row, int64_t n, int64_t m0, int64_t mb) {
  switch (mb) {
    case 1:
      return FloatRowBlock<1>(p, t, row, n, m0);
    case 2:
      return FloatRowBlock<2>(p, t, row, n, m0);
    case 3:
      return FloatRowBlock<3>(p, t, row, n, m0);
    default:
      return FloatRowBlock<4>(p, t, row, n, m0);
  }
}

void FloatMatmul(const MatmulParams& p, ThreadPool* pool) {
  const DType t = p.w_type;
  const bool direct = t == DType::kF32 || t == DType::kF16 || t == DType::kBF16;
  const int64_t row_bytes = RowBytes(t, p.k);
  ref::ParallelRange(pool, p.n, 4, [&](int64_t n0, int64_t n1) {
    std::vector<float> buf(direct ? 0 : p.k);
    for (int64_t n = n0; n < n1; ++n) {
      const void* row = static_cast<const uint8_t*>(p.w) + n * row_bytes;
      DType rt = t;
      if (!direct) {
        ref::DequantizeRow(t, row, buf.data(), p.k);
        row = buf.data();
        rt = DType::kF32;
      }
      for (int64_t m0 = 0; m0 < p.m; m0 += 4)
        FloatRow(p, rt, row, n, m0, std::min<int64_t>(4, p.m - m0));
    }
  });
}

}  // namespace

void MatmulAvx2(const MatmulParams& p, ThreadPool* pool) {
  if (p.m <= 0 || p.n <= 0) return;
  if (!QuantMatmul(p, pool)) FloatMatmul(p, pool);
}

}  // namespace cachet::kernels::x86
