// Reference quantizers (the GGUF writer's QuantizeRow): round to nearest with a small per-block
// scale search. Each block's scale is rounded to its stored precision (f16, 6-bit, 8-bit) before
// the values are rounded against it, so what is written is exactly what dequantizes.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "kernels/ref/ref_kernels.h"

namespace cachet::kernels::ref {
namespace {

float RoundF16(float x) { return F16ToF32(F32ToF16(x)); }

// Round to nearest, ties away from zero (inline; std::nearbyint is a library call here).
inline int RoundInt(float v) { return static_cast<int>(v + (v >= 0 ? 0.5f : -0.5f)); }

// Squared error of quantizing x[0..n) symmetrically with scale d into [qmin, qmax].
double SymError(const float* x, int n, float d, int qmin, int qmax) {
  double e = 0;
  const float id = d != 0 ? 1.0f / d : 0.0f;
  for (int i = 0; i < n; ++i) {
    const int q = std::clamp(RoundInt(x[i] * id), qmin, qmax);
    const double r = x[i] - static_cast<double>(q) * d;
    e += r * r;
  }
  return e;
}

// The f16 scale for symmetric quantization into [qmin, qmax]: candidates around the value
// that maps the largest-magnitude element exactly to qmin (or qmax), the best by squared error.
float SearchSymScale(const float* x, int n, int qmin, int qmax) {
  float amax = 0, vmax = 0;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      vmax = x[i];
    }
  }
  if (amax == 0) return 0.0f;
  // The largest-magnitude value maps onto the wider end of the range ([-8, 7]: onto -8, so the
  // scale is negative when that value is positive).
  float best = RoundF16(qmin == -qmax ? amax / qmax : vmax / qmin);
  const float base = best;
  double best_err = SymError(x, n, best, qmin, qmax);
  for (int step = -4; step <= 4; ++step) {
    if (step == 0) continue;
    const float d = RoundF16(base * (1.0f + 0.025f * step));
    const double e = SymError(x, n, d, qmin, qmax);
    if (e < best_err) best_err = e, best = d;
  }
  return best;
}

void QuantQ8_0(const float* x, BlockQ8_0* b, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK8_0) {
    const float d = SearchSymScale(x, kQK8_0, -127, 127);
    const float id = d != 0 ? 1.0f / d : 0.0f;
    b[i].d = F32ToF16(d);
    for (int j = 0; j < kQK8_0; ++j)
      b[i].qs[j] =
          static_cast<int8_t>(std::clamp(static_cast<float>(RoundInt(x[j] * id)), -127.0f, 127.0f));
  }
}

void QuantQ4_0(const float* x, BlockQ4_0* b, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK4_0) {
    const float d = SearchSymScale(x, kQK4_0, -8, 7);
    const float id = d != 0 ? 1.0f / d : 0.0f;
    b[i].d = F32ToF16(d);
    auto q = [&](int j) {
      return static_cast<uint8_t>(std::clamp(static_cast<float>(RoundInt(x[j] * id)), -8.0f, 7.0f) +
                                  8);
    };
    for (int j = 0; j < 16; ++j) b[i].qs[j] = static_cast<uint8_t>(q(j) | (q(j + 16) << 4));
  }
}

void PackKScales(const uint8_t sc[8], const uint8_t m[8], uint8_t* b) {
  for (int s = 0; s < 4; ++s) {
    b[s] = static_cast<uint8_t>(sc[s] | ((sc[s + 4] >> 4) << 6));
    b[s + 4] = static_cast<uint8_t>(m[s] | ((m[s + 4] >> 4) << 6));
    b[s + 8] = static_cast<uint8_t>((sc[s + 4] & 0x0F) | ((m[s + 4] & 0x0F) << 4));
  }
}

