// AVX-512 matmuls; the method and error bound are in avx512_matmul.h.
//
// Layout of one decoded weight group (256 values; WGroup): vector j holds values 64j..64j+63
// as bytes, so int32 lane i of a dot product covers values 64j+4i..64j+4i+3; s[j] has that
// lane's scale; off[t] is the offset term of values 16t..16t+15, multiplied by the activation
// quant sum of the same 16 values. Every supported block's sub-block is >= 16 values, so a
// lane never straddles two scales.
#include "kernels/x86/avx512_matmul.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/ref/ref_kernels.h"
#include "tensor/dtype.h"

namespace cachet::kernels::x86 {
namespace {

#define CACHET_INLINE __attribute__((always_inline))
#define CACHET_INLINE_FN __attribute__((always_inline)) inline

constexpr int64_t kG = 256;          // values per weight group and per activation scale
constexpr int64_t kPrefetch = 2048;  // bytes of weight stream prefetched ahead

struct QuantAct {
  int64_t kp = 0, n_groups = 0;
  std::vector<int8_t> q;    // [M, kp] activation quants (zero beyond k)
  std::vector<float> sums;  // [M, kp / 16] sum of each 16 quants
  std::vector<float> d;     // [M, n_groups] scale of each 256 values
};

__mmask16 TailMask(int64_t rem) {
  return rem >= 16  ? static_cast<__mmask16>(0xFFFF)
         : rem <= 0 ? static_cast<__mmask16>(0)
                    : static_cast<__mmask16>((1u << rem) - 1);
}

void QuantizeActRow(const float* x, int64_t k, int64_t kp, int8_t* q, float* sums, float* d) {
  for (int64_t g = 0; g < kp / kG; ++g) {
    const int64_t base = g * kG;
    __m512 amax = _mm512_setzero_ps();
    for (int i = 0; i < kG; i += 16) {
      const __m512 v = _mm512_maskz_loadu_ps(TailMask(k - base - i), x + base + i);
      amax = _mm512_max_ps(amax, _mm512_abs_ps(v));
    }
    const float am = _mm512_reduce_max_ps(amax);
    d[g] = am / 127.0f;
    const __m512 id = _mm512_set1_ps(am > 0 ? 127.0f / am : 0.0f);
    for (int i = 0; i < kG; i += 16) {
      const __m512 v = _mm512_maskz_loadu_ps(TailMask(k - base - i), x + base + i);
      const __m512i qi = _mm512_cvtps_epi32(_mm512_mul_ps(v, id));  // round to nearest even
      _mm_storeu_si128(reinterpret_cast<__m128i*>(q + base + i), _mm512_cvtsepi32_epi8(qi));
      sums[(base + i) / 16] = static_cast<float>(_mm512_reduce_add_epi32(qi));
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
  __m512i q[4];  // quants: unsigned, except q8_0 without VNNI (signed)
  __m512 s[4];   // per int32 lane scale
  __m512 off;    // per 16 values: offset * scale
};

alignas(64) constexpr int32_t kIdxPair[4][16] = {{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1},
                                                 {2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3},
                                                 {4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5},
                                                 {6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7}};
alignas(64) constexpr int32_t kIdxHalf[16] = {0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7};
alignas(64) constexpr int32_t kIdxQuad[4][16] = {
    {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3},
    {4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7},
    {8, 8, 8, 8, 9, 9, 9, 9, 10, 10, 10, 10, 11, 11, 11, 11},
    {12, 12, 12, 12, 13, 13, 13, 13, 14, 14, 14, 14, 15, 15, 15, 15}};
// Per 16-bit element shift counts: 128-bit lanes 0,4,0,4 (q4_0) and 256-bit halves 0,4 / 0,1.
alignas(64) constexpr uint16_t kShiftQ4_0[32] = {0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 4, 4, 4,
                                                 0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 4, 4, 4};
alignas(64) constexpr uint16_t kShiftHalf4[32] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                                  4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4};
alignas(64) constexpr uint16_t kShiftHalf1[32] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                                  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};

inline __m512i Ld(const void* p) { return _mm512_load_si512(p); }
inline __m512 Perm(const int32_t* idx, __m512 v) { return _mm512_permutexvar_ps(Ld(idx), v); }

// The f16 scale of 8 consecutive blocks, `stride` bytes apart, as f32 lanes 0..7: one gather of
// 32-bit words (the scale and the 2 bytes after it, all inside the block) truncated to 16 bits.
// (Eight narrow stores and a wide reload would stall on store forwarding.)
CACHET_INLINE_FN __m512 BlockScales8(const uint8_t* first_d, int64_t stride) {
  const __m256i idx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                         _mm256_set1_epi32(static_cast<int>(stride)));
  const __m256i words = _mm256_i32gather_epi32(reinterpret_cast<const int*>(first_d), idx, 1);
  return _mm512_castps256_ps512(_mm256_cvtph_ps(_mm256_cvtepi32_epi16(words)));
}

inline float HalfToFloat(f16_t h) { return _cvtsh_ss(h); }

template <bool kVnni>
CACHET_INLINE_FN void DecodeQ8_0(const BlockQ8_0* b, WGroup& w) {
  const __m512 d8 = BlockScales8(reinterpret_cast<const uint8_t*>(&b->d), sizeof(BlockQ8_0));
#pragma GCC unroll 4
  for (int j = 0; j < 4; ++j) {
    const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[2 * j].qs));
    const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[2 * j + 1].qs));
    __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
    if constexpr (kVnni) v = _mm512_xor_si512(v, _mm512_set1_epi8(static_cast<char>(0x80)));
    w.q[j] = v;
    w.s[j] = Perm(kIdxPair[j], d8);
  }
  // With VNNI the quants are stored +128 (unsigned); the offset removes 128 * d * sum(x).
  w.off = kVnni ? _mm512_mul_ps(Perm(kIdxHalf, d8), _mm512_set1_ps(128.0f)) : _mm512_setzero_ps();
}

