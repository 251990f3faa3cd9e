// Small AVX-512 helpers shared by the element-wise and attention kernels. Include only from
// translation units compiled with the AVX-512 flags (src/kernels/CMakeLists.txt).
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "tensor/dtype.h"

namespace cachet::kernels::x86 {

// Lanes [0, rem) of 16 (none for rem <= 0, all for rem >= 16).
inline __mmask16 Mask(int64_t rem) {
  return rem >= 16  ? static_cast<__mmask16>(0xFFFF)
         : rem <= 0 ? static_cast<__mmask16>(0)
                    : static_cast<__mmask16>((1u << rem) - 1);
}

// e^x: x = n ln2 + r, |r| <= ln2/2, e^r by a degree-6 Taylor/Horner polynomial, times 2^n
// (relative error < 3e-7; inputs clamped to [-104, 89]).
inline __m512 Exp(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-104.0f));
  x = _mm512_min_ps(x, _mm512_set1_ps(89.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187045e-06f), r);
  __m512 p = _mm512_set1_ps(1.0f / 720);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

// 16 values (lanes in m) of an f32, f16 or bf16 row starting at element i, as f32.
inline __m512 LoadKv(DType t, const void* row, int64_t i, __mmask16 m) {
  if (t == DType::kF32) return _mm512_maskz_loadu_ps(m, static_cast<const float*>(row) + i);
  const __m256i h = _mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(row) + i);
  if (t == DType::kBF16) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  return _mm512_cvtph_ps(h);
}

}  // namespace cachet::kernels::x86
