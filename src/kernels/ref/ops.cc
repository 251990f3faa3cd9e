// Reference element-wise kernels: rms_norm, rope, swiglu, add.
#include <cmath>

#include "kernels/ref/ref_kernels.h"

namespace cachet::kernels::ref {

void RmsNorm(const float* x, int64_t x_stride, const float* w, float* y, int64_t y_stride,
             int64_t n_rows, int64_t n, float eps) {
  for (int64_t r = 0; r < n_rows; ++r) {
    const float* xr = x + r * x_stride;
    float* yr = y + r * y_stride;  // may equal xr (in place): each x is read before y is written
    double ss = 0;
    for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(xr[i]) * xr[i];
    const float scale = static_cast<float>(1.0 / std::sqrt(ss / n + eps));
    for (int64_t i = 0; i < n; ++i) yr[i] = xr[i] * scale * w[i];
  }
}

void Rope(const RopeParams& p) {
  const int64_t half = p.n_rot / 2;
  for (int64_t t = 0; t < p.n_tokens; ++t) {
    for (int64_t i = 0; i < half; ++i) {
      const double th = static_cast<double>(p.pos[t]) * p.inv_freq[i];
      const float c = static_cast<float>(std::cos(th)) * p.mscale;
      const float s = static_cast<float>(std::sin(th)) * p.mscale;
      const int64_t a = p.mode == RopeMode::kNorm ? 2 * i : i;
      const int64_t b = p.mode == RopeMode::kNorm ? 2 * i + 1 : i + half;
      for (int64_t h = 0; h < p.n_heads; ++h) {
        float* x = p.x + t * p.row_stride + h * p.head_dim;
        const float x0 = x[a], x1 = x[b];
        x[a] = x0 * c - x1 * s;
        x[b] = x0 * s + x1 * c;
      }
    }
  }
}

void Swiglu(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];  // out may alias gate: read before write
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void Add(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

}  // namespace cachet::kernels::ref