CACHET_INLINE_FN void DecodeQ4_0(const BlockQ4_0* b, WGroup& w) {
  const __m512 d8 = BlockScales8(reinterpret_cast<const uint8_t*>(&b->d), sizeof(BlockQ4_0));
  const __m512i m4 = _mm512_set1_epi8(0x0F);
#pragma GCC unroll 4
  for (int j = 0; j < 4; ++j) {
    const __m128i a0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[2 * j].qs));
    const __m128i a1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[2 * j + 1].qs));
    __m512i v = _mm512_inserti32x4(_mm512_castsi128_si512(a0), a0, 1);
    v = _mm512_inserti32x4(_mm512_inserti32x4(v, a1, 2), a1, 3);
    w.q[j] = _mm512_and_si512(_mm512_srlv_epi16(v, Ld(kShiftQ4_0)), m4);
    w.s[j] = Perm(kIdxPair[j], d8);
  }
  w.off = _mm512_mul_ps(Perm(kIdxHalf, d8), _mm512_set1_ps(8.0f));
}

// The 8 six-bit scales and mins of a Q4_K/Q5_K block as f32 (gguf.md §6.5 bit layout).
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

// Shared by Q4_K and Q5_K: scales, offsets and the low 4 bits of chunk c's quants.
template <typename B>
CACHET_INLINE_FN void DecodeKLow(const B* b, WGroup& w) {
  __m256 sc, mn;
  KScales(b->scales, &sc, &mn);
  const __m512 scv = _mm512_castps256_ps512(_mm256_mul_ps(sc, _mm256_set1_ps(HalfToFloat(b->d))));
  const __m512 mnv =
      _mm512_castps256_ps512(_mm256_mul_ps(mn, _mm256_set1_ps(HalfToFloat(b->dmin))));
  const __m512i m4 = _mm512_set1_epi8(0x0F);
#pragma GCC unroll 4
  for (int c = 0; c < 4; ++c) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b->qs + 32 * c));
    const __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(a), a, 1);
    w.q[c] = _mm512_and_si512(_mm512_srlv_epi16(v, Ld(kShiftHalf4)), m4);
    w.s[c] = Perm(kIdxPair[c], scv);
  }
  w.off = Perm(kIdxHalf, mnv);
}

