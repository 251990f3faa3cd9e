#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/ref/ref_kernels.h"
#include "kernels/x86/avx2_kernels.h"

namespace cachet::kernels::x86 {
namespace {

inline float HSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

// e^x as in avx512_ops.cc; 2^n built in the exponent bits (n clamped so it stays finite; the
// clamp of x to [-87, 88] keeps n in [-126, 127]).
inline __m256 Exp(__m256 x) {
  x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
  x = _mm256_min_ps(x, _mm256_set1_ps(88.0f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428606765330187045e-06f), r);
  __m256 p = _mm256_set1_ps(1.0f / 720);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  const __m256i e =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

inline __m256 LoadKv8(DType t, const void* row, int64_t i) {
  if (t == DType::kF32) return _mm256_loadu_ps(static_cast<const float*>(row) + i);
  const __m128i h =
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(row) + i));
  if (t == DType::kBF16)
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  return _mm256_cvtph_ps(h);
}


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
  const int64_t hd8 = p.head_dim / 8 * 8, hv8 = p.head_dim_v / 8 * 8;
  for (int64_t j = 0; j < nk; ++j) {
    const void* k = AttentionKvRow(p, p.k_blocks, j, kvh, p.head_dim, false);
    __m256 s = _mm256_setzero_ps();
    for (int64_t d = 0; d < hd8; d += 8)
      s = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), LoadKv8(p.kv_type, k, d), s);
    float sj = HSum(s);
    for (int64_t d = hd8; d < p.head_dim; ++d) sj += q[d] * ref::KvLoad(p.kv_type, k, d);
    sc[j] = sj * p.scale;
    mx = std::max(mx, sc[j]);
  }
  float sum = 0;
  int64_t j = 0;
  __m256 vs = _mm256_setzero_ps();
  for (; j + 8 <= nk; j += 8) {
    const __m256 e = Exp(_mm256_sub_ps(_mm256_loadu_ps(&sc[j]), _mm256_set1_ps(mx)));
    _mm256_storeu_ps(&sc[j], e);
    vs = _mm256_add_ps(vs, e);
  }
  sum = HSum(vs);
  for (; j < nk; ++j) sum += (sc[j] = std::exp(sc[j] - mx));
  acc.assign(p.head_dim_v, 0.0f);
  for (int64_t jj = 0; jj < nk; ++jj) {
    const void* v = AttentionKvRow(p, p.v_blocks, jj, kvh, p.head_dim_v, true);
    const __m256 w = _mm256_set1_ps(sc[jj]);
    for (int64_t d = 0; d < hv8; d += 8)
      _mm256_storeu_ps(&acc[d],
                       _mm256_fmadd_ps(w, LoadKv8(p.kv_type, v, d), _mm256_loadu_ps(&acc[d])));
    for (int64_t d = hv8; d < p.head_dim_v; ++d) acc[d] += sc[jj] * ref::KvLoad(p.kv_type, v, d);
  }
  const float inv = 1.0f / sum;
  for (int64_t d = 0; d < p.head_dim_v; ++d) o[d] = acc[d] * inv;
}

}  // namespace

void DequantizeRowAvx2(DType t, const void* src, float* dst, int64_t n) {
  if (t == DType::kF16 || t == DType::kBF16) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, LoadKv8(t, src, i));
    if (i < n) ref::DequantizeRow(t, static_cast<const uint16_t*>(src) + i, dst + i, n - i);
    return;
  }
  ref::DequantizeRow(t, src, dst, n);
}

void RmsNormAvx2(const float* x, int64_t x_stride, const float* w, float* y, int64_t y_stride,
                 int64_t n_rows, int64_t n, float eps) {
  const int64_t n8 = n / 8 * 8;
  for (int64_t r = 0; r < n_rows; ++r) {
    const float* xr = x + r * x_stride;
    float* yr = y + r * y_stride;  // may be xr
    __m256 ss = _mm256_setzero_ps();
    for (int64_t i = 0; i < n8; i += 8) {
      const __m256 v = _mm256_loadu_ps(xr + i);
      ss = _mm256_fmadd_ps(v, v, ss);
    }
    double sum = HSum(ss);
    for (int64_t i = n8; i < n; ++i) sum += double(xr[i]) * xr[i];
    const float scale = static_cast<float>(1.0 / std::sqrt(sum / n + eps));
    const __m256 sv = _mm256_set1_ps(scale);
    for (int64_t i = 0; i < n8; i += 8)
      _mm256_storeu_ps(yr + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(xr + i), sv),
                                             _mm256_loadu_ps(w + i)));
    for (int64_t i = n8; i < n; ++i) yr[i] = xr[i] * scale * w[i];
  }
}

void AttentionAvx2(const AttentionParams& p, ThreadPool* pool) {
  ref::ParallelRange(pool, p.n_q * p.n_heads, 4, [&](int64_t i0, int64_t i1) {
    std::vector<float> sc, acc;
    for (int64_t i = i0; i < i1; ++i) OneHead(p, i / p.n_heads, i % p.n_heads, sc, acc);
  });
}

void SwigluAvx2(const float* gate, const float* up, float* out, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    const __m256 s =
        _mm256_div_ps(g, _mm256_add_ps(one, Exp(_mm256_sub_ps(_mm256_setzero_ps(), g))));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(s, _mm256_loadu_ps(up + i)));
  }
  if (i < n) ref::Swiglu(gate + i, up + i, out + i, n - i);
}

void AddAvx2(float* y, const float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_loadu_ps(x + i)));
  for (; i < n; ++i) y[i] += x[i];
}

}  // namespace cachet::kernels::x86
