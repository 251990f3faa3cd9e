#include "kernels/x86/avx512_ops.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/ref/ref_kernels.h"
#include "kernels/x86/avx512_math.h"

namespace cachet::kernels::x86 {

void DequantizeRowAvx512(DType t, const void* src, float* dst, int64_t n) {
  if (t == DType::kF16 || t == DType::kBF16) {
    for (int64_t i = 0; i < n; i += 16) {
      const __mmask16 m = Mask(n - i);
      _mm512_mask_storeu_ps(dst + i, m, LoadKv(t, src, i, m));
    }
    return;
  }
  ref::DequantizeRow(t, src, dst, n);
}

void RmsNormAvx512(const float* x, int64_t x_stride, const float* w, float* y, int64_t y_stride,
                   int64_t n_rows, int64_t n, float eps) {
  for (int64_t r = 0; r < n_rows; ++r) {
    const float* xr = x + r * x_stride;
    float* yr = y + r * y_stride;
    __m512 ss = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += 16) {
      const __m512 v = _mm512_maskz_loadu_ps(Mask(n - i), xr + i);
      ss = _mm512_fmadd_ps(v, v, ss);
    }
    const double mean = static_cast<double>(_mm512_reduce_add_ps(ss)) / n;
    const __m512 scale = _mm512_set1_ps(static_cast<float>(1.0 / std::sqrt(mean + eps)));
    for (int64_t i = 0; i < n; i += 16) {  // in place is fine: element i is read, then written
      const __mmask16 m = Mask(n - i);
      const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, xr + i), scale);
      _mm512_mask_storeu_ps(yr + i, m, _mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, w + i)));
    }
  }
}

void SwigluAvx512(const float* gate, const float* up, float* out, int64_t n) {
  const __m512 one = _mm512_set1_ps(1.0f);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = Mask(n - i);
    const __m512 g = _mm512_maskz_loadu_ps(m, gate + i);
    const __m512 s =
        _mm512_div_ps(g, _mm512_add_ps(one, Exp(_mm512_sub_ps(_mm512_setzero_ps(), g))));
    _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(s, _mm512_maskz_loadu_ps(m, up + i)));
  }
}

void AddAvx512(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = Mask(n - i);
    _mm512_mask_storeu_ps(
        y + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, y + i), _mm512_maskz_loadu_ps(m, x + i)));
  }
}

}  // namespace cachet::kernels::x86
