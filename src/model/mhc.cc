#include "model/mhc.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace cachet::model {
namespace {

float Sigmoid(float v) { return 1.0f / (1.0f + std::exp(-v)); }

// m = W (f / rms(f)) for f = vec(x) [hc*d]; W has n_out rows of hc*d.
std::vector<float> Project(const MhcDims& m, const float* x, const float* fn, int64_t n_out) {
  const int64_t n = m.hc * m.d;
  double ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const double inv = 1.0 / std::sqrt(ss / n + m.norm_eps);
  std::vector<float> out(n_out);
  for (int64_t r = 0; r < n_out; ++r) {
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += static_cast<double>(fn[r * n + i]) * x[i];
    out[r] = static_cast<float>(s * inv);
  }
  return out;
}

void NormalizeRows(float* c, int64_t hc, float eps) {
  for (int64_t a = 0; a < hc; ++a) {
    double s = 0;
    for (int64_t b = 0; b < hc; ++b) s += c[a * hc + b];
    for (int64_t b = 0; b < hc; ++b) c[a * hc + b] = static_cast<float>(c[a * hc + b] / (s + eps));
  }
}

void NormalizeColumns(float* c, int64_t hc, float eps) {
  for (int64_t b = 0; b < hc; ++b) {
    double s = 0;
    for (int64_t a = 0; a < hc; ++a) s += c[a * hc + b];
    for (int64_t a = 0; a < hc; ++a) c[a * hc + b] = static_cast<float>(c[a * hc + b] / (s + eps));
  }
}

}  // namespace

void Sinkhorn(float* c, int64_t hc, int n_sinkhorn, float eps) {
  for (int64_t a = 0; a < hc; ++a) {
    float* row = c + a * hc;
    const float mx = *std::max_element(row, row + hc);
    double s = 0;
    for (int64_t b = 0; b < hc; ++b) s += std::exp(row[b] - mx);
    for (int64_t b = 0; b < hc; ++b) row[b] = static_cast<float>(std::exp(row[b] - mx) / s) + eps;
  }
  NormalizeColumns(c, hc, eps);
  for (int i = 1; i < n_sinkhorn; ++i) {
    NormalizeRows(c, hc, eps);
    NormalizeColumns(c, hc, eps);
  }
}

void MhcPre(const MhcDims& m, const float* x, const float* fn, const float* base,
            const float* scale, float* u, float* post, float* c) {
  const int64_t hc = m.hc, d = m.d;
  const std::vector<float> p = Project(m, x, fn, (2 + hc) * hc);
  std::fill(u, u + d, 0.0f);
  for (int64_t s = 0; s < hc; ++s) {
    const float pre = Sigmoid(p[s] * scale[0] + base[s]) + m.eps_hc;
    for (int64_t i = 0; i < d; ++i) u[i] += pre * x[s * d + i];
    post[s] = 2.0f * Sigmoid(p[hc + s] * scale[1] + base[hc + s]);
  }
  for (int64_t j = 0; j < hc * hc; ++j) c[j] = p[2 * hc + j] * scale[2] + base[2 * hc + j];
  Sinkhorn(c, hc, m.n_sinkhorn, m.eps_hc);
}

void MhcPost(const MhcDims& m, const float* y, const float* post, const float* c, const float* x,
             float* x_out) {
  const int64_t hc = m.hc, d = m.d;
  for (int64_t b = 0; b < hc; ++b) {
    float* o = x_out + b * d;
    for (int64_t i = 0; i < d; ++i) o[i] = post[b] * y[i];
    for (int64_t a = 0; a < hc; ++a) {
      const float w = c[a * hc + b];
      for (int64_t i = 0; i < d; ++i) o[i] += w * x[a * d + i];
    }
  }
}

void MhcHead(const MhcDims& m, const float* x, const float* fn, const float* base,
             const float* scale, float* u) {
  const std::vector<float> p = Project(m, x, fn, m.hc);
  std::fill(u, u + m.d, 0.0f);
  for (int64_t s = 0; s < m.hc; ++s) {
    const float pre = Sigmoid(p[s] * scale[0] + base[s]) + m.eps_hc;
    for (int64_t i = 0; i < m.d; ++i) u[i] += pre * x[s * m.d + i];
  }
}

}  // namespace cachet::model