// Affine super-block (Q4_K / Q5_K): 8 sub-blocks of 32, x ~ d*sc*q - dmin*m, q in [0, qmax].
// Fills d, dmin, packed scales and the quants q[256].
void QuantAffineK(const float* x, int qmax, f16_t* d16, f16_t* dmin16, uint8_t* scales,
                  uint8_t* q) {
  float a[8], mn[8], amax = 0, mmax = 0;
  for (int s = 0; s < 8; ++s) {
    float lo = 0, hi = 0;  // the min is clamped to <= 0 (stored mins are subtracted)
    for (int l = 0; l < 32; ++l) lo = std::min(lo, x[32 * s + l]), hi = std::max(hi, x[32 * s + l]);
    a[s] = (hi - lo) / qmax;
    mn[s] = -lo;
    amax = std::max(amax, a[s]);
    mmax = std::max(mmax, mn[s]);
  }
  const float d = RoundF16(amax / 63), dmin = RoundF16(mmax / 63);
  *d16 = F32ToF16(d);
  *dmin16 = F32ToF16(dmin);
  uint8_t sc[8], m[8];
  for (int s = 0; s < 8; ++s) {
    sc[s] =
        d > 0
            ? static_cast<uint8_t>(std::clamp(static_cast<float>(RoundInt(a[s] / d)), 0.0f, 63.0f))
            : 0;
    // Round the min up so that the sub-block's smallest value stays representable.
    m[s] = dmin > 0 ? static_cast<uint8_t>(std::clamp(std::ceil(mn[s] / dmin), 0.0f, 63.0f)) : 0;
  }
  PackKScales(sc, m, scales);
  for (int s = 0; s < 8; ++s) {
    const float step = d * sc[s], off = dmin * m[s];
    for (int l = 0; l < 32; ++l) {
      const float v = step > 0 ? static_cast<float>(RoundInt((x[32 * s + l] + off) / step)) : 0.0f;
      q[32 * s + l] = static_cast<uint8_t>(std::clamp(v, 0.0f, static_cast<float>(qmax)));
    }
  }
}

void QuantQ4_K(const float* x, BlockQ4_K* b, int64_t nb) {
  uint8_t q[kQK_K];
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    QuantAffineK(x, 15, &b[i].d, &b[i].dmin, b[i].scales, q);
    for (int c = 0; c < 4; ++c)
      for (int l = 0; l < 32; ++l)
        b[i].qs[32 * c + l] = static_cast<uint8_t>(q[64 * c + l] | (q[64 * c + 32 + l] << 4));
  }
}

void QuantQ5_K(const float* x, BlockQ5_K* b, int64_t nb) {
  uint8_t q[kQK_K];
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    QuantAffineK(x, 31, &b[i].d, &b[i].dmin, b[i].scales, q);
    std::memset(b[i].qh, 0, sizeof(b[i].qh));
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l) {
        const int lo = q[64 * c + l], hi = q[64 * c + 32 + l];
        b[i].qs[32 * c + l] = static_cast<uint8_t>((lo & 0x0F) | ((hi & 0x0F) << 4));
        b[i].qh[l] |= static_cast<uint8_t>(((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1)));
      }
    }
  }
}

