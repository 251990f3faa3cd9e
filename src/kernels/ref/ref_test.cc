// Reference kernels against values computed by hand from ../shared/specs/gguf.md §6 and against
// naive restatements of the kernels.h contracts (f64, dense KV, complex rotations).
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/kernels.h"
#include "kernels/ref/ref_kernels.h"

namespace cachet::kernels {
namespace {

std::vector<float> Deq(DType t, const void* src, int64_t n) {
  std::vector<float> y(n, -999.0f);
  RefKernels().dequantize_row(t, src, y.data(), n);
  return y;
}

TEST(RefDequant, F16AndBF16) {
  const f16_t h[4] = {0x3C00, 0xC000, 0x0001, 0x7BFF};
  auto y = Deq(DType::kF16, h, 4);
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[1], -2.0f);
  EXPECT_EQ(y[2], std::ldexp(1.0f, -24));
  EXPECT_EQ(y[3], 65504.0f);
  const bf16_t b[2] = {0x3F80, 0xC040};
  y = Deq(DType::kBF16, b, 2);
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[1], -3.0f);
}

TEST(RefDequant, Q8_0) {
  BlockQ8_0 b;
  b.d = 0x3800;  // 0.5
  for (int j = 0; j < 32; ++j) b.qs[j] = static_cast<int8_t>(j - 16);
  auto y = Deq(DType::kQ8_0, &b, 32);
  EXPECT_EQ(y[0], -8.0f);
  EXPECT_EQ(y[16], 0.0f);
  EXPECT_EQ(y[31], 7.5f);
}

TEST(RefDequant, Q4_0LowNibblesFirstHalf) {
  BlockQ4_0 b;
  b.d = 0x4000;  // 2
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  auto y = Deq(DType::kQ4_0, &b, 32);
  EXPECT_EQ(y[0], -16.0f);   // 2 * (0 - 8)
  EXPECT_EQ(y[15], 14.0f);   // 2 * (15 - 8)
  EXPECT_EQ(y[16], 14.0f);   // high nibble of qs[0] = 15
  EXPECT_EQ(y[31], -16.0f);  // high nibble of qs[15] = 0
}

TEST(RefDequant, Q4_K) {
  BlockQ4_K b;
  b.d = 0x3C00;     // 1
  b.dmin = 0x3800;  // 0.5
  // sc = {1,2,3,4,5,6,7,63}, m = {0,1,2,3,4,5,6,40}, packed per gguf.md §6.5.
  const uint8_t sc[8] = {1, 2, 3, 4, 5, 6, 7, 63}, m[8] = {0, 1, 2, 3, 4, 5, 6, 40};
  for (int s = 0; s < 4; ++s) {
    b.scales[s] = static_cast<uint8_t>(sc[s] | ((sc[s + 4] >> 4) << 6));
    b.scales[s + 4] = static_cast<uint8_t>(m[s] | ((m[s + 4] >> 4) << 6));
    b.scales[s + 8] = static_cast<uint8_t>((sc[s + 4] & 15) | ((m[s + 4] & 15) << 4));
  }
  for (int l = 0; l < 128; ++l) b.qs[l] = static_cast<uint8_t>((l % 16) | ((15 - l % 16) << 4));
  auto y = Deq(DType::kQ4_K, &b, 256);
  EXPECT_EQ(y[7], 7.0f);      // sub 0, low nibble 7: 1*1*7 - 0.5*0
  EXPECT_EQ(y[37], 19.5f);    // sub 1, high nibble of qs[5] = 10: 2*10 - 0.5*1
  EXPECT_EQ(y[200], 53.0f);   // sub 6, low nibble of qs[104] = 8: 7*8 - 0.5*6
  EXPECT_EQ(y[227], 736.0f);  // sub 7, high nibble of qs[99] = 12: 63*12 - 0.5*40
}

