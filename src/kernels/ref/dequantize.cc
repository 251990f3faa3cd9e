// Reference decoders for every block type (gguf.md §6), written from the spec's pseudo-code.
#include <cmath>
#include <cstring>

#include "kernels/ref/ref_kernels.h"

namespace cachet::kernels::ref {
namespace {

void DequantQ8_0(const BlockQ8_0* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = F16ToF32(b[i].d);
    for (int j = 0; j < kQK8_0; ++j) y[i * kQK8_0 + j] = d * b[i].qs[j];
  }
}

void DequantQ4_0(const BlockQ4_0* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = F16ToF32(b[i].d);
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      y[i * kQK4_0 + j] = d * ((b[i].qs[j] & 0x0F) - 8);
      y[i * kQK4_0 + j + 16] = d * ((b[i].qs[j] >> 4) - 8);
    }
  }
}

void DequantQ4_K(const BlockQ4_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK_K) {
    const float d = F16ToF32(b[i].d), dmin = F16ToF32(b[i].dmin);
    uint8_t sc[8], m[8];
    UnpackKScales(b[i].scales, sc, m);
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l) {
        const uint8_t q = b[i].qs[32 * c + l];
        y[64 * c + l] = d * sc[2 * c] * (q & 0x0F) - dmin * m[2 * c];
        y[64 * c + 32 + l] = d * sc[2 * c + 1] * (q >> 4) - dmin * m[2 * c + 1];
      }
    }
  }
}

void DequantQ5_K(const BlockQ5_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK_K) {
    const float d = F16ToF32(b[i].d), dmin = F16ToF32(b[i].dmin);
    uint8_t sc[8], m[8];
    UnpackKScales(b[i].scales, sc, m);
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l) {
        const uint8_t q = b[i].qs[32 * c + l];
        const int h_lo = (b[i].qh[l] >> (2 * c)) & 1, h_hi = (b[i].qh[l] >> (2 * c + 1)) & 1;
        y[64 * c + l] = d * sc[2 * c] * ((q & 0x0F) + 16 * h_lo) - dmin * m[2 * c];
        y[64 * c + 32 + l] = d * sc[2 * c + 1] * ((q >> 4) + 16 * h_hi) - dmin * m[2 * c + 1];
      }
    }
  }
}

void DequantQ6_K(const BlockQ6_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK_K) {
    const float d = F16ToF32(b[i].d);
    for (int h = 0; h < 2; ++h) {
      const uint8_t* L = b[i].ql + 64 * h;
      const uint8_t* H = b[i].qh + 32 * h;
      float* o = y + 128 * h;
      for (int l = 0; l < 32; ++l) {
        const int q0 = (L[l] & 0x0F) | (((H[l] >> 0) & 3) << 4);
        const int q1 = (L[l + 32] & 0x0F) | (((H[l] >> 2) & 3) << 4);
        const int q2 = (L[l] >> 4) | (((H[l] >> 4) & 3) << 4);
        const int q3 = (L[l + 32] >> 4) | (((H[l] >> 6) & 3) << 4);
        const int8_t* sc = b[i].scales + 8 * h;
        o[l] = d * sc[l / 16] * (q0 - 32);
        o[l + 32] = d * sc[2 + l / 16] * (q1 - 32);
        o[l + 64] = d * sc[4 + l / 16] * (q2 - 32);
        o[l + 96] = d * sc[6 + l / 16] * (q3 - 32);
      }
    }
  }
}

constexpr float kFp4[16] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6, -0.0f, -0.5f, -1, -1.5f, -2, -3, -4, -6};

void DequantMXFP4(const BlockMXFP4* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float s = std::ldexp(1.0f, static_cast<int>(b[i].e) - 127);
    for (int j = 0; j < 16; ++j) {
      y[i * 32 + j] = kFp4[b[i].qs[j] & 0x0F] * s;
      y[i * 32 + j + 16] = kFp4[b[i].qs[j] >> 4] * s;
    }
  }
}

template <typename T>
void Widen(const void* src, float* dst, int64_t n) {
  T v;
  for (int64_t i = 0; i < n; ++i) {
    std::memcpy(&v, static_cast<const uint8_t*>(src) + i * sizeof(T), sizeof(T));
    dst[i] = static_cast<float>(v);
  }
}

}  // namespace

void DequantizeRow(DType t, const void* src, float* dst, int64_t n) {
  switch (t) {
    case DType::kF32:
      std::memcpy(dst, src, n * sizeof(float));
      return;
    case DType::kF16: {
      const auto* h = static_cast<const f16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = F16ToF32(h[i]);
      return;
    }
    case DType::kBF16: {
      const auto* h = static_cast<const bf16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = BF16ToF32(h[i]);
      return;
    }
    case DType::kQ8_0:
      DequantQ8_0(static_cast<const BlockQ8_0*>(src), dst, n / kQK8_0);
      return;
    case DType::kQ4_0:
      DequantQ4_0(static_cast<const BlockQ4_0*>(src), dst, n / kQK4_0);
      return;
    case DType::kQ4_K:
      DequantQ4_K(static_cast<const BlockQ4_K*>(src), dst, n / kQK_K);
      return;
    case DType::kQ5_K:
      DequantQ5_K(static_cast<const BlockQ5_K*>(src), dst, n / kQK_K);
      return;
    case DType::kQ6_K:
      DequantQ6_K(static_cast<const BlockQ6_K*>(src), dst, n / kQK_K);
      return;
    case DType::kMXFP4:
      DequantMXFP4(static_cast<const BlockMXFP4*>(src), dst, n / 32);
      return;
    case DType::kI8:
      Widen<int8_t>(src, dst, n);
      return;
    case DType::kI16:
      Widen<int16_t>(src, dst, n);
      return;
    case DType::kI32:
      Widen<int32_t>(src, dst, n);
      return;
    case DType::kI64:
      Widen<int64_t>(src, dst, n);
      return;
    case DType::kF64:
      Widen<double>(src, dst, n);
      return;
    default:
      for (int64_t i = 0; i < n; ++i) dst[i] = 0.0f;
      return;
  }
}

}  // namespace cachet::kernels::ref