CACHET_INLINE_FN void DecodeQ4_K(const BlockQ4_K* b, WGroup& w) { DecodeKLow(b, w); }

CACHET_INLINE_FN void DecodeQ5_K(const BlockQ5_K* b, WGroup& w) {
  DecodeKLow(b, w);
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b->qh));
  const __m512i hh = _mm512_inserti64x4(_mm512_castsi256_si512(h), h, 1);
  const __m512i one = _mm512_set1_epi8(1);
#pragma GCC unroll 4
  for (int c = 0; c < 4; ++c) {
    const __m512i cnt =
        _mm512_add_epi16(Ld(kShiftHalf1), _mm512_set1_epi16(static_cast<short>(2 * c)));
    const __m512i bit = _mm512_and_si512(_mm512_srlv_epi16(hh, cnt), one);
    w.q[c] = _mm512_or_si512(w.q[c], _mm512_slli_epi16(bit, 4));
  }
}

CACHET_INLINE_FN void DecodeQ6_K(const BlockQ6_K* b, WGroup& w) {
  const __m128i sc8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b->scales));
  const __m512 scv = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(sc8)),
                                   _mm512_set1_ps(HalfToFloat(b->d)));
  const __m512i m4 = _mm512_set1_epi8(0x0F), m2 = _mm512_set1_epi8(0x03);
#pragma GCC unroll 2
  for (int h = 0; h < 2; ++h) {
    const __m512i L = _mm512_loadu_si512(b->ql + 64 * h);
    const __m256i hq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b->qh + 32 * h));
    const __m512i H = _mm512_inserti64x4(_mm512_castsi256_si512(hq), _mm256_srli_epi16(hq, 2), 1);
    w.q[2 * h] =
        _mm512_or_si512(_mm512_and_si512(L, m4), _mm512_slli_epi16(_mm512_and_si512(H, m2), 4));
    w.q[2 * h + 1] =
        _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(L, 4), m4),
                        _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(H, 4), m2), 4));
  }
#pragma GCC unroll 4
  for (int j = 0; j < 4; ++j) w.s[j] = Perm(kIdxQuad[j], scv);
  w.off = _mm512_mul_ps(scv, _mm512_set1_ps(32.0f));
}

// Products of 4 bytes summed into each int32 lane: w unsigned (or signed with kSigned), x signed.
template <bool kVnni, bool kSigned>
CACHET_INLINE_FN __m512i Dot4(__m512i w, __m512i x) {
  if constexpr (kVnni) {
    return _mm512_dpbusd_epi32(_mm512_setzero_si512(), w, x);
  } else {
    if constexpr (kSigned) {  // |w| * (x with w's sign); x is in [-127, 127]
      x = _mm512_mask_sub_epi8(x, _mm512_movepi8_mask(w), _mm512_setzero_si512(), x);
      w = _mm512_abs_epi8(w);
    }
    return _mm512_madd_epi16(_mm512_maddubs_epi16(w, x), _mm512_set1_epi16(1));
  }
}

template <bool kVnni, bool kSigned>
CACHET_INLINE_FN __m512 GroupDot(const WGroup& w, const int8_t* xq, const float* xs) {
  __m512 acc = _mm512_mul_ps(
      _mm512_cvtepi32_ps(Dot4<kVnni, kSigned>(w.q[0], _mm512_loadu_si512(xq))), w.s[0]);
#pragma GCC unroll 4
  for (int j = 1; j < 4; ++j) {
    const __m512i d = Dot4<kVnni, kSigned>(w.q[j], _mm512_loadu_si512(xq + 64 * j));
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), w.s[j], acc);
  }
  return _mm512_fnmadd_ps(w.off, _mm512_loadu_ps(xs), acc);
}

