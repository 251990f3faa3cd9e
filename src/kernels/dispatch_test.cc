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

}  // namespace
}  // namespace cachet::kernels
