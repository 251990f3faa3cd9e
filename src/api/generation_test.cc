#include "api/generation.h"

#include <gtest/gtest.h>

#include "api/testing/fake_model.h"

namespace cachet::api {
namespace {

using testing::MakeFakeModel;

engine::GenerateRequest Req(const ModelEntry& m, int64_t max_tokens) {
  engine::GenerateRequest r;
  r.prompt = m.tokenizer->Encode("hi", false, false);
  r.max_tokens = max_tokens;
  r.stop_ids = m.tokenizer->eog_ids();
  return r;
}

TEST(Generation, DecodesScriptAndReportsUsage) {
  auto fm = MakeFakeModel("m", "Hello, world");
  Metrics metrics;
  auto g = Generation::Start(fm.entry, Req(fm.entry, 100), {}, {}, &metrics);
  ASSERT_TRUE(g.ok());
  Delta d = (*g)->Collect();
  EXPECT_EQ(d.content, "Hello, world");
  EXPECT_EQ(d.finish, Finish::kStop);
  EXPECT_EQ(d.usage.prompt_tokens, 2);
  EXPECT_EQ(d.usage.completion_tokens, 12);
  EXPECT_EQ(metrics.tokens_completion(), 12);
  EXPECT_EQ(metrics.ttft().count(), 1);
}

TEST(Generation, StopStringAcrossTokensFinishesEngineAndHidesTail) {
  auto fm = MakeFakeModel("m", "abc STOP def");
  auto g = Generation::Start(fm.entry, Req(fm.entry, 100), {"STOP"}, {}, nullptr);
  ASSERT_TRUE(g.ok());
  Delta d = (*g)->Collect();
  EXPECT_EQ(d.content, "abc ");
  EXPECT_EQ(d.finish, Finish::kStop);
  EXPECT_EQ(d.stop_sequence, "STOP");
  // The engine was told to finish right after the 'P': 8 tokens delivered, not 12.
  EXPECT_EQ(d.usage.completion_tokens, 8);
}

TEST(Generation, LengthFinish) {
  auto fm = MakeFakeModel("m", "abcdefgh");
  auto g = Generation::Start(fm.entry, Req(fm.entry, 3), {}, {}, nullptr);
  ASSERT_TRUE(g.ok());
  Delta d = (*g)->Collect();
  EXPECT_EQ(d.content, "abc");
  EXPECT_EQ(d.finish, Finish::kLength);
}

TEST(Generation, MultibyteCharacterSplitOverTokensIsWhole) {
  // "é" is two byte tokens in the byte-level vocabulary: no delta may carry half of it.
  auto fm = MakeFakeModel("m", "\xC3\xA9t\xC3\xA9");
  auto g = Generation::Start(fm.entry, Req(fm.entry, 100), {}, {}, nullptr);
  ASSERT_TRUE(g.ok());
  std::vector<std::string> pieces;
  Delta d;
  while ((*g)->Next(&d, std::chrono::steady_clock::now() + std::chrono::seconds(5))) {
    if (!d.content.empty()) pieces.push_back(d.content);
  }
  ASSERT_EQ(pieces.size(), 3u);
  EXPECT_EQ(pieces[0], "\xC3\xA9");
  EXPECT_EQ(pieces[1], "t");
}

TEST(Generation, LogprobsFollowReleasedText) {
  auto fm = MakeFakeModel("m", "ab");
  auto r = Req(fm.entry, 100);
  r.sampling.logprobs = true;
  r.sampling.top_logprobs = 2;
  auto g = Generation::Start(fm.entry, r, {"b"}, {}, nullptr);
  ASSERT_TRUE(g.ok());
  Delta d = (*g)->Collect();
  EXPECT_EQ(d.content, "a");
  ASSERT_EQ(d.logprobs.size(), 1u);  // the 'b' token was cut by the stop string
  EXPECT_EQ(d.logprobs[0].chosen.token, "a");
  EXPECT_FLOAT_EQ(d.logprobs[0].chosen.logprob, -0.25f);
  ASSERT_EQ(d.logprobs[0].top.size(), 2u);
  EXPECT_EQ(d.logprobs[0].top[1].token, "b");
}

TEST(Generation, DestroyingUnfinishedGenerationCancels) {
  testing::FakeEngineOptions o;
  o.token_delay = std::chrono::milliseconds(50);
  auto fm = MakeFakeModel("m", "abcdefgh", o);
  {
    auto g = Generation::Start(fm.entry, Req(fm.entry, 100), {}, {}, nullptr);
    ASSERT_TRUE(g.ok());
    Delta d;
    ASSERT_TRUE((*g)->Next(&d, std::chrono::steady_clock::now() + std::chrono::seconds(5)));
  }
  EXPECT_EQ(fm.engine->cancelled(), 1);
  EXPECT_EQ(fm.engine->active(), 0);
}

TEST(Generation, EngineErrorSurfaces) {
  testing::FakeEngineOptions o;
  o.fail_with = "boom";
  auto fm = MakeFakeModel("m", "x", o);
  auto g = Generation::Start(fm.entry, Req(fm.entry, 100), {}, {}, nullptr);
  ASSERT_TRUE(g.ok());
  Delta d = (*g)->Collect();
  EXPECT_EQ(d.finish, Finish::kError);
  EXPECT_EQ(d.error.code(), StatusCode::kInternal);
}

}  // namespace
}  // namespace cachet::api
