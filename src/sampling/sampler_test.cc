#include "sampling/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace cachet::sampling {
namespace {

SamplingParams Greedy() {
  SamplingParams p;
  p.temperature = 0;
  return p;
}

TEST(SamplerTest, GreedyPicksMaxAndLowestIdOnTies) {
  Sampler s(Greedy());
  std::vector<float> logits = {1, 3, 3, 2};
  EXPECT_EQ(s.Sample(logits.data(), 4, {}), 1);
}

// Greedy without penalties takes the argmax straight from the logits; with a penalty that
// changes nothing (presence 0 -> 1e-30 on a token that is not the max) it goes through the
// candidate list. Both must pick the same token, ties and NaN included.
TEST(SamplerTest, GreedyFastPathAgreesWithCandidatePath) {
  SamplingParams slow = Greedy();
  slow.presence_penalty = 1e-30f;
  Sampler fast_s(Greedy()), slow_s(slow);
  std::vector<float> logits(5000);
  uint32_t x = 7;
  for (int round = 0; round < 50; ++round) {
    for (auto& l : logits) {
      x = x * 1664525u + 1013904223u;
      l = static_cast<float>(x >> 24) / 16.0f;  // coarse values: many ties
    }
    if (round % 10 == 3) logits[round] = std::nanf("");
    const std::vector<int32_t> history = {4999};
    logits[4999] = -1e9f;  // the penalized token never competes
    EXPECT_EQ(fast_s.Sample(logits.data(), 5000, history),
              slow_s.Sample(logits.data(), 5000, history))
        << "round " << round;
  }
}

TEST(SamplerTest, RepetitionPenaltyDividesPositiveMultipliesNegative) {
  auto p = Greedy();
  p.repetition_penalty = 2;
  Sampler s(p);
  std::vector<float> pos = {1, 3, 2.5};
  std::vector<int32_t> hist = {1};
  EXPECT_EQ(s.Sample(pos.data(), 3, hist), 2);  // 3 / 2 = 1.5 < 2.5
  std::vector<float> neg = {-1, -1.5};
  std::vector<int32_t> hist0 = {0};
  EXPECT_EQ(s.Sample(neg.data(), 2, hist0), 1);  // -1 * 2 = -2 < -1.5
}

TEST(SamplerTest, FrequencyPenaltyScalesWithCount) {
  auto p = Greedy();
  p.frequency_penalty = 0.5;
  Sampler s(p);
  std::vector<float> logits = {2, 1};
  std::vector<int32_t> twice = {0, 0};  // 2 - 1.0 = 1.0: tie with id 1 -> id 0
  EXPECT_EQ(s.Sample(logits.data(), 2, twice), 0);
  std::vector<int32_t> thrice = {0, 0, 0};  // 2 - 1.5 = 0.5 < 1
  EXPECT_EQ(s.Sample(logits.data(), 2, thrice), 1);
}

TEST(SamplerTest, PresencePenaltyOncePerToken) {
  auto p = Greedy();
  p.presence_penalty = 0.75;
  Sampler s(p);
  std::vector<float> logits = {2, 1.5};
  std::vector<int32_t> hist = {0, 0, 0, 0};  // 2 - 0.75 = 1.25 < 1.5 (not 2 - 3)
  EXPECT_EQ(s.Sample(logits.data(), 2, hist), 1);
  std::vector<float> logits2 = {2, 1.0};
  EXPECT_EQ(s.Sample(logits2.data(), 2, hist), 0);  // 1.25 > 1.0
}

TEST(SamplerTest, PenaltyWindowLastN) {
  auto p = Greedy();
  p.presence_penalty = 10;
  p.penalty_last_n = 1;
  Sampler s(p);
  std::vector<float> logits = {2, 1};
  std::vector<int32_t> hist = {0, 1};  // only id 1 is in the window
  EXPECT_EQ(s.Sample(logits.data(), 2, hist), 0);
}

TEST(SamplerTest, TemperatureScalesSoftmax) {
  SamplingParams p;
  p.temperature = 0.5;
  Sampler s(p);
  std::vector<float> logits = {0, std::log(2.0f)};  // exp(0)=1, exp(2 ln 2)=4
  s.Sample(logits.data(), 2, {});
  ASSERT_EQ(s.candidates().size(), 2u);
  EXPECT_EQ(s.candidates()[0].id, 1);
  EXPECT_NEAR(s.candidates()[0].p, 0.8, 1e-6);
  EXPECT_NEAR(s.candidates()[1].p, 0.2, 1e-6);
}

std::vector<float> Probs532() { return {std::log(0.2f), std::log(0.5f), std::log(0.3f)}; }

TEST(SamplerTest, TopPKeepsSmallestPrefixReachingP) {
  SamplingParams p;
  p.top_p = 0.7;
  Sampler s(p);
  auto logits = Probs532();
  s.Sample(logits.data(), 3, {});
  ASSERT_EQ(s.candidates().size(), 2u);  // 0.5 < 0.7 <= 0.8
  EXPECT_EQ(s.candidates()[0].id, 1);
  EXPECT_EQ(s.candidates()[1].id, 2);
  EXPECT_NEAR(s.candidates()[0].p, 0.625, 1e-6);
  EXPECT_NEAR(s.candidates()[1].p, 0.375, 1e-6);
}

TEST(SamplerTest, TopKKeepsK) {
  SamplingParams p;
  p.top_k = 1;
  Sampler s(p);
  auto logits = Probs532();
  for (int i = 0; i < 20; ++i) EXPECT_EQ(s.Sample(logits.data(), 3, {}), 1);
  p.top_k = 2;
  Sampler s2(p);
  s2.Sample(logits.data(), 3, {});
  ASSERT_EQ(s2.candidates().size(), 2u);
  EXPECT_NEAR(s2.candidates()[1].p, 0.375, 1e-6);
}

TEST(SamplerTest, MinPDropsBelowFractionOfMax) {
  SamplingParams p;
  p.min_p = 0.5;  // cut = 0.25: keeps 0.5 and 0.3, drops 0.2
  Sampler s(p);
  auto logits = Probs532();
  s.Sample(logits.data(), 3, {});
  ASSERT_EQ(s.candidates().size(), 2u);
  EXPECT_EQ(s.candidates()[1].id, 2);
  p.min_p = 0.7;  // cut = 0.35: only 0.5
  Sampler s2(p);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(s2.Sample(logits.data(), 3, {}), 1);
}

TEST(SamplerTest, SameSeedSameTokensDifferentSeedDiffers) {
  std::vector<float> logits(50);
  for (int i = 0; i < 50; ++i) logits[i] = 0.01f * i;
  SamplingParams p;
  p.seed = 42;
  Sampler a(p), b(p);
  p.seed = 43;
  Sampler c(p);
  std::vector<int32_t> ta, tb, tc;
  for (int i = 0; i < 64; ++i) {
    ta.push_back(a.Sample(logits.data(), 50, {}));
    tb.push_back(b.Sample(logits.data(), 50, {}));
    tc.push_back(c.Sample(logits.data(), 50, {}));
  }
  EXPECT_EQ(ta, tb);
  EXPECT_NE(ta, tc);
}

TEST(SamplerTest, DrawFrequenciesFollowProbabilities) {
  SamplingParams p;
  p.seed = 7;
  Sampler s(p);
  auto logits = Probs532();
  int counts[3] = {0, 0, 0};
  const int n = 20000;
  for (int i = 0; i < n; ++i) ++counts[s.Sample(logits.data(), 3, {})];
  EXPECT_NEAR(counts[0] / double(n), 0.2, 0.015);
  EXPECT_NEAR(counts[1] / double(n), 0.5, 0.015);
  EXPECT_NEAR(counts[2] / double(n), 0.3, 0.015);
}

TEST(RngTest, UniformInUnitIntervalAndMeanHalf) {
  Rng r(1);
  double sum = 0;
  for (int i = 0; i < 10000; ++i) {
    double u = r.NextDouble();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  EXPECT_NEAR(sum / 10000, 0.5, 0.02);
}

}  // namespace
}  // namespace cachet::sampling
