// A minimal scalar implementation of kernels.h (f32 / f16 / q8_0 weights only) so the model tests
// run while src/kernels has no implementation. Linked into model_test ONLY when the build has no
// cachet_kernels target (src/model/CMakeLists.txt); the real reference kernels replace it.
// Straightforward loops: this is a test double, not a spec.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/kernels.h"

namespace cachet::kernels {
namespace {

void DequantizeRow(DType t, const void* src, float* dst, int64_t n) {
  if (t == DType::kF32) {
    std::memcpy(dst, src, n * sizeof(float));
  } else if (t == DType::kF16) {
    const auto* h = static_cast<const f16_t*>(src);
    for (int64_t i = 0; i < n; ++i) dst[i] = F16ToF32(h[i]);
  } else if (t == DType::kQ8_0) {
    const auto* b = static_cast<const BlockQ8_0*>(src);
    for (int64_t i = 0; i < n / kQK8_0; ++i) {
      const float d = F16ToF32(b[i].d);
      for (int j = 0; j < kQK8_0; ++j) dst[i * kQK8_0 + j] = d * b[i].qs[j];
    }
  } else {
    std::fill(dst, dst + n, 0.0f);  // unsupported here; tests only use the types above
  }
}

void Matmul(const MatmulParams& p, ThreadPool*) {
  std::vector<float> row(p.k);
  const int64_t row_bytes = RowBytes(p.w_type, p.k);
  for (int64_t n = 0; n < p.n; ++n) {
    DequantizeRow(p.w_type, static_cast<const uint8_t*>(p.w) + n * row_bytes, row.data(), p.k);
    for (int64_t m = 0; m < p.m; ++m) {
      double s = 0;
      for (int64_t k = 0; k < p.k; ++k) s += static_cast<double>(row[k]) * p.x[m * p.ldx + k];
      float& y = p.y[m * p.ldy + n];
      y = p.accumulate ? y + static_cast<float>(s) : static_cast<float>(s);
    }
  }
}

void RmsNorm(const float* x, int64_t xs, const float* w, float* y, int64_t ys, int64_t rows,
             int64_t n, float eps) {
  for (int64_t r = 0; r < rows; ++r) {
    double ss = 0;
    for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[r * xs + i]) * x[r * xs + i];
    const float scale = 1.0f / std::sqrt(static_cast<float>(ss / n) + eps);
    for (int64_t i = 0; i < n; ++i) y[r * ys + i] = x[r * xs + i] * scale * w[i];
  }
}

void Rope(const RopeParams& p) {
  const int64_t half = p.n_rot / 2;
  for (int64_t t = 0; t < p.n_tokens; ++t) {
    for (int64_t h = 0; h < p.n_heads; ++h) {
      float* x = p.x + t * p.row_stride + h * p.head_dim;
      for (int64_t i = 0; i < half; ++i) {
        const float th = static_cast<float>(p.pos[t]) * p.inv_freq[i];
        const float c = std::cos(th) * p.mscale, s = std::sin(th) * p.mscale;
        const int64_t a = p.mode == RopeMode::kNorm ? 2 * i : i;
        const int64_t b = p.mode == RopeMode::kNorm ? 2 * i + 1 : i + half;
        const float x0 = x[a], x1 = x[b];
        x[a] = x0 * c - x1 * s;
        x[b] = x0 * s + x1 * c;
      }
    }
  }
}

float KvAt(const AttentionParams& p, const void* const* blocks, int64_t j, int64_t kvh, int64_t d,
           int64_t hd) {
  const auto* blk = static_cast<const f16_t*>(blocks[j / p.block_tokens]);
  return F16ToF32(blk[(j % p.block_tokens) * p.n_kv_heads * hd + kvh * hd + d]);
}

void Attention(const AttentionParams& p, ThreadPool*) {
  const int64_t group = p.n_heads / p.n_kv_heads;
  std::vector<float> sc;
  for (int64_t t = 0; t < p.n_q; ++t) {
    for (int64_t h = 0; h < p.n_heads; ++h) {
      const float* q = p.q + t * p.q_stride + h * p.head_dim;
      const int64_t kvh = h / group;
      const int64_t nk = std::min<int64_t>(p.q_pos[t] + 1, p.n_kv);
      sc.assign(nk, 0.0f);
      float mx = -INFINITY;
      for (int64_t j = 0; j < nk; ++j) {
        float s = 0;
        for (int64_t d = 0; d < p.head_dim; ++d)
          s += q[d] * KvAt(p, p.k_blocks, j, kvh, d, p.head_dim);
        sc[j] = s * p.scale;
        mx = std::max(mx, sc[j]);
      }
      double sum = 0;
      for (float& s : sc) {
        s = std::exp(s - mx);
        sum += s;
      }
      float* o = p.out + t * p.out_stride + h * p.head_dim_v;
      for (int64_t d = 0; d < p.head_dim_v; ++d) {
        double acc = 0;
        for (int64_t j = 0; j < nk; ++j)
          acc += sc[j] * KvAt(p, p.v_blocks, j, kvh, d, p.head_dim_v);
        o[d] = static_cast<float>(acc / sum);
      }
    }
  }
}

void Swiglu(const float* g, const float* u, float* o, int64_t n) {
  for (int64_t i = 0; i < n; ++i) o[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
}

void Add(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

const KernelTable kTable{"stub", Matmul, DequantizeRow, RmsNorm, Rope, Attention, Swiglu, Add};

}  // namespace

const KernelTable& Kernels() { return kTable; }
const KernelTable& RefKernels() { return kTable; }
const KernelTable* KernelsFor(std::string_view) { return &kTable; }

Status QuantizeRow(DType t, const float* src, void* dst, int64_t n) {
  if (t == DType::kF32) {
    std::memcpy(dst, src, n * sizeof(float));
  } else if (t == DType::kF16) {
    auto* h = static_cast<f16_t*>(dst);
    for (int64_t i = 0; i < n; ++i) h[i] = F32ToF16(src[i]);
  } else if (t == DType::kQ8_0) {
    auto* b = static_cast<BlockQ8_0*>(dst);
    for (int64_t i = 0; i < n / kQK8_0; ++i) {
      float amax = 0;
      for (int j = 0; j < kQK8_0; ++j) amax = std::max(amax, std::fabs(src[i * kQK8_0 + j]));
      const float d = amax / 127;
      b[i].d = F32ToF16(d);
      for (int j = 0; j < kQK8_0; ++j) {
        b[i].qs[j] = static_cast<int8_t>(d != 0 ? std::lround(src[i * kQK8_0 + j] / d) : 0);
      }
    }
  } else {
    return Unsupported("scalar test stub: type " + std::string(DTypeName(t)));
  }
  return Status::Ok();
}

}  // namespace cachet::kernels