TEST(RefDequant, Q5_K) {
  BlockQ5_K b;
  b.d = 0x3C00;
  b.dmin = 0x3C00;
  for (int s = 0; s < 4; ++s) b.scales[s] = 2, b.scales[s + 4] = 1, b.scales[s + 8] = 0x12;
  std::memset(b.qh, 0xA5, 32);          // bits 0,2,5,7 set
  std::memset(b.qs, 0x53, 128);         // low 3, high 5
  auto y = Deq(DType::kQ5_K, &b, 256);  // every value is 2*q - 1
  EXPECT_EQ(y[0], 37.0f);               // q = 3 + 16
  EXPECT_EQ(y[40], 9.0f);               // q = 5 (bit 1 clear)
  EXPECT_EQ(y[70], 37.0f);              // bit 2 set
  EXPECT_EQ(y[130], 5.0f);              // bit 4 clear
  EXPECT_EQ(y[170], 41.0f);             // q = 5 + 16 (bit 5)
  EXPECT_EQ(y[255], 41.0f);             // bit 7
}

TEST(RefDequant, Q6_K) {
  BlockQ6_K b;
  std::memset(b.ql, 0x21, 128);  // low nibble 1, high nibble 2
  std::memset(b.qh, 0xE4, 64);   // 2-bit fields 0,1,2,3
  for (int s = 0; s < 16; ++s) b.scales[s] = static_cast<int8_t>(s - 8);
  b.d = 0x3400;  // 0.25
  auto y = Deq(DType::kQ6_K, &b, 256);
  // q0 = 1, q1 = 17, q2 = 34, q3 = 50; value = 0.25 * (i/16 - 8) * (q - 32)
  EXPECT_EQ(y[0], 62.0f);
  EXPECT_EQ(y[40], 22.5f);
  EXPECT_EQ(y[70], -2.0f);
  EXPECT_EQ(y[100], -9.0f);
  EXPECT_EQ(y[130], 0.0f);
  EXPECT_EQ(y[250], 31.5f);
}

TEST(RefDequant, MXFP4) {
  BlockMXFP4 b;
  b.e = 128;  // x 2
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  auto y = Deq(DType::kMXFP4, &b, 32);
  EXPECT_EQ(y[3], 3.0f);
  EXPECT_EQ(y[7], 12.0f);
  EXPECT_EQ(y[9], -1.0f);
  EXPECT_EQ(y[16], -12.0f);
  EXPECT_EQ(y[23], 0.0f);
}

std::vector<float> Randn(int64_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

// Matmul vs an f64 dot of the dequantized rows, every compute type, accumulate and strides.
TEST(RefMatmul, MatchesF64DotOfDequantizedRows) {
  const int64_t M = 3, N = 7, K = 512, ldx = K + 5, ldy = N + 3;
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0, DType::kQ4_K,
                  DType::kQ5_K, DType::kQ6_K, DType::kMXFP4}) {
    SCOPED_TRACE(std::string(DTypeName(t)));
    const auto wf = Randn(N * K, 1);
    const int64_t rb = RowBytes(t, K);
    std::vector<uint8_t> w(N * rb);
    for (int64_t n = 0; n < N; ++n) ASSERT_TRUE(QuantizeRow(t, &wf[n * K], &w[n * rb], K).ok());
    const auto x = Randn(M * ldx, 2);
    std::vector<float> y(M * ldy, 0.5f);
    MatmulParams p{t, w.data(), x.data(), y.data(), M, N, K, ldx, ldy, true};
    ThreadPool pool(2);
    RefKernels().matmul(p, &pool);
    for (int64_t n = 0; n < N; ++n) {
      const auto row = Deq(t, &w[n * rb], K);
      for (int64_t m = 0; m < M; ++m) {
        double s = 0;
        for (int64_t k = 0; k < K; ++k) s += static_cast<double>(row[k]) * x[m * ldx + k];
        EXPECT_NEAR(y[m * ldy + n], 0.5 + s, 1e-5 * (1 + std::fabs(s)));
      }
      EXPECT_EQ(y[0 * ldy + N], 0.5f);  // padding untouched
    }
  }
}

// Dense KV, f64 math: the naive statement of the AttentionParams contract.
struct AttnCase {
  DType kv_type;
  int64_t n_heads, n_kv_heads, head_dim, head_dim_v, n_kv, n_q, block_tokens;
};

