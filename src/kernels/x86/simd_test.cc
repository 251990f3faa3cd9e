// Every SIMD table entry against the scalar reference, for each ISA this CPU supports (the
// others skip). Bounds:
//  - matmul, quantized weights: the activations are rounded to int8 with one scale d_g =
//    max|x|/127 per 256 values, so |y - ref| <= sum_g d_g/2 * sum_{k in g} |w_k| (plus f32
//    summation, 1e-5 relative); AMX (M >= 16, bf16 tiles): 2^-7 * sum |w x|.
//  - matmul, f32/f16/bf16 weights: f32 FMAs in another order: 2e-5 * sum |w x| (K <= 1024).
//  - rms_norm/attention: f32 instead of f64 sums, 1e-5; swiglu: polynomial exp, 1e-5 relative.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/kernels.h"

namespace cachet::kernels {
namespace {

std::vector<float> Randn(int64_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

class Simd : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    kt_ = KernelsFor(GetParam());
    if (kt_ == nullptr) GTEST_SKIP() << GetParam() << " not supported on this CPU";
  }
  const KernelTable* kt_ = nullptr;
};

void CheckMatmul(const KernelTable& kt, DType t, int64_t M, int64_t N, int64_t K, bool acc) {
  SCOPED_TRACE(std::string(DTypeName(t)) + " M=" + std::to_string(M) + " K=" + std::to_string(K));
  const int64_t ldx = K + 3, ldy = N + 2, rb = RowBytes(t, K);
  const auto wf = Randn(N * K, 11);
  std::vector<uint8_t> w(N * rb);
  for (int64_t n = 0; n < N; ++n) ASSERT_TRUE(QuantizeRow(t, &wf[n * K], &w[n * rb], K).ok());
  auto x = Randn(M * ldx, 12);
  x[5] = 9.0f;  // an outlier sets its group's activation scale
  std::vector<float> y(M * ldy, 0.25f), yr(M * ldy, 0.25f);
  MatmulParams p{t, w.data(), x.data(), y.data(), M, N, K, ldx, ldy, acc};
  ThreadPool pool(2);
  kt.matmul(p, &pool);
  p.y = yr.data();
  RefKernels().matmul(p, nullptr);
  const bool quant =
      t != DType::kF32 && t != DType::kF16 && t != DType::kBF16 && t != DType::kMXFP4;
  const bool amx = kt.isa == "amx" && M >= 16 && t != DType::kF32;
  std::vector<float> row(K);
  for (int64_t n = 0; n < N; ++n) {
    RefKernels().dequantize_row(t, &w[n * rb], row.data(), K);
    for (int64_t m = 0; m < M; ++m) {
      double sabs = 0, bound = 0;
      for (int64_t g = 0; g < K; g += 256) {
        double amax = 0, wsum = 0;
        for (int64_t k = g; k < std::min(K, g + 256); ++k) {
          amax = std::max(amax, double(std::fabs(x[m * ldx + k])));
          wsum += std::fabs(row[k]);
          sabs += std::fabs(double(row[k]) * x[m * ldx + k]);
        }
        if (quant) bound += amax / 127 / 2 * wsum;
      }
      bound += (amx ? std::ldexp(1.0, -7) : 2e-5) * sabs + 1e-6;
      ASSERT_NEAR(y[m * ldy + n], yr[m * ldy + n], bound) << "m=" << m << " n=" << n;
    }
  }
  for (int64_t m = 0; m < M; ++m) EXPECT_EQ(y[m * ldy + N], 0.25f);  // padding untouched
}

TEST_P(Simd, MatmulAllTypesAndBatchSizes) {
  for (DType t : {DType::kQ8_0, DType::kQ4_0, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K, DType::kF32,
                  DType::kF16, DType::kBF16, DType::kMXFP4}) {
    for (int64_t m : {1, 3, 16, 70}) CheckMatmul(*kt_, t, m, 37, 512, m == 3);
  }
}

TEST_P(Simd, MatmulShortLastGroup) {  // K not a multiple of 256 (32-value block types, f32)
  for (DType t : {DType::kQ8_0, DType::kQ4_0, DType::kF16}) CheckMatmul(*kt_, t, 2, 9, 96, false);
  CheckMatmul(*kt_, DType::kQ8_0, 17, 9, 288, true);
  CheckMatmul(*kt_, DType::kF32, 3, 5, 100, false);
  CheckMatmul(*kt_, DType::kF32, 20, 5, 100, false);
}

// Batch invariance (the serving engine's determinism): every table the dispatcher picks by
// default gives each row the bitwise-same result whether it is computed alone (M=1) or among 16
// or 40 rows, on any thread count. AMX (opt-in) changes the arithmetic at M >= 16 and is exempt.
TEST_P(Simd, MatmulRowsDoNotDependOnBatchSize) {
  if (kt_->isa == "amx" && std::getenv("CACHET_AMX_BF16") != nullptr) {
    GTEST_SKIP() << "CACHET_AMX_BF16 routes M >= 16 to bf16 tiles (not batch-invariant)";
  }
  const int64_t N = 40, K = 512;
  for (DType t : {DType::kQ8_0, DType::kQ4_0, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K, DType::kF32,
                  DType::kF16, DType::kBF16}) {
    SCOPED_TRACE(DTypeName(t));
    const int64_t rb = RowBytes(t, K);
    const auto wf = Randn(N * K, 21);
    std::vector<uint8_t> w(N * rb);
    for (int64_t n = 0; n < N; ++n) ASSERT_TRUE(QuantizeRow(t, &wf[n * K], &w[n * rb], K).ok());
    for (int64_t M : {16, 40}) {
      const auto x = Randn(M * K, 22);
      std::vector<float> batched(M * N), alone(N);
      ThreadPool pool2(2), pool1(1);
      kt_->matmul(MatmulParams{t, w.data(), x.data(), batched.data(), M, N, K, K, N, false},
                  &pool2);
      for (int64_t m = 0; m < M; ++m) {
        kt_->matmul(MatmulParams{t, w.data(), &x[m * K], alone.data(), 1, N, K, K, N, false},
                    m % 2 ? &pool1 : &pool2);
        for (int64_t n = 0; n < N; ++n) {
          ASSERT_EQ(batched[m * N + n], alone[n]) << "M=" << M << " m=" << m << " n=" << n;
        }
      }
    }
  }
}

// Regression: the int8 activation buffer is thread_local to the caller; pool workers once read
// their own (empty) instance, so the rows computed on worker threads came out as zeros.
TEST_P(Simd, RegressionPoolWorkersUseCallersActivationBuffer) {
  CheckMatmul(*kt_, DType::kQ8_0, 1, 256, 256, false);
  CheckMatmul(*kt_, DType::kQ4_K, 2, 256, 256, false);
}

TEST_P(Simd, DequantizeRowMatchesRef) {
  for (DType t : {DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_K, DType::kQ6_K}) {
    const auto xf = Randn(512, 13);
    std::vector<uint8_t> q(RowBytes(t, 512));
    ASSERT_TRUE(QuantizeRow(t, xf.data(), q.data(), 512).ok());
    std::vector<float> a(512), b(512);
    kt_->dequantize_row(t, q.data(), a.data(), 512);
    RefKernels().dequantize_row(t, q.data(), b.data(), 512);
    EXPECT_EQ(a, b) << DTypeName(t);
  }
}

TEST_P(Simd, RmsNormInPlace) {
  const int64_t n = 2048 + 7;
  auto x = Randn(3 * n, 14, 3.0f);
  const auto w = Randn(n, 15);
  auto y = x;
  kt_->rms_norm(x.data(), n, w.data(), x.data(), n, 3, n, 1e-6f);
  RefKernels().rms_norm(y.data(), n, w.data(), y.data(), n, 3, n, 1e-6f);
  for (int64_t i = 0; i < 3 * n; ++i) ASSERT_NEAR(x[i], y[i], 1e-5 * (1 + std::fabs(y[i])));
}

TEST_P(Simd, SwigluInPlaceAndAdd) {
  const int64_t n = 1000 + 3;
  auto g = Randn(n, 16, 6.0f);
  g[0] = -120.0f, g[1] = 95.0f, g[2] = 0.0f;
  const auto u = Randn(n, 17);
  auto r = g;
  kt_->swiglu(g.data(), u.data(), g.data(), n);
  RefKernels().swiglu(r.data(), u.data(), r.data(), n);
  for (int64_t i = 0; i < n; ++i) ASSERT_NEAR(g[i], r[i], 1e-5 * (1 + std::fabs(r[i]))) << i;
  auto a = g, b = g;
  kt_->add(a.data(), u.data(), n);
  RefKernels().add(b.data(), u.data(), n);
  EXPECT_EQ(a, b);
}

TEST_P(Simd, RopeMatchesRef) {
  for (RopeMode mode : {RopeMode::kNorm, RopeMode::kNeox}) {
    const int64_t T = 4, H = 3, D = 64, R = 48, stride = H * D;
    auto x = Randn(T * stride, 18);
    auto y = x;
    const int32_t pos[T] = {0, 1, 77, 4000};
    std::vector<float> inv(R / 2);
    for (int i = 0; i < R / 2; ++i) inv[i] = std::pow(10000.0f, -2.0f * i / R);
    RopeParams p{x.data(), pos, inv.data(), T, H, D, R, stride, 1.0f, mode};
    kt_->rope(p);
    p.x = y.data();
    RefKernels().rope(p);
    for (int64_t i = 0; i < T * stride; ++i) ASSERT_NEAR(x[i], y[i], 1e-5);
  }
}

// Random K and V (seeds k_seed + block, v_seed + block) in paged blocks of bt tokens, and the
// attention parameters that describe them (q, out, q_pos, n_q and scale are the test's).
struct PagedKv {
  std::vector<std::vector<uint8_t>> kb, vb;
  std::vector<const void*> kp, vp;
  AttentionParams p;
  // p with the n_q queries q at positions pos, writing out.
  AttentionParams Queries(const float* q, const int32_t* pos, int64_t n_q, float scale,
                          float* out) const {
    AttentionParams r = p;
    r.q = q;
    r.q_pos = pos;
    r.n_q = n_q;
    r.scale = scale;
    r.out = out;
    return r;
  }
};

void MakePagedKv(DType kv, int64_t nkvh, int64_t nh, int64_t hd, int64_t hdv, int64_t n_kv,
                 int64_t bt, uint32_t k_seed, uint32_t v_seed, PagedKv* out) {
  const int64_t nb = (n_kv + bt - 1) / bt, es = kv == DType::kF32 ? 4 : 2;
  out->kb.resize(nb);
  out->vb.resize(nb);
  out->kp.resize(nb);
  out->vp.resize(nb);
  for (int64_t b = 0; b < nb; ++b) {
    const auto kf = Randn(bt * nkvh * hd, k_seed + b), vf = Randn(bt * nkvh * hdv, v_seed + b);
    out->kb[b].resize(kf.size() * es);
    out->vb[b].resize(vf.size() * es);
    ASSERT_TRUE(QuantizeRow(kv, kf.data(), out->kb[b].data(), kf.size()).ok());
    ASSERT_TRUE(QuantizeRow(kv, vf.data(), out->vb[b].data(), vf.size()).ok());
    out->kp[b] = out->kb[b].data();
    out->vp[b] = out->vb[b].data();
  }
  AttentionParams& p = out->p;
  p.k_blocks = out->kp.data();
  p.v_blocks = out->vp.data();
  p.kv_type = kv;
  p.n_kv = n_kv;
  p.block_tokens = bt;
  p.n_heads = nh;
  p.n_kv_heads = nkvh;
  p.head_dim = hd;
  p.head_dim_v = hdv;
  p.q_stride = nh * hd;
  p.out_stride = nh * hdv;
}

TEST_P(Simd, AttentionMatchesRef) {
  for (DType kv : {DType::kF16, DType::kBF16, DType::kF32}) {
    const int64_t nkvh = 2, nh = 8, hd = 40, hdv = 72, n_kv = 75, n_q = 5, bt = 16;
    PagedKv paged;
    MakePagedKv(kv, nkvh, nh, hd, hdv, n_kv, bt, 20, 40, &paged);
    const auto q = Randn(n_q * nh * hd, 19);
    const int32_t pos[n_q] = {0, 17, 70, 73, 74};
    std::vector<float> o1(n_q * nh * hdv), o2(o1.size());
    AttentionParams p = paged.Queries(q.data(), pos, n_q, 0.15f, o1.data());
    ThreadPool pool(2);
    kt_->attention(p, &pool);
    p.out = o2.data();
    RefKernels().attention(p, nullptr);
    for (size_t i = 0; i < o1.size(); ++i) ASSERT_NEAR(o1[i], o2[i], 1e-5) << DTypeName(kv);
  }
}

// The dense models' head-major blocks ([n_kv_heads, block_tokens, dim]): the same keys and
// values re-laid give bitwise the same output as the token-major layout, here and in ref.
TEST_P(Simd, AttentionHeadMajorBlocksMatchTokenMajor) {
  const int64_t nkvh = 3, nh = 6, hd = 40, hdv = 24, n_kv = 70, n_q = 4, bt = 32;
  PagedKv paged;
  MakePagedKv(DType::kF16, nkvh, nh, hd, hdv, n_kv, bt, 80, 90, &paged);
  std::vector<std::vector<uint8_t>> kh(paged.kb.size()), vh(paged.vb.size());
  std::vector<const void*> khp, vhp;
  for (size_t b = 0; b < paged.kb.size(); ++b) {
    kh[b].resize(paged.kb[b].size());
    vh[b].resize(paged.vb[b].size());
    for (int64_t t = 0; t < bt; ++t) {
      for (int64_t h = 0; h < nkvh; ++h) {
        std::memcpy(&kh[b][(h * bt + t) * hd * 2], &paged.kb[b][(t * nkvh + h) * hd * 2], hd * 2);
        std::memcpy(&vh[b][(h * bt + t) * hdv * 2], &paged.vb[b][(t * nkvh + h) * hdv * 2],
                    hdv * 2);
      }
    }
    khp.push_back(kh[b].data());
    vhp.push_back(vh[b].data());
  }
  const auto q = Randn(n_q * nh * hd, 79);
  const int32_t pos[n_q] = {3, 40, 68, 69};
  for (const KernelTable* kt : {kt_, &RefKernels()}) {
    std::vector<float> o1(n_q * nh * hdv), o2(o1.size());
    AttentionParams p = paged.Queries(q.data(), pos, n_q, 0.2f, o1.data());
    ThreadPool pool(2);
    kt->attention(p, &pool);
    p.k_blocks = khp.data();
    p.v_blocks = vhp.data();
    p.head_major = true;
    p.out = o2.data();
    kt->attention(p, &pool);
    for (size_t i = 0; i < o1.size(); ++i) ASSERT_EQ(o1[i], o2[i]) << kt->isa << " i=" << i;
  }
}

// The engine's determinism: a query's attention output is bitwise the same whether it is
// computed in a prefill chunk with other tokens or alone (decode, or a 1-token chunk after a
// cache hit), on 1 or 2 threads.
TEST_P(Simd, AttentionQueryDoesNotDependOnChunk) {
  const int64_t nkvh = 2, nh = 8, hd = 64, n_kv = 150, n_q = 11, bt = 64;
  PagedKv paged;
  MakePagedKv(DType::kF16, nkvh, nh, hd, hd, n_kv, bt, 60, 70, &paged);
  const auto q = Randn(n_q * nh * hd, 59);
  std::vector<int32_t> pos(n_q);
  for (int64_t t = 0; t < n_q; ++t) pos[t] = static_cast<int32_t>(n_kv - n_q + t);
  AttentionParams p = paged.p;
  p.scale = 0.125f;
  std::vector<float> chunk(n_q * nh * hd), alone(nh * hd);
  ThreadPool pool2(2), pool1(1);
  p.q = q.data();
  p.out = chunk.data();
  p.q_pos = pos.data();
  p.n_q = n_q;
  kt_->attention(p, &pool2);
  for (int64_t t = 0; t < n_q; ++t) {
    p.q = &q[t * nh * hd];
    p.out = alone.data();
    p.q_pos = &pos[t];
    p.n_q = 1;
    kt_->attention(p, t % 2 ? &pool1 : &pool2);
    for (int64_t i = 0; i < nh * hd; ++i) {
      ASSERT_EQ(chunk[t * nh * hd + i], alone[i]) << "token " << t << " element " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Isa, Simd, ::testing::Values("avx2", "avx512", "avx512_vnni", "amx"));

}  // namespace
}  // namespace cachet::kernels
