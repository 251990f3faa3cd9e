// Row dequantizers used by the AMX GEMM to build bf16 weight panels (gguf.md §6 formulas).
// Plain loops written so the compiler vectorizes the inner 16/32-element runs.
#include <immintrin.h>

#include <cstring>

#include "kernels/x86/amx_matmul.h"

// GCC 12 reports the `__Y = __Y` idiom inside the AVX-512 conversion intrinsics as
// maybe-uninitialized once they are inlined (GCC bug 105593); the values are fully written.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace cachet::kernels::internal {
namespace {

void DequantQ8_0(const BlockQ8_0* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK8_0) {
    const float d = F16ToF32(b[i].d);
    for (int j = 0; j < kQK8_0; ++j) y[j] = d * static_cast<float>(b[i].qs[j]);
  }
}

void DequantQ4_0(const BlockQ4_0* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK4_0) {
    const float d = F16ToF32(b[i].d);
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      y[j] = d * static_cast<float>((b[i].qs[j] & 0x0F) - 8);
      y[j + 16] = d * static_cast<float>((b[i].qs[j] >> 4) - 8);
    }
  }
}

void DequantQ4_K(const BlockQ4_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = F16ToF32(b[i].d), dmin = F16ToF32(b[i].dmin);
    uint8_t sc[8], m[8];
    UnpackKScales(b[i].scales, sc, m);
    for (int c = 0; c < 4; ++c, y += 64) {
      const uint8_t* q = b[i].qs + 32 * c;
      const float d0 = d * sc[2 * c], m0 = dmin * m[2 * c];
      const float d1 = d * sc[2 * c + 1], m1 = dmin * m[2 * c + 1];
      for (int l = 0; l < 32; ++l) {
        y[l] = d0 * static_cast<float>(q[l] & 0x0F) - m0;
        y[l + 32] = d1 * static_cast<float>(q[l] >> 4) - m1;
      }
    }
  }
}

void DequantQ5_K(const BlockQ5_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = F16ToF32(b[i].d), dmin = F16ToF32(b[i].dmin);
    uint8_t sc[8], m[8];
    UnpackKScales(b[i].scales, sc, m);
    for (int c = 0; c < 4; ++c, y += 64) {
      const uint8_t* q = b[i].qs + 32 * c;
      const float d0 = d * sc[2 * c], m0 = dmin * m[2 * c];
      const float d1 = d * sc[2 * c + 1], m1 = dmin * m[2 * c + 1];
      for (int l = 0; l < 32; ++l) {
        const int lo = (q[l] & 0x0F) + 16 * ((b[i].qh[l] >> (2 * c)) & 1);
        const int hi = (q[l] >> 4) + 16 * ((b[i].qh[l] >> (2 * c + 1)) & 1);
        y[l] = d0 * static_cast<float>(lo) - m0;
        y[l + 32] = d1 * static_cast<float>(hi) - m1;
      }
    }
  }
}

void DequantQ6_K(const BlockQ6_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK_K) {
    const float d = F16ToF32(b[i].d);
    for (int h = 0; h < 2; ++h) {
      const uint8_t* lq = b[i].ql + 64 * h;
      const uint8_t* hq = b[i].qh + 32 * h;
      float* yh = y + 128 * h;
      const int8_t* sc = b[i].scales + 8 * h;
      for (int l = 0; l < 32; ++l) {
        const int s = l / 16;
        yh[l] = d * sc[s] * static_cast<float>(((lq[l] & 0x0F) | (((hq[l] >> 0) & 3) << 4)) - 32);
        yh[l + 32] = d * sc[s + 2] *
                     static_cast<float>(((lq[l + 32] & 0x0F) | (((hq[l] >> 2) & 3) << 4)) - 32);
        yh[l + 64] =
            d * sc[s + 4] * static_cast<float>(((lq[l] >> 4) | (((hq[l] >> 4) & 3) << 4)) - 32);
        yh[l + 96] = d * sc[s + 6] *
                     static_cast<float>(((lq[l + 32] >> 4) | (((hq[l] >> 6) & 3) << 4)) - 32);
      }
    }
  }
}

// ---- AVX-512 (F + BF16) row decoders straight to bf16 ------------------------------------

inline void StoreBF16x32(uint16_t* dst, __m512 lo, __m512 hi) {
  _mm512_storeu_si512(dst, reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo)));
}

inline __m512 U8x16ToPs(__m128i v) { return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(v)); }

void VecF16(const f16_t* s, uint16_t* y, int64_t n) {
  for (int64_t i = 0; i < n; i += 32) {
    const __m512 lo = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i)));
    const __m512 hi =
        _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i + 16)));
    StoreBF16x32(y + i, lo, hi);
  }
}

void VecQ8_0(const BlockQ8_0* b, uint16_t* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK8_0) {
    const __m512 d = _mm512_set1_ps(_cvtsh_ss(b[i].d));
    const __m128i q0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[i].qs));
    const __m128i q1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[i].qs + 16));
    StoreBF16x32(y, _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q0))),
                 _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q1))));
  }
}

void VecQ4_0(const BlockQ4_0* b, uint16_t* y, int64_t nb) {
  const __m128i low4 = _mm_set1_epi8(0x0F);
  const __m512 eight = _mm512_set1_ps(8.0f);
  for (int64_t i = 0; i < nb; ++i, y += kQK4_0) {
    const __m512 d = _mm512_set1_ps(_cvtsh_ss(b[i].d));
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[i].qs));
    const __m512 lo = U8x16ToPs(_mm_and_si128(q, low4));
    const __m512 hi = U8x16ToPs(_mm_and_si128(_mm_srli_epi16(q, 4), low4));
    StoreBF16x32(y, _mm512_mul_ps(d, _mm512_sub_ps(lo, eight)),
                 _mm512_mul_ps(d, _mm512_sub_ps(hi, eight)));
  }
}