std::vector<float> RoundTo(DType t, std::vector<float> v) {
  for (float& x : v)
    x = t == DType::kF16 ? F16ToF32(F32ToF16(x)) : t == DType::kBF16 ? BF16ToF32(F32ToBF16(x)) : x;
  return v;
}

void RunAttention(const AttnCase& c, const KernelTable& kt, double tol) {
  const int64_t kd = c.n_kv_heads * c.head_dim, vd = c.n_kv_heads * c.head_dim_v;
  const auto K = RoundTo(c.kv_type, Randn(c.n_kv * kd, 3));
  const auto V = RoundTo(c.kv_type, Randn(c.n_kv * vd, 4));
  const auto q = Randn(c.n_q * c.n_heads * c.head_dim, 5, 0.5f);
  const int64_t nb = (c.n_kv + c.block_tokens - 1) / c.block_tokens;
  const int64_t es = c.kv_type == DType::kF32 ? 4 : 2;
  std::vector<std::vector<uint8_t>> kb(nb), vb(nb);
  std::vector<const void*> kp(nb), vp(nb);
  for (int64_t b = 0; b < nb; ++b) {
    kb[b].assign(c.block_tokens * kd * es, 0xFF);  // garbage beyond n_kv must be ignored
    vb[b].assign(c.block_tokens * vd * es, 0xFF);
    for (int64_t j = b * c.block_tokens; j < std::min(c.n_kv, (b + 1) * c.block_tokens); ++j) {
      const int64_t r = j - b * c.block_tokens;
      ASSERT_TRUE(QuantizeRow(c.kv_type, &K[j * kd], &kb[b][r * kd * es], kd).ok());
      ASSERT_TRUE(QuantizeRow(c.kv_type, &V[j * vd], &vb[b][r * vd * es], vd).ok());
    }
    kp[b] = kb[b].data();
    vp[b] = vb[b].data();
  }
  std::vector<int32_t> pos(c.n_q);
  for (int64_t t = 0; t < c.n_q; ++t) pos[t] = static_cast<int32_t>(c.n_kv - c.n_q + t);
  if (c.n_q > 1) pos[0] = 0;  // a query that sees only the first key
  std::vector<float> out(c.n_q * c.n_heads * c.head_dim_v, -1.0f);
  AttentionParams p;
  p.q = q.data();
  p.out = out.data();
  p.q_pos = pos.data();
  p.k_blocks = kp.data();
  p.v_blocks = vp.data();
  p.kv_type = c.kv_type;
  p.n_q = c.n_q;
  p.n_kv = c.n_kv;
  p.block_tokens = c.block_tokens;
  p.n_heads = c.n_heads;
  p.n_kv_heads = c.n_kv_heads;
  p.head_dim = c.head_dim;
  p.head_dim_v = c.head_dim_v;
  p.q_stride = c.n_heads * c.head_dim;
  p.out_stride = c.n_heads * c.head_dim_v;
  p.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  ThreadPool pool(2);
  kt.attention(p, &pool);
  const int64_t group = c.n_heads / c.n_kv_heads;
  for (int64_t t = 0; t < c.n_q; ++t) {
    for (int64_t h = 0; h < c.n_heads; ++h) {
      const int64_t g = h / group, nk = pos[t] + 1;
      std::vector<double> s(nk);
      double mx = -1e300, sum = 0;
      for (int64_t j = 0; j < nk; ++j) {
        for (int64_t d = 0; d < c.head_dim; ++d)
          s[j] += double(q[(t * c.n_heads + h) * c.head_dim + d]) * K[j * kd + g * c.head_dim + d];
        s[j] *= p.scale;
        mx = std::max(mx, s[j]);
      }
      for (auto& v : s) sum += (v = std::exp(v - mx));
      for (int64_t d = 0; d < c.head_dim_v; ++d) {
        double o = 0;
        for (int64_t j = 0; j < nk; ++j) o += s[j] / sum * V[j * vd + g * c.head_dim_v + d];
        ASSERT_NEAR(out[(t * c.n_heads + h) * c.head_dim_v + d], o, tol)
            << "t=" << t << " h=" << h << " d=" << d;
      }
    }
  }
}

