#include "kernels/x86/avx512_ops.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/ref/ref_kernels.h"

namespace cachet::kernels::x86 {
namespace {

__mmask16 Mask(int64_t rem) {
  return rem >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << rem) - 1);
}

// e^x: x = n ln2 + r, |r| <= ln2/2, e^r by a degree-6 Taylor/Horner polynomial, times 2^n.
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

inline __m512 LoadKv(DType t, const void* row, int64_t i, __mmask16 m) {
  if (t == DType::kF32) return _mm512_maskz_loadu_ps(m, static_cast<const float*>(row) + i);
  const __m256i h = _mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(row) + i);
  if (t == DType::kBF16)
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  return _mm512_cvtph_ps(h);
}

const void* KvRow(const AttentionParams& p, const void* const* blocks, int64_t j, int64_t kvh,
                  int64_t dim) {
  const int64_t esize = p.kv_type == DType::kF32 ? 4 : 2;
  const auto* blk = static_cast<const uint8_t*>(blocks[j / p.block_tokens]);
  return blk + ((j % p.block_tokens) * p.n_kv_heads + kvh) * dim * esize;
}

// One query head: scores, softmax, weighted sum of values (acc has head_dim_v floats + slack).
void OneHead(const AttentionParams& p, int64_t t, int64_t h, std::vector<float>& sc,
             std::vector<float>& acc) {
  const int64_t kvh = h / (p.n_heads / p.n_kv_heads);
  const float* q = p.q + t * p.q_stride + h * p.head_dim;
  float* o = p.out + t * p.out_stride + h * p.head_dim_v;
  const int64_t nk = std::min<int64_t>(static_cast<int64_t>(p.q_pos[t]) + 1, p.n_kv);
  if (nk <= 0) {
    std::fill(o, o + p.head_dim_v, 0.0f);
    return;
  }
  sc.resize(nk);
  float mx = -INFINITY;
  for (int64_t j = 0; j < nk; ++j) {
    const void* k = KvRow(p, p.k_blocks, j, kvh, p.head_dim);
    __m512 s = _mm512_setzero_ps();
    for (int64_t d = 0; d < p.head_dim; d += 16) {
      const __mmask16 m = Mask(p.head_dim - d);
      s = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + d), LoadKv(p.kv_type, k, d, m), s);
    }
    sc[j] = _mm512_reduce_add_ps(s) * p.scale;
    mx = std::max(mx, sc[j]);
  }
  float sum = 0;
  int64_t j = 0;
  __m512 vsum = _mm512_setzero_ps();
  for (; j + 16 <= nk; j += 16) {
    const __m512 e = Exp(_mm512_sub_ps(_mm512_loadu_ps(&sc[j]), _mm512_set1_ps(mx)));
    _mm512_storeu_ps(&sc[j], e);
    vsum = _mm512_add_ps(vsum, e);
  }
  sum = _mm512_reduce_add_ps(vsum);
  for (; j < nk; ++j) {
    sc[j] = std::exp(sc[j] - mx);
    sum += sc[j];
  }
  acc.assign(p.head_dim_v + 16, 0.0f);
  for (int64_t jj = 0; jj < nk; ++jj) {
    const void* v = KvRow(p, p.v_blocks, jj, kvh, p.head_dim_v);
    const __m512 w = _mm512_set1_ps(sc[jj]);
    for (int64_t d = 0; d < p.head_dim_v; d += 16) {
      const __mmask16 m = Mask(p.head_dim_v - d);
      _mm512_storeu_ps(&acc[d],
                       _mm512_fmadd_ps(w, LoadKv(p.kv_type, v, d, m), _mm512_loadu_ps(&acc[d])));
    }
  }
  const __m512 inv = _mm512_set1_ps(1.0f / sum);
  for (int64_t d = 0; d < p.head_dim_v; d += 16) {
    _mm512_mask_storeu_ps(o + d, Mask(p.head_dim_v - d),
                          _mm512_mul_ps(_mm512_loadu_ps(&acc[d]), inv));
  }
}

}  // namespace

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

void AttentionAvx512(const AttentionParams& p, ThreadPool* pool) {
  ref::ParallelRange(pool, p.n_q * p.n_heads, 4, [&](int64_t i0, int64_t i1) {
    std::vector<float> sc, acc;
    for (int64_t i = i0; i < i1; ++i) OneHead(p, i / p.n_heads, i % p.n_heads, sc, acc);
  });
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
