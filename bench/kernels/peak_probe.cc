#include "peak_probe.h"

#include <immintrin.h>

namespace cachet::bench {

// 12 independent accumulators: enough to cover the instruction latency (4-5 cycles) on two
// ports. (An earlier 8-chain version with a register barrier every iteration read 2-4x low.)
constexpr int kChains = 12;

double FmaF32Probe(int64_t iters) {
  __m512 a[kChains];
  for (int i = 0; i < kChains; ++i) a[i] = _mm512_set1_ps(1.0f + i * 1e-3f);
  const __m512 b = _mm512_set1_ps(0.999999f);
  alignas(64) static float c[64];
  for (int64_t it = 0; it < iters; ++it) {
    const float* cc = c + (it & 31);
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) a[i] = _mm512_fmadd_ps(a[i], b, _mm512_set1_ps(cc[i % 4]));
  }
  __m512 s = a[0];
  for (int i = 1; i < kChains; ++i) s = _mm512_add_ps(s, a[i]);
  volatile float sink = _mm512_reduce_add_ps(s);
  (void)sink;
  return static_cast<double>(iters) * kChains * 16 * 2;
}

double DpbusdProbe(int64_t iters) {
  __m512i a[kChains];
  for (int i = 0; i < kChains; ++i) a[i] = _mm512_set1_epi32(i);
  const __m512i w0 = _mm512_set1_epi8(3), w1 = _mm512_set1_epi8(5);
  alignas(64) static int32_t x[64];
  for (int64_t it = 0; it < iters; ++it) {
    const int32_t* xx = x + (it & 31);
#pragma GCC unroll 6
    for (int i = 0; i < kChains / 2; ++i) {  // the packed kernel's shape: broadcast activations
      const __m512i xb = _mm512_set1_epi32(xx[i]);
      a[2 * i] = _mm512_dpbusd_epi32(a[2 * i], w0, xb);
      a[2 * i + 1] = _mm512_dpbusd_epi32(a[2 * i + 1], w1, xb);
    }
  }
  __m512i s = a[0];
  for (int i = 1; i < kChains; ++i) s = _mm512_add_epi32(s, a[i]);
  volatile int sink = _mm512_reduce_add_epi32(s);
  (void)sink;
  return static_cast<double>(iters) * kChains * 64 * 2;
}

float StreamRead(const float* p, int64_t n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    s0 = _mm512_add_ps(s0, _mm512_load_ps(p + i));
    s1 = _mm512_add_ps(s1, _mm512_load_ps(p + i + 16));
    s2 = _mm512_add_ps(s2, _mm512_load_ps(p + i + 32));
    s3 = _mm512_add_ps(s3, _mm512_load_ps(p + i + 48));
  }
  float r = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
  for (; i < n; ++i) r += p[i];
  return r;
}

}  // namespace cachet::bench
