// Tests AmxMatmul (and its scalar tile model, which runs on AVX-512 CPUs without AMX) against an
// f32 reference computed here with the plain gguf.md §6 formulas, written per value index.
// The amx_ sources are compiled with AVX-512 flags, so even the scalar model may contain AVX-512
// instructions: tests skip on CPUs without them. This file itself needs no ISA flags.
//
// Bound: x and w are rounded to bf16 (unit roundoff 2^-9 each), so each product is off by at most
// ~2^-8 |x||w|; f32 accumulation adds ~K * 2^-24 relative. We assert
//   |y - ref| <= 2^-8 * (1 + K * 2^-16) * sum_k |x_k w_k| + 1e-6.
#include "kernels/x86/amx_matmul.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

namespace cachet::kernels {
namespace {

// Value i of a row of type t (independent restatement of gguf.md §6).
float RefValue(DType t, const uint8_t* row, int64_t i) {
  switch (t) {
    case DType::kF32: {
      float f;
      std::memcpy(&f, row + 4 * i, 4);
      return f;
    }
    case DType::kF16:
    case DType::kBF16: {
      uint16_t h;
      std::memcpy(&h, row + 2 * i, 2);
      return t == DType::kF16 ? F16ToF32(h) : BF16ToF32(h);
    }
    case DType::kQ8_0: {
      const auto* b = reinterpret_cast<const BlockQ8_0*>(row) + i / 32;
      return F16ToF32(b->d) * b->qs[i % 32];
    }
    case DType::kQ4_0: {
      const auto* b = reinterpret_cast<const BlockQ4_0*>(row) + i / 32;
      const int j = i % 32;
      const int q = j < 16 ? (b->qs[j] & 15) : (b->qs[j - 16] >> 4);
      return F16ToF32(b->d) * (q - 8);
    }
    case DType::kQ4_K: {
      const auto* b = reinterpret_cast<const BlockQ4_K*>(row) + i / 256;
      const int j = i % 256, s = j / 32, c = j / 64, l = j % 32;
      uint8_t sc[8], m[8];
      UnpackKScales(b->scales, sc, m);
      const int q = (s % 2 == 0) ? (b->qs[32 * c + l] & 15) : (b->qs[32 * c + l] >> 4);
      return F16ToF32(b->d) * sc[s] * q - F16ToF32(b->dmin) * m[s];
    }
    case DType::kQ5_K: {
      const auto* b = reinterpret_cast<const BlockQ5_K*>(row) + i / 256;
      const int j = i % 256, s = j / 32, c = j / 64, l = j % 32;
      uint8_t sc[8], m[8];
      UnpackKScales(b->scales, sc, m);
      const int q4 = (s % 2 == 0) ? (b->qs[32 * c + l] & 15) : (b->qs[32 * c + l] >> 4);
      const int q = q4 + 16 * ((b->qh[l] >> s) & 1);
      return F16ToF32(b->d) * sc[s] * q - F16ToF32(b->dmin) * m[s];
    }
    case DType::kQ6_K: {
      const auto* b = reinterpret_cast<const BlockQ6_K*>(row) + i / 256;
      const int j = i % 256, h = j / 128, part = (j % 128) / 32, l = j % 32;
      const uint8_t lq = b->ql[64 * h + l + (part % 2) * 32];
      const int lo = part < 2 ? (lq & 15) : (lq >> 4);
      const int hi = (b->qh[32 * h + l] >> (2 * part)) & 3;
      return F16ToF32(b->d) * b->scales[j / 16] * ((lo | (hi << 4)) - 32);
    }
    default:
      ADD_FAILURE() << "type not covered";
      return 0;
  }
}

// Random weight bytes with sane scales (|value| about <= 1).
std::vector<uint8_t> RandomWeight(DType t, int64_t n, int64_t k, std::mt19937& rng) {
  std::vector<uint8_t> w(static_cast<size_t>(RowBytes(t, k) * n));
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (auto& b : w) b = static_cast<uint8_t>(byte(rng));
  const int64_t bs = Traits(t).block_bytes, nblocks = static_cast<int64_t>(w.size()) / bs;
  for (int64_t i = 0; i < nblocks; ++i) {
    uint8_t* blk = w.data() + i * bs;
    auto put = [&](size_t off, f16_t h) { std::memcpy(blk + off, &h, 2); };
    switch (t) {
      case DType::kF32: {
        float f = u(rng);
        std::memcpy(blk, &f, 4);
        break;
      }
      case DType::kF16:
        put(0, F32ToF16(u(rng)));
        break;
      case DType::kBF16:
        put(0, F32ToBF16(u(rng)));
        break;
      case DType::kQ8_0:
        put(0, F32ToF16(u(rng) / 127));
        break;
      case DType::kQ4_0:
        put(0, F32ToF16(u(rng) / 8));
        break;
      case DType::kQ4_K:
        put(0, F32ToF16(u(rng) / 900));
        put(2, F32ToF16(u(rng) / 63));
        break;
      case DType::kQ5_K:
        put(0, F32ToF16(u(rng) / 1900));
        put(2, F32ToF16(u(rng) / 63));
        break;
      case DType::kQ6_K:
        put(208, F32ToF16(u(rng) / 4000));
        break;
      default:
        break;
    }
  }
  return w;
}

struct Case {
  DType t;
  int64_t m, n, k;
};

enum class Path { kAmx, kEmulatedScalar, kEmulatedVector };

void CheckCase(const Case& c, Path path, ThreadPool* pool, bool accumulate) {
  std::mt19937 rng(static_cast<uint32_t>(c.m * 131 + c.n * 7 + c.k + static_cast<int>(c.t)));
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  const int64_t ldx = c.k + 3, ldy = c.n + 5;
  std::vector<uint8_t> w = RandomWeight(c.t, c.n, c.k, rng);
  std::vector<float> x(static_cast<size_t>(c.m * ldx)), y(static_cast<size_t>(c.m * ldy));
  for (auto& v : x) v = u(rng);
  for (auto& v : y) v = u(rng);
  const std::vector<float> y0 = y;
  MatmulParams p{c.t, w.data(), x.data(), y.data(), c.m, c.n, c.k, ldx, ldy, accumulate};
  if (path == Path::kAmx) {
    AmxMatmul(p, pool);
  } else {
    internal::AmxMatmulEmulated(p, pool, path == Path::kEmulatedVector);
  }
  // Dequantized weight, then the reference on a subset of rows for large m (cost M*N*K).
  std::vector<float> wf(static_cast<size_t>(c.n * c.k));
  const int64_t rb = RowBytes(c.t, c.k);
  for (int64_t n = 0; n < c.n; ++n)
    for (int64_t k = 0; k < c.k; ++k) wf[n * c.k + k] = RefValue(c.t, w.data() + n * rb, k);
  const double tol_rel = std::ldexp(1.0, -8) * (1.0 + c.k * std::ldexp(1.0, -16));
  int failures = 0;
  for (int64_t m = 0; m < c.m; ++m) {
    if (c.m > 40 && m % 17 != 0 && m != c.m - 1) continue;
    for (int64_t n = 0; n < c.n && failures < 5; ++n) {
      double ref = 0, mag = 0;
      for (int64_t k = 0; k < c.k; ++k) {
        const double pr = static_cast<double>(x[m * ldx + k]) * wf[n * c.k + k];
        ref += pr;
        mag += std::fabs(pr);
      }
      if (accumulate) ref += y0[m * ldy + n];
      const double err = std::fabs(y[m * ldy + n] - ref);
      if (!(err <= tol_rel * mag + 1e-6)) {
        ADD_FAILURE() << DTypeName(c.t) << " m=" << m << " n=" << n << " M=" << c.m << " N=" << c.n
                      << " K=" << c.k << " y=" << y[m * ldy + n] << " ref=" << ref
                      << " bound=" << tol_rel * mag;
        ++failures;
      }
    }
    // Padding columns beyond n stay untouched.
    for (int64_t n = c.n; n < ldy; ++n) ASSERT_EQ(y[m * ldy + n], y0[m * ldy + n]);
  }
}

const DType kTypes[] = {DType::kF32,  DType::kF16,  DType::kBF16, DType::kQ8_0,
                        DType::kQ4_0, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K};

bool HasAvx512Bf16() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512bf16");
}

TEST(AmxMatmulEmulatedTest, ScalarPackingMatchesReference) {
  if (!HasAvx512Bf16()) GTEST_SKIP() << "amx_ sources are built for AVX-512 (BF16)";
  ThreadPool pool(2);
  for (DType t : kTypes) {
    CheckCase({t, 33, 100, 256}, Path::kEmulatedScalar, &pool, /*accumulate=*/false);
    CheckCase({t, 5, 16, 256}, Path::kEmulatedScalar, nullptr, /*accumulate=*/true);
    CheckCase({t, 16, 16, 2048}, Path::kEmulatedScalar, nullptr, /*accumulate=*/false);
  }
}

// The AVX512-BF16 packing of the real path, checked through the scalar tile model.
TEST(AmxMatmulEmulatedTest, VectorPackingMatchesReference) {
  if (!HasAvx512Bf16()) GTEST_SKIP() << "no AVX512-BF16";
  ThreadPool pool(2);
  for (DType t : kTypes) {
    CheckCase({t, 33, 100, 256}, Path::kEmulatedVector, &pool, /*accumulate=*/true);
    CheckCase({t, 16, 16, 2048}, Path::kEmulatedVector, nullptr, /*accumulate=*/false);
  }
}

TEST(AmxMatmulTest, MatchesReference) {
  if (!AmxAvailable()) GTEST_SKIP() << "no AMX (cpuid or arch_prctl permission)";
  ThreadPool pool(2);
  for (DType t : kTypes) {
    ASSERT_TRUE(AmxMatmulSupported(t));
    // Shapes cover partial m/n tiles, several 32-row panels and both K sizes; kept small so the
    // test stays fast under the sanitizers (the reference is a naive per-value dot).
    for (int64_t m : {16, 33, 130})
      for (int64_t n : {16, 100})
        for (int64_t k : {256, 2048}) {
          CheckCase({t, m, n, k}, Path::kAmx, &pool, /*accumulate=*/(m == 33));
        }
  }
}

TEST(AmxMatmulTest, SingleThreadAndTinyShapes) {
  if (!AmxAvailable()) GTEST_SKIP() << "no AMX (cpuid or arch_prctl permission)";
  for (int64_t m : {1, 15, 17, 31})
    CheckCase({DType::kQ8_0, m, 33, 64}, Path::kAmx, nullptr, false);
}

TEST(AmxMatmulTest, SupportedTypes) {
  EXPECT_TRUE(AmxMatmulSupported(DType::kQ8_0));
  EXPECT_TRUE(AmxMatmulSupported(DType::kQ4_K));
  EXPECT_FALSE(AmxMatmulSupported(DType::kMXFP4));
  EXPECT_FALSE(AmxMatmulSupported(DType::kI32));
}

}  // namespace
}  // namespace cachet::kernels
