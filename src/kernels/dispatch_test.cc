// Dispatch: the chosen table is one this CPU supports, names round-trip, ref always exists.
#include <gtest/gtest.h>

#include "kernels/cpu_features.h"
#include "kernels/kernels.h"

namespace cachet::kernels {
namespace {

TEST(Dispatch, RefAlwaysAvailable) {
  ASSERT_NE(KernelsFor("ref"), nullptr);
  EXPECT_EQ(KernelsFor("ref")->isa, "ref");
  EXPECT_EQ(&RefKernels(), KernelsFor("ref"));
}

TEST(Dispatch, UnknownNameIsNull) {
  EXPECT_EQ(KernelsFor("sse9"), nullptr);
  EXPECT_EQ(KernelsFor(""), nullptr);
}

TEST(Dispatch, KernelsForMatchesCpuFeatures) {
  for (int l = 0; l <= static_cast<int>(IsaLevel::kAmx); ++l) {
    const auto level = static_cast<IsaLevel>(l);
    const KernelTable* t = KernelsFor(IsaName(level));
    if (!IsaSupported(CpuFeatures(), level)) {
      EXPECT_EQ(t, nullptr) << IsaName(level);
    } else if (t != nullptr) {
      EXPECT_EQ(t->isa, IsaName(level));
      EXPECT_NE(t->matmul, nullptr);
      EXPECT_NE(t->attention, nullptr);
    }
  }
}

TEST(Dispatch, KernelsIsStableAndSupported) {
  const KernelTable& a = Kernels();
  EXPECT_EQ(&a, &Kernels());
  IsaLevel level;
  ASSERT_TRUE(ParseIsa(a.isa, &level));
  EXPECT_TRUE(IsaSupported(CpuFeatures(), level));
  EXPECT_EQ(KernelsFor(a.isa), &a);
}

TEST(Dispatch, LevelsAreNested) {
  const CpuInfo& c = CpuFeatures();
  for (int l = 1; l <= static_cast<int>(IsaLevel::kAmx); ++l) {
    if (IsaSupported(c, static_cast<IsaLevel>(l))) {
      EXPECT_TRUE(IsaSupported(c, static_cast<IsaLevel>(l - 1)));
    }
  }
}

CpuInfo Avx512OnlyCpu() {  // AVX-512 without VNNI or AMX
  CpuInfo c;
  c.avx2 = c.fma = c.f16c = c.os_avx = true;
  c.avx512f = c.avx512bw = c.avx512dq = c.avx512vl = c.os_avx512 = true;
  return c;
}

TEST(ChooseIsa, BestSupportedWithoutCap) {
  bool unknown = true;
  EXPECT_EQ(ChooseIsa(Avx512OnlyCpu(), nullptr, &unknown), IsaLevel::kAvx512);
  EXPECT_FALSE(unknown);
  EXPECT_EQ(ChooseIsa(CpuInfo{}, "", &unknown), IsaLevel::kRef);
}

TEST(ChooseIsa, EnvCapsTheLevel) {
  bool unknown = true;
  EXPECT_EQ(ChooseIsa(Avx512OnlyCpu(), "avx2", &unknown), IsaLevel::kAvx2);
  EXPECT_EQ(ChooseIsa(Avx512OnlyCpu(), "ref", &unknown), IsaLevel::kRef);
  // A cap above what the CPU has falls back to the best level below it.
  EXPECT_EQ(ChooseIsa(Avx512OnlyCpu(), "amx", &unknown), IsaLevel::kAvx512);
  EXPECT_FALSE(unknown);
}

TEST(ChooseIsa, UnknownCapIsReportedAndIgnored) {
  bool unknown = false;
  EXPECT_EQ(ChooseIsa(Avx512OnlyCpu(), "sse9", &unknown), IsaLevel::kAvx512);
  EXPECT_TRUE(unknown);
}

TEST(ChooseIsa, AmxNeedsThePermission) {
  CpuInfo c = Avx512OnlyCpu();
  c.avx512_vnni = c.avx512_bf16 = c.amx_tile = c.amx_int8 = c.amx_bf16 = c.os_amx = true;
  bool unknown;
  EXPECT_EQ(ChooseIsa(c, "amx", &unknown), IsaLevel::kAvx512Vnni);
  c.amx_permitted = true;
  EXPECT_EQ(ChooseIsa(c, "amx", &unknown), IsaLevel::kAmx);
  // Batch-invariant like the others, so the default when the CPU and the OS allow it.
  EXPECT_EQ(ChooseIsa(c, nullptr, &unknown), IsaLevel::kAmx);
  EXPECT_EQ(ChooseIsa(c, "sse9", &unknown), IsaLevel::kAmx);
  EXPECT_EQ(ChooseIsa(c, "avx512_vnni", &unknown), IsaLevel::kAvx512Vnni);
}

}  // namespace
}  // namespace cachet::kernels