TEST(RefAttention, MatchesDenseNaive) {
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16}) {
    SCOPED_TRACE(std::string(DTypeName(t)));
    RunAttention({t, 8, 2, 32, 32, 13, 3, 4}, RefKernels(), 1e-5);
    RunAttention({t, 4, 4, 24, 40, 9, 9, 8}, RefKernels(), 1e-5);   // MHA, head_dim_v != head_dim
    RunAttention({t, 6, 1, 16, 16, 1, 1, 64}, RefKernels(), 1e-5);  // one key
  }
}

void RunRope(RopeMode mode, const KernelTable& kt, double tol) {
  const int64_t T = 3, H = 2, D = 10, R = 8, stride = H * D + 3;
  auto x = Randn(T * stride, 6);
  const auto x0 = x;
  const int32_t pos[T] = {0, 5, 1000};
  const float inv_freq[R / 2] = {1.0f, 0.1f, 0.01f, 0.001f};
  RopeParams p{x.data(), pos, inv_freq, T, H, D, R, stride, 1.25f, mode};
  kt.rope(p);
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t h = 0; h < H; ++h) {
      const float* a = &x0[t * stride + h * D];
      const float* b = &x[t * stride + h * D];
      for (int64_t i = 0; i < R / 2; ++i) {
        const int64_t i0 = mode == RopeMode::kNorm ? 2 * i : i;
        const int64_t i1 = mode == RopeMode::kNorm ? 2 * i + 1 : i + R / 2;
        const std::complex<double> z =
            std::complex<double>(a[i0], a[i1]) * std::polar(1.25, double(pos[t]) * inv_freq[i]);
        EXPECT_NEAR(b[i0], z.real(), tol);
        EXPECT_NEAR(b[i1], z.imag(), tol);
      }
      for (int64_t d = R; d < D; ++d) EXPECT_EQ(b[d], a[d]);  // beyond n_rot: untouched
    }
  }
  EXPECT_EQ(x[stride - 1], x0[stride - 1]);  // row padding untouched
}

TEST(RefRope, BothModes) {
  RunRope(RopeMode::kNorm, RefKernels(), 2e-5);
  RunRope(RopeMode::kNeox, RefKernels(), 2e-5);
}

TEST(RefOps, RmsNormInPlaceAndStrided) {
  const int64_t n = 37;
  auto x = Randn(2 * 40, 7);
  const auto w = Randn(n, 8);
  const auto x0 = x;
  RefKernels().rms_norm(x.data(), 40, w.data(), x.data(), 40, 2, n, 1e-5f);
  for (int r = 0; r < 2; ++r) {
    double ss = 0;
    for (int i = 0; i < n; ++i) ss += double(x0[r * 40 + i]) * x0[r * 40 + i];
    const double sc = 1.0 / std::sqrt(ss / n + 1e-5);
    for (int i = 0; i < n; ++i) EXPECT_NEAR(x[r * 40 + i], x0[r * 40 + i] * sc * w[i], 1e-5);
    EXPECT_EQ(x[r * 40 + 39], x0[r * 40 + 39]);
  }
}

TEST(RefOps, SwigluInPlaceAndAdd) {
  auto g = Randn(19, 9, 4.0f);
  const auto u = Randn(19, 10), g0 = g;
  RefKernels().swiglu(g.data(), u.data(), g.data(), 19);
  for (int i = 0; i < 19; ++i)
    EXPECT_NEAR(g[i], g0[i] / (1.0 + std::exp(-double(g0[i]))) * u[i],
                1e-5 * (1 + std::fabs(g[i])));
  auto y = g;
  RefKernels().add(y.data(), u.data(), 19);
  for (int i = 0; i < 19; ++i) EXPECT_EQ(y[i], g[i] + u[i]);
}

}  // namespace
}  // namespace cachet::kernels
