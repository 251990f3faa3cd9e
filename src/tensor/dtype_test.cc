#include "tensor/dtype.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace cachet {
namespace {

TEST(DTypeTest, TraitsMatchSpecTable) {
  EXPECT_EQ(Traits(DType::kQ8_0).block_bytes, 34);
  EXPECT_EQ(Traits(DType::kQ4_K).block_bytes, 144);
  EXPECT_EQ(Traits(DType::kQ6_K).block_size, 256);
  EXPECT_FALSE(GetDTypeTraits(4).has_value());  // retired id
  EXPECT_EQ(RowBytes(DType::kQ4_0, 64), 36);
  EXPECT_EQ(DTypeFromName("q6_k"), DType::kQ6_K);
  EXPECT_FALSE(DTypeFromName("q7_k").has_value());
}

TEST(DTypeTest, F16RoundTripsEveryFiniteHalf) {
  for (uint32_t h = 0; h < 0x10000u; ++h) {
    uint32_t exp = (h >> 10) & 0x1f;
    if (exp == 0x1f && (h & 0x3ff)) continue;  // NaN payloads
    float f = F16ToF32(static_cast<f16_t>(h));
    EXPECT_EQ(F32ToF16(f), h) << "h=" << h;
  }
}

TEST(DTypeTest, F16KnownValuesAndRounding) {
  EXPECT_EQ(F16ToF32(0x3c00), 1.0f);
  EXPECT_EQ(F16ToF32(0xc000), -2.0f);
  EXPECT_EQ(F16ToF32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(F16ToF32(0x7bff), 65504.0f);
  EXPECT_TRUE(std::isinf(F16ToF32(0x7c00)));
  EXPECT_EQ(F32ToF16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // tie -> even
  EXPECT_EQ(F32ToF16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);  // tie -> even (up)
  EXPECT_EQ(F32ToF16(1e6f), 0x7c00);
  EXPECT_EQ(F32ToF16(std::ldexp(1.0f, -26)), 0x0000);  // below half the smallest subnormal
}

TEST(DTypeTest, BF16RoundsToNearestEven) {
  EXPECT_EQ(BF16ToF32(F32ToBF16(1.5f)), 1.5f);
  float x = 1.0f + std::ldexp(1.0f, -8);  // exactly halfway between bf16 neighbours
  EXPECT_EQ(BF16ToF32(F32ToBF16(x)), 1.0f);
  EXPECT_TRUE(std::isnan(BF16ToF32(F32ToBF16(std::numeric_limits<float>::quiet_NaN()))));
}

}  // namespace
}  // namespace cachet
