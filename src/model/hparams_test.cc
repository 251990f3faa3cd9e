#include "model/hparams.h"

#include <gtest/gtest.h>

#include <cmath>

#include "model/synthetic.h"

namespace cachet::model {
namespace {

SyntheticModel BaseMeta() {
  SyntheticModel m;
  m.meta = {
      {"general.architecture", std::string("llama")},   {"llama.context_length", uint32_t{4096}},
      {"llama.embedding_length", uint32_t{256}},        {"llama.block_count", uint32_t{2}},
      {"llama.feed_forward_length", uint32_t{512}},     {"llama.attention.head_count", uint32_t{8}},
      {"llama.attention.layer_norm_rms_epsilon", 1e-5f}};
  return m;
}

Result<HParams> Read(SyntheticModel m) {
  return ReadHParams(*InMemoryModelFile(std::move(m)), "llama");
}

TEST(HParamsTest, DefaultsFromSpec) {
  auto hp = Read(BaseMeta());
  ASSERT_TRUE(hp.ok()) << hp.status().ToString();
  EXPECT_EQ(hp->n_head_kv, 8);  // default H
  EXPECT_EQ(hp->head_dim, 32);  // d / H
  EXPECT_EQ(hp->n_rot, 32);     // default d_k
  EXPECT_EQ(hp->rope_base, 10000.0f);
  EXPECT_EQ(hp->rope_scaling, RopeScaling::kLinear);
  EXPECT_EQ(hp->rope_factor, 1.0f);
}

TEST(HParamsTest, MissingRequiredKeyIsNamed) {
  auto m = BaseMeta();
  m.meta.erase(m.meta.begin() + 3);  // block_count
  auto hp = Read(std::move(m));
  ASSERT_FALSE(hp.ok());
  EXPECT_EQ(hp.status().code(), StatusCode::kCorrupt);
  EXPECT_NE(hp.status().message().find("llama.block_count"), std::string::npos);
}

TEST(HParamsTest, HeadsNotMultipleOfKvHeadsRejected) {
  auto m = BaseMeta();
  m.meta.push_back({"llama.attention.head_count_kv", uint32_t{3}});
  auto hp = Read(std::move(m));
  ASSERT_FALSE(hp.ok());
  EXPECT_NE(hp.status().message().find("head_count"), std::string::npos);
}

TEST(HParamsTest, WrongTypeRejected) {
  auto m = BaseMeta();
  m.meta[2].second = std::string("256");  // embedding_length as a string
  auto hp = Read(std::move(m));
  ASSERT_FALSE(hp.ok());
  EXPECT_NE(hp.status().message().find("llama.embedding_length"), std::string::npos);
}

TEST(HParamsTest, UnknownRopeScalingUnsupported) {
  auto m = BaseMeta();
  m.meta.push_back({"llama.rope.scaling.type", std::string("longrope")});
  auto hp = Read(std::move(m));
  ASSERT_FALSE(hp.ok());
  EXPECT_EQ(hp.status().code(), StatusCode::kUnsupported);
}

HParams RopeHp(float base, int64_t n_rot) {
  HParams hp;
  hp.rope_base = base;
  hp.n_rot = n_rot;
  hp.head_dim = n_rot;
  return hp;
}

TEST(RopeInvFreqTest, PlainAndLinearAndRopeFreqs) {
  HParams hp = RopeHp(10000.0f, 8);
  float m = 0;
  auto inv = RopeInvFreq(hp, nullptr, &m);
  ASSERT_EQ(inv.size(), 4u);
  EXPECT_FLOAT_EQ(inv[0], 1.0f);
  EXPECT_FLOAT_EQ(inv[1], 0.1f);  // 10000^(-2/8)
  EXPECT_FLOAT_EQ(inv[2], 0.01f);
  EXPECT_EQ(m, 1.0f);
  hp.rope_factor = 2.0f;
  inv = RopeInvFreq(hp, nullptr, &m);
  EXPECT_FLOAT_EQ(inv[1], 0.05f);
  hp.rope_factor = 1.0f;
  const float ff[4] = {1, 1, 4, 8};  // rope_freqs divide the angle
  inv = RopeInvFreq(hp, ff, &m);
  EXPECT_FLOAT_EQ(inv[2], 0.0025f);
  EXPECT_FLOAT_EQ(inv[3], 0.001f / 8);
}

TEST(RopeInvFreqTest, YarnQwen25Example) {
  // llama-family.md §5.3: s=4, n_orig=32768, base=1e6, n_rot=128 -> lo=23, hi=40, m=1.13863.
  HParams hp = RopeHp(1e6f, 128);
  hp.rope_scaling = RopeScaling::kYarn;
  hp.rope_factor = 4;
  hp.rope_orig_ctx = 32768;
  hp.yarn_ext_factor = 1;
  float m = 0;
  auto inv = RopeInvFreq(hp, nullptr, &m);
  EXPECT_NEAR(m, 1.13863, 1e-5);
  auto omega = [](int j) { return std::pow(1e6, -2.0 * j / 128); };
  EXPECT_NEAR(inv[23] / omega(23), 1.0, 1e-6);        // j <= lo: original frequency
  EXPECT_NEAR(inv[40] / (omega(40) / 4), 1.0, 1e-6);  // j >= hi: interpolated
  EXPECT_NEAR(inv[63] / (omega(63) / 4), 1.0, 1e-6);
  const double r = 1.0 - (30 - 23) / 17.0;  // between: ramp
  EXPECT_NEAR(inv[30] / (omega(30) * (r + (1 - r) / 4)), 1.0, 1e-6);
}

}  // namespace
}  // namespace cachet::model
