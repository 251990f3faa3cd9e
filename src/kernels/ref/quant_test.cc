// QuantizeRow -> dequantize round trips: per-block error bounds that follow from each format's
// step size, and rejection of lengths that are not a multiple of the block size.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/kernels.h"

namespace cachet::kernels {
namespace {

struct RoundTrip {
  std::vector<float> x, y;
};

RoundTrip Roundtrip(DType t, int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  RoundTrip r;
  r.x.resize(n);
  for (auto& v : r.x) v = nd(rng);
  r.x[3] = 0.0f;
  for (int i = 64; i < 96; ++i) r.x[i] = 0.0f;  // an all-zero 32-value block
  r.x[100] = 6.0f;                              // an outlier
  std::vector<uint8_t> q(RowBytes(t, n));
  EXPECT_TRUE(QuantizeRow(t, r.x.data(), q.data(), n).ok());
  r.y.resize(n);
  RefKernels().dequantize_row(t, q.data(), r.y.data(), n);
  return r;
}

// max over blocks of (max |x - y| in the block) / (max |x| in the block).
double WorstBlockRelError(const RoundTrip& r, int64_t block) {
  double worst = 0;
  for (size_t b = 0; b < r.x.size(); b += block) {
    double amax = 0, emax = 0;
    for (size_t i = b; i < b + block; ++i) {
      amax = std::max(amax, double(std::fabs(r.x[i])));
      emax = std::max(emax, double(std::fabs(r.x[i] - r.y[i])));
    }
    if (amax == 0) {
      EXPECT_EQ(emax, 0.0) << "zero block must round-trip exactly";
      continue;
    }
    worst = std::max(worst, emax / amax);
  }
  return worst;
}

TEST(QuantizeRow, FloatTypes) {
  auto r = Roundtrip(DType::kF32, 256, 1);
  EXPECT_EQ(r.x, r.y);
  r = Roundtrip(DType::kF16, 256, 1);
  EXPECT_LE(WorstBlockRelError(r, 1), std::ldexp(1.0, -11));
  r = Roundtrip(DType::kBF16, 256, 1);
  EXPECT_LE(WorstBlockRelError(r, 1), std::ldexp(1.0, -8));
}

// Symmetric formats: rounding error is at most half a step (step = amax/127 for q8_0, amax/8
// for q4_0, whose largest value maps to -8), widened by the +-10% scale search and f16 scale.
TEST(QuantizeRow, Q8_0WithinHalfStep) {
  EXPECT_LE(WorstBlockRelError(Roundtrip(DType::kQ8_0, 1024, 2), 32), 0.55 * 1.1 / 127);
}

TEST(QuantizeRow, Q4_0WithinOneStep) {
  // One step: values near +amax on the short side (+7) may clip by up to one step.
  EXPECT_LE(WorstBlockRelError(Roundtrip(DType::kQ4_0, 1024, 3), 32), 1.1 / 8);
}

// K-quants: per sub-block step = range / qmax before the 6-bit (8-bit for q6_k) scale rounding;
// the bound allows half a step plus the scale rounding of the super-block (relative to the
// super-block's largest |x|, since scales are quantized against it).
TEST(QuantizeRow, KQuantsWithinStepBounds) {
  EXPECT_LE(WorstBlockRelError(Roundtrip(DType::kQ4_K, 1024, 4), 256), 2.0 / 15 / 2 * 1.6);
  EXPECT_LE(WorstBlockRelError(Roundtrip(DType::kQ5_K, 1024, 5), 256), 2.0 / 31 / 2 * 1.6);
  EXPECT_LE(WorstBlockRelError(Roundtrip(DType::kQ6_K, 1024, 6), 256), 1.0 / 32 * 1.3);
}

TEST(QuantizeRow, MXFP4WithinHalfLargestGap) {
  // E2M1 magnitudes 0..6 with a power-of-two scale chosen so amax <= 6 * 2^e < 12 * ...: the
  // largest gap between codes is 2 (4 -> 6), relative to amax >= 3: error <= 1/3 of amax.
  EXPECT_LE(WorstBlockRelError(Roundtrip(DType::kMXFP4, 256, 7), 32), 1.0 / 3 + 1e-6);
}

TEST(QuantizeRow, RejectsBadLengthAndType) {
  std::vector<float> x(300, 1.0f);
  std::vector<uint8_t> q(4096);
  EXPECT_EQ(QuantizeRow(DType::kQ4_K, x.data(), q.data(), 300).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(QuantizeRow(DType::kQ8_0, x.data(), q.data(), 33).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(QuantizeRow(DType::kQ2_K, x.data(), q.data(), 256).code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cachet::kernels