void QuantQ6_K(const float* x, BlockQ6_K* b, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    float s[16], smax = 0;
    for (int j = 0; j < 16; ++j) {
      s[j] = SearchSymScale(x + 16 * j, 16, -32, 31);
      smax = std::max(smax, std::fabs(s[j]));
    }
    const float d = RoundF16(smax / 127);
    b[i].d = F32ToF16(d);
    int q[kQK_K];
    for (int j = 0; j < 16; ++j) {
      const int sc =
          d > 0
              ? static_cast<int>(std::clamp(static_cast<float>(RoundInt(s[j] / d)), -127.f, 127.f))
              : 0;
      b[i].scales[j] = static_cast<int8_t>(sc);
      const float step = d * sc;
      for (int l = 0; l < 16; ++l) {
        const float v = step != 0 ? static_cast<float>(RoundInt(x[16 * j + l] / step)) : 0.0f;
        q[16 * j + l] = static_cast<int>(std::clamp(v, -32.0f, 31.0f)) + 32;
      }
    }
    for (int h = 0; h < 2; ++h) {
      uint8_t* L = b[i].ql + 64 * h;
      uint8_t* H = b[i].qh + 32 * h;
      const int* Q = q + 128 * h;
      for (int l = 0; l < 32; ++l) {
        L[l] = static_cast<uint8_t>((Q[l] & 0x0F) | ((Q[l + 64] & 0x0F) << 4));
        L[l + 32] = static_cast<uint8_t>((Q[l + 32] & 0x0F) | ((Q[l + 96] & 0x0F) << 4));
        H[l] = static_cast<uint8_t>((Q[l] >> 4) | ((Q[l + 32] >> 4) << 2) |
                                    ((Q[l + 64] >> 4) << 4) | ((Q[l + 96] >> 4) << 6));
      }
    }
  }
}

constexpr float kFp4Mag[8] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6};

void QuantMXFP4(const float* x, BlockMXFP4* b, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += 32) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
    int e = 0;
    if (amax > 0) e = std::clamp(static_cast<int>(std::ceil(std::log2(amax / 6.0f))) + 127, 0, 254);
    b[i].e = static_cast<uint8_t>(e);
    const float inv = std::ldexp(1.0f, 127 - e);
    auto code = [&](float v) {
      const float a = std::fabs(v) * inv;
      int best = 0;
      for (int c = 1; c < 8; ++c)
        if (std::fabs(kFp4Mag[c] - a) < std::fabs(kFp4Mag[best] - a)) best = c;
      return static_cast<uint8_t>(best | (v < 0 && best != 0 ? 8 : 0));
    };
    for (int j = 0; j < 16; ++j)
      b[i].qs[j] = static_cast<uint8_t>(code(x[j]) | (code(x[j + 16]) << 4));
  }
}

}  // namespace

Status QuantizeRow(DType t, const float* src, void* dst, int64_t n) {
  const auto& tr = Traits(t);
  if (n < 0 || n % tr.block_size != 0) {
    return InvalidArgument("QuantizeRow: " + std::to_string(n) + " values is not a multiple of " +
                           std::to_string(tr.block_size) + " for " + std::string(tr.name));
  }
  switch (t) {
    case DType::kF32:
      std::memcpy(dst, src, n * sizeof(float));
      return Status::Ok();
    case DType::kF16:
      for (int64_t i = 0; i < n; ++i) static_cast<f16_t*>(dst)[i] = F32ToF16(src[i]);
      return Status::Ok();
    case DType::kBF16:
      for (int64_t i = 0; i < n; ++i) static_cast<bf16_t*>(dst)[i] = F32ToBF16(src[i]);
      return Status::Ok();
    case DType::kQ8_0:
      QuantQ8_0(src, static_cast<BlockQ8_0*>(dst), n / 32);
      return Status::Ok();
    case DType::kQ4_0:
      QuantQ4_0(src, static_cast<BlockQ4_0*>(dst), n / 32);
      return Status::Ok();
    case DType::kQ4_K:
      QuantQ4_K(src, static_cast<BlockQ4_K*>(dst), n / 256);
      return Status::Ok();
    case DType::kQ5_K:
      QuantQ5_K(src, static_cast<BlockQ5_K*>(dst), n / 256);
      return Status::Ok();
    case DType::kQ6_K:
      QuantQ6_K(src, static_cast<BlockQ6_K*>(dst), n / 256);
      return Status::Ok();
    case DType::kMXFP4:
      QuantMXFP4(src, static_cast<BlockMXFP4*>(dst), n / 32);
      return Status::Ok();
    default:
      return InvalidArgument("QuantizeRow: cannot quantize to " + std::string(tr.name));
  }
}

}  // namespace cachet::kernels::ref