inline void StoreY(const MatmulParams& p, int64_t m, int64_t n, float v) {
  float& y = p.y[m * p.ldy + n];
  y = p.accumulate ? y + v : v;
}

// Rows [n0, n1) of a quantized weight against all M activation rows. decode(row, g, w)
// fills the weight group g of a row.
template <bool kVnni, bool kSigned, typename Decode>
void QuantRows(const MatmulParams& p, const QuantAct& a, int64_t n0, int64_t n1, Decode decode) {
  constexpr int64_t kMB = 64;  // activation rows per pass (their quants stay in L2)
  const int64_t row_bytes = RowBytes(p.w_type, p.k), ng = a.n_groups, ns = a.kp / 16;
  const int64_t group_bytes = RowBytes(p.w_type, std::min<int64_t>(kG, p.k));
  __m512 acc[kMB];
  for (int64_t m0 = 0; m0 < p.m; m0 += kMB) {
    const int64_t mb = std::min(kMB, p.m - m0);
    for (int64_t n = n0; n < n1; ++n) {
      const uint8_t* row = static_cast<const uint8_t*>(p.w) + n * row_bytes;
      for (int64_t m = 0; m < mb; ++m) acc[m] = _mm512_setzero_ps();
      for (int64_t g = 0; g < ng; ++g) {
        // The weights are one contiguous stream (rows follow each other): prefetch kPrefetch
        // bytes ahead so the DRAM latency overlaps the integer work of this group.
        const uint8_t* pf = row + g * group_bytes + kPrefetch;
        for (int64_t b = 0; b < group_bytes; b += 64)
          _mm_prefetch(reinterpret_cast<const char*>(pf + b), _MM_HINT_T0);
        WGroup w;
        decode(row, g, w);
        for (int64_t m = 0; m < mb; ++m) {
          const int64_t mm = m0 + m;
          const __m512 gd = GroupDot<kVnni, kSigned>(w, a.q.data() + mm * a.kp + g * kG,
                                                     a.sums.data() + mm * ns + g * 16);
          acc[m] = _mm512_fmadd_ps(gd, _mm512_set1_ps(a.d[mm * ng + g]), acc[m]);
        }
      }
      for (int64_t m = 0; m < mb; ++m) StoreY(p, m0 + m, n, _mm512_reduce_add_ps(acc[m]));
    }
  }
}

// Decoder for 32-value block types: 8 blocks per group; a short last group is padded with
// zero blocks (scale 0).
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

template <bool kVnni>
bool QuantMatmul(const MatmulParams& p, ThreadPool* pool) {
  const DType t = p.w_type;
  if (t != DType::kQ8_0 && t != DType::kQ4_0 && t != DType::kQ4_K && t != DType::kQ5_K &&
      t != DType::kQ6_K) {
    return false;
  }
  // One buffer per calling thread, reused across calls. The pool jobs must use it through a
  // pointer: naming a thread_local inside the lambda would give each worker its own (empty) one.
  thread_local QuantAct act_buf;
  QuantAct* const a = &act_buf;
  QuantizeAct(p, a, pool);
  ref::ParallelRange(pool, p.n, 4, [&, a](int64_t n0, int64_t n1) {
    const QuantAct& act = *a;
    switch (t) {
      case DType::kQ8_0:
        QuantRows<kVnni, !kVnni>(
            p, act, n0, n1,
            SmallBlockDecoder<BlockQ8_0>(
                p.k, [](const BlockQ8_0* b, WGroup& w) CACHET_INLINE { DecodeQ8_0<kVnni>(b, w); }));
        break;
      case DType::kQ4_0:
        QuantRows<kVnni, false>(
            p, act, n0, n1,
            SmallBlockDecoder<BlockQ4_0>(
                p.k, [](const BlockQ4_0* b, WGroup& w) CACHET_INLINE { DecodeQ4_0(b, w); }));
        break;
      case DType::kQ4_K:
        QuantRows<kVnni, false>(p, act, n0, n1,
                                [](const uint8_t* r, int64_t g, WGroup& w) CACHET_INLINE {
                                  DecodeQ4_K(reinterpret_cast<const BlockQ4_K*>(r) + g, w);
                                });
        break;
      case DType::kQ5_K:
        QuantRows<kVnni, false>(p, act, n0, n1,
                                [](const uint8_t* r, int64_t g, WGroup& w) CACHET_INLINE {
                                  DecodeQ5_K(reinterpret_cast<const BlockQ5_K*>(r) + g, w);
                                });
        break;
      default:
        QuantRows<kVnni, false>(p, act, n0, n1,
                                [](const uint8_t* r, int64_t g, WGroup& w) CACHET_INLINE {
                                  DecodeQ6_K(reinterpret_cast<const BlockQ6_K*>(r) + g, w);
                                });
        break;
    }
  });
  return true;
}