void VecQ4_K(const BlockQ4_K* b, uint16_t* y, int64_t nb) {
  const __m128i low4 = _mm_set1_epi8(0x0F);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = _cvtsh_ss(b[i].d), dmin = _cvtsh_ss(b[i].dmin);
    uint8_t sc[8], m[8];
    UnpackKScales(b[i].scales, sc, m);
    for (int c = 0; c < 4; ++c, y += 64) {
      const uint8_t* q = b[i].qs + 32 * c;
      const __m512 d0 = _mm512_set1_ps(d * sc[2 * c]), m0 = _mm512_set1_ps(dmin * m[2 * c]);
      const __m512 d1 = _mm512_set1_ps(d * sc[2 * c + 1]);
      const __m512 m1 = _mm512_set1_ps(dmin * m[2 * c + 1]);
      const __m128i qa = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
      const __m128i qb = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + 16));
      const __m128i ha = _mm_and_si128(_mm_srli_epi16(qa, 4), low4);
      const __m128i hb = _mm_and_si128(_mm_srli_epi16(qb, 4), low4);
      StoreBF16x32(y, _mm512_fmsub_ps(d0, U8x16ToPs(_mm_and_si128(qa, low4)), m0),
                   _mm512_fmsub_ps(d0, U8x16ToPs(_mm_and_si128(qb, low4)), m0));
      StoreBF16x32(y + 32, _mm512_fmsub_ps(d1, U8x16ToPs(ha), m1),
                   _mm512_fmsub_ps(d1, U8x16ToPs(hb), m1));
    }
  }
}

// One 16-value group of Q6_K: low nibbles in `l4` (already shifted), 2 high bits at 0x30 in `h2`.
inline __m512 Q6Group(__m128i l4, __m128i h2, float scale) {
  const __m512i q = _mm512_cvtepu8_epi32(
      _mm_or_si128(_mm_and_si128(l4, _mm_set1_epi8(0x0F)), _mm_and_si128(h2, _mm_set1_epi8(0x30))));
  return _mm512_mul_ps(_mm512_set1_ps(scale),
                       _mm512_cvtepi32_ps(_mm512_sub_epi32(q, _mm512_set1_epi32(32))));
}

void VecQ6_K(const BlockQ6_K* b, uint16_t* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = _cvtsh_ss(b[i].d);
    for (int h = 0; h < 2; ++h) {
      __m512 out[4][2];  // [part][group]
      for (int g = 0; g < 2; ++g) {
        const uint8_t* lq = b[i].ql + 64 * h + 16 * g;
        const __m128i la = _mm_loadu_si128(reinterpret_cast<const __m128i*>(lq));
        const __m128i lb = _mm_loadu_si128(reinterpret_cast<const __m128i*>(lq + 32));
        const __m128i hh =
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[i].qh + 32 * h + 16 * g));
        const int8_t* sc = b[i].scales + 8 * h + g;
        out[0][g] = Q6Group(la, _mm_slli_epi16(hh, 4), d * sc[0]);
        out[1][g] = Q6Group(lb, _mm_slli_epi16(hh, 2), d * sc[2]);
        out[2][g] = Q6Group(_mm_srli_epi16(la, 4), hh, d * sc[4]);
        out[3][g] = Q6Group(_mm_srli_epi16(lb, 4), _mm_srli_epi16(hh, 2), d * sc[6]);
      }
      for (int part = 0; part < 4; ++part) {
        StoreBF16x32(y + 128 * h + 32 * part, out[part][0], out[part][1]);
      }
    }
    y += kQK_K;
  }
}

}  // namespace

bool AmxDequantizeRowBF16(DType t, const void* src, uint16_t* dst, int64_t n) {
  switch (t) {
    case DType::kF16:
      VecF16(static_cast<const f16_t*>(src), dst, n);
      return true;
    case DType::kQ8_0:
      VecQ8_0(static_cast<const BlockQ8_0*>(src), dst, n / kQK8_0);
      return true;
    case DType::kQ4_0:
      VecQ4_0(static_cast<const BlockQ4_0*>(src), dst, n / kQK4_0);
      return true;
    case DType::kQ4_K:
      VecQ4_K(static_cast<const BlockQ4_K*>(src), dst, n / kQK_K);
      return true;
    case DType::kQ6_K:
      VecQ6_K(static_cast<const BlockQ6_K*>(src), dst, n / kQK_K);
      return true;
    default:
      return false;
  }
}

bool AmxDequantizeRow(DType t, const void* src, float* dst, int64_t n) {
  switch (t) {
    case DType::kF32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return true;
    case DType::kF16: {
      const auto* s = static_cast<const f16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = _cvtsh_ss(s[i]);
      return true;
    }
    case DType::kBF16: {
      const auto* s = static_cast<const bf16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = BF16ToF32(s[i]);
      return true;
    }
    case DType::kQ8_0:
      DequantQ8_0(static_cast<const BlockQ8_0*>(src), dst, n / kQK8_0);
      return true;
    case DType::kQ4_0:
      DequantQ4_0(static_cast<const BlockQ4_0*>(src), dst, n / kQK4_0);
      return true;
    case DType::kQ4_K:
      DequantQ4_K(static_cast<const BlockQ4_K*>(src), dst, n / kQK_K);
      return true;
    case DType::kQ5_K:
      DequantQ5_K(static_cast<const BlockQ5_K*>(src), dst, n / kQK_K);
      return true;
    case DType::kQ6_K:
      DequantQ6_K(static_cast<const BlockQ6_K*>(src), dst, n / kQK_K);
      return true;
    default:
      return false;
  }
}

}  // namespace cachet::kernels::internal