// ---- f32 / f16 / bf16 (and dequantized) weights: f32 FMAs ---------------------------------

inline __m512 LoadW(DType t, const void* row, int64_t k, __mmask16 mask) {
  if (t == DType::kF16) {
    const __m256i h = _mm256_maskz_loadu_epi16(mask, static_cast<const f16_t*>(row) + k);
    return _mm512_cvtph_ps(h);
  }
  if (t == DType::kBF16) {
    const __m256i h = _mm256_maskz_loadu_epi16(mask, static_cast<const bf16_t*>(row) + k);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  return _mm512_maskz_loadu_ps(mask, static_cast<const float*>(row) + k);
}

template <int kMB>
void FloatRowBlock(const MatmulParams& p, DType t, const void* row, int64_t n, int64_t m0) {
  __m512 acc[kMB];
  for (int m = 0; m < kMB; ++m) acc[m] = _mm512_setzero_ps();
  for (int64_t k = 0; k < p.k; k += 16) {
    const __mmask16 mask = TailMask(p.k - k);
    const __m512 w = LoadW(t, row, k, mask);
    for (int m = 0; m < kMB; ++m) {
      acc[m] = _mm512_fmadd_ps(w, _mm512_maskz_loadu_ps(mask, p.x + (m0 + m) * p.ldx + k), acc[m]);
    }
  }
  for (int m = 0; m < kMB; ++m) StoreY(p, m0 + m, n, _mm512_reduce_add_ps(acc[m]));
}

void FloatRow(const MatmulParams& p, DType t, const void* row, int64_t n, int64_t m0, int64_t mb) {
  switch (mb) {
    case 1:
      return FloatRowBlock<1>(p, t, row, n, m0);
    case 2:
      return FloatRowBlock<2>(p, t, row, n, m0);
    case 3:
      return FloatRowBlock<3>(p, t, row, n, m0);
    case 4:
      return FloatRowBlock<4>(p, t, row, n, m0);
    case 5:
      return FloatRowBlock<5>(p, t, row, n, m0);
    case 6:
      return FloatRowBlock<6>(p, t, row, n, m0);
    case 7:
      return FloatRowBlock<7>(p, t, row, n, m0);
    default:
      return FloatRowBlock<8>(p, t, row, n, m0);
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
      for (int64_t m0 = 0; m0 < p.m; m0 += 8)
        FloatRow(p, rt, row, n, m0, std::min<int64_t>(8, p.m - m0));
    }
  });
}

template <bool kVnni>
void Matmul(const MatmulParams& p, ThreadPool* pool) {
  if (p.m <= 0 || p.n <= 0) return;
  if (!QuantMatmul<kVnni>(p, pool)) FloatMatmul(p, pool);
}

}  // namespace

void MatmulAvx512(const MatmulParams& p, ThreadPool* pool) { Matmul<false>(p, pool); }
void MatmulAvx512Vnni(const MatmulParams& p, ThreadPool* pool) { Matmul<true>(p, pool); }

}  // namespace cachet::kernels::x86
