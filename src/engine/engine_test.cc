// Engine tests over FakeModel: scheduling, limits, cancellation, admission control, sampling.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "engine/create_engine.h"
#include "engine/testing/fake_model.h"

namespace cachet::engine {
namespace {

using testing::FakeModel;
using Clock = std::chrono::steady_clock;
constexpr int64_t kVocab = 32;
constexpr int64_t kBlockBytes = 2 * 64 * 4;  // K and V, one f32 each per token

struct Outcome {
  std::vector<int32_t> ids;
  std::vector<GeneratedToken> tokens;
  Event last;
  int events = 0;
  bool finished = false;
};

Outcome Collect(RequestStream& s, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  Outcome o;
  const auto deadline = Clock::now() + timeout;
  Event e;
  while (s.Next(&e, deadline)) {
    ++o.events;
    for (const auto& t : e.tokens) {
      o.ids.push_back(t.id);
      o.tokens.push_back(t);
    }
    if (e.finished) {
      o.finished = true;
      o.last = e;
      break;
    }
  }
  return o;
}

std::vector<int32_t> Prompt(int n, int salt) {
  std::vector<int32_t> v(n);
  for (int i = 0; i < n; ++i) v[i] = (i * 7 + salt * 13 + 1) % kVocab;
  return v;
}

GenerateRequest Greedy(std::vector<int32_t> prompt, int64_t max_tokens) {
  GenerateRequest r;
  r.request_id = "req";
  r.prompt = std::move(prompt);
  r.max_tokens = max_tokens;
  r.sampling.temperature = 0.0f;
  return r;
}

struct Fixture {
  explicit Fixture(EngineConfig cfg = {}, int64_t n_ctx = 4096) {
    model = std::make_shared<FakeModel>(kVocab, n_ctx);
    if (cfg.kv_budget_bytes == (int64_t{1} << 30)) cfg.kv_budget_bytes = 64 * kBlockBytes;
    auto e = CreateEngine(model, cfg);
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    engine = std::move(e).value();
  }
  std::shared_ptr<RequestStream> Submit(GenerateRequest r) {
    auto s = engine->Submit(std::move(r));
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? *s : nullptr;
  }
  // Polls stats until pred holds (the engine publishes them after each step).
  template <typename Pred>
  bool WaitStats(Pred pred) {
    for (int i = 0; i < 2000; ++i) {
      if (pred(engine->stats())) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }
  std::shared_ptr<FakeModel> model;
  std::unique_ptr<Engine> engine;
};

TEST(Engine, GreedyRequestMatchesTheModelAndStopsAtMaxTokens) {
  Fixture f;
  EXPECT_EQ(f.engine->info().n_vocab, kVocab);
  EXPECT_EQ(f.engine->stats().kv_blocks_total, 64);
  const auto prompt = Prompt(10, 1);
  const auto t0 = Clock::now();
  auto s = f.Submit(Greedy(prompt, 6));
  Outcome o = Collect(*s);
  ASSERT_TRUE(o.finished);
  EXPECT_EQ(o.ids, FakeModel::ExpectedGreedy(prompt, 6, kVocab));
  EXPECT_EQ(o.last.finish_reason, FinishReason::kLength);
  EXPECT_EQ(o.last.usage.prompt_tokens, 10);
  EXPECT_EQ(o.last.usage.prompt_cached_tokens, 0);
  EXPECT_EQ(o.last.usage.completion_tokens, 6);
  EXPECT_GE(o.last.first_token_time, t0);
  Event e;
  EXPECT_FALSE(s->Next(&e, Clock::now()));  // nothing after the final event
  EXPECT_TRUE(f.WaitStats([](const EngineStats& st) { return st.kv_blocks_used == 0; }));
  EXPECT_EQ(f.engine->stats().cache_miss_tokens, 10);
}

TEST(Engine, ConcurrentRequestsAreBatchedAndChunkedWithoutChangingResults) {
  EngineConfig cfg;
  cfg.max_batch_tokens = 48;  // prompts of 150 tokens take several chunked steps
  Fixture f(cfg);
  f.model->CloseGate();  // let all requests queue up before the first step
  std::vector<std::vector<int32_t>> prompts;
  std::vector<std::shared_ptr<RequestStream>> streams;
  for (int i = 0; i < 10; ++i) {
    prompts.push_back(Prompt(i % 3 == 0 ? 150 : 5 + i, i));
    streams.push_back(f.Submit(Greedy(prompts.back(), 5 + i % 4)));
  }
  f.model->OpenGate();
  for (int i = 0; i < 10; ++i) {
    Outcome o = Collect(*streams[i]);
    ASSERT_TRUE(o.finished) << i;
    EXPECT_EQ(o.ids, FakeModel::ExpectedGreedy(prompts[i], 5 + i % 4, kVocab)) << i;
  }
  EXPECT_GT(f.model->max_seqs(), 4);
}

TEST(Engine, StopIdEndsTheRequestAndIsNotEmitted) {
  Fixture f;
  const auto prompt = Prompt(7, 2);
  const auto want = FakeModel::ExpectedGreedy(prompt, 12, kVocab);
  size_t k = 1;
  while (k < want.size() &&
         std::find(want.begin(), want.begin() + k, want[k]) != want.begin() + k) {
    ++k;
  }
  ASSERT_LT(k, want.size());  // want[k] is a token not seen before position k
  auto r = Greedy(prompt, 12);
  r.stop_ids = {want[k], kVocab + 5};
  Outcome o = Collect(*f.Submit(std::move(r)));
  EXPECT_EQ(o.ids, std::vector<int32_t>(want.begin(), want.begin() + k));
  EXPECT_EQ(o.last.finish_reason, FinishReason::kStop);
  EXPECT_EQ(o.last.usage.completion_tokens, static_cast<int64_t>(k) + 1);
}

TEST(Engine, SubmitValidatesTheRequest) {
  Fixture f({}, /*n_ctx=*/20);
  EXPECT_EQ(f.engine->info().n_ctx, 20);
  auto code = [&](GenerateRequest r) { return f.engine->Submit(std::move(r)).status().code(); };
  EXPECT_EQ(code(Greedy({}, 1)), StatusCode::kInvalidArgument);
  EXPECT_EQ(code(Greedy({1, kVocab}, 1)), StatusCode::kInvalidArgument);
  EXPECT_EQ(code(Greedy({1, -1}, 1)), StatusCode::kInvalidArgument);
  EXPECT_EQ(code(Greedy({1}, 0)), StatusCode::kInvalidArgument);
  EXPECT_EQ(code(Greedy(Prompt(15, 0), 6)), StatusCode::kInvalidArgument);
  auto bad = Greedy({1}, 1);
  bad.sampling.temperature = NAN;
  EXPECT_EQ(code(bad), StatusCode::kInvalidArgument);
  bad = Greedy({1}, 1);
  bad.sampling.top_logprobs = 21;
  EXPECT_EQ(code(bad), StatusCode::kInvalidArgument);
  bad = Greedy({1}, 1);
  bad.sampling.top_p = 0.0f;
  EXPECT_EQ(code(bad), StatusCode::kInvalidArgument);
  // Exactly the context: allowed, and it ends with kLength at the limit.
  auto s = f.Submit(Greedy(Prompt(15, 0), 5));
  Outcome o = Collect(*s);
  EXPECT_EQ(o.ids.size(), 5u);
  EXPECT_EQ(o.last.finish_reason, FinishReason::kLength);
}

EngineConfig NoCache() {
  EngineConfig cfg;
  cfg.prefix_cache = false;  // so that a freed sequence leaves no block in use
  return cfg;
}

TEST(Engine, CancelFreesTheSequenceWithinAStep) {
  Fixture f(NoCache());
  f.model->set_delay_ms(2);
  auto s = f.Submit(Greedy(Prompt(100, 3), 3000));
  Event e;
  ASSERT_TRUE(s->Next(&e, Clock::now() + std::chrono::seconds(10)));
  EXPECT_FALSE(e.tokens.empty());
  ASSERT_TRUE(f.WaitStats([](const EngineStats& st) {
    return st.running == 1 && st.kv_blocks_used >= 2;
  }));
  s->Cancel();
  s->Finish();  // ignored: the first control wins
  Outcome o = Collect(*s);
  ASSERT_TRUE(o.finished);
  EXPECT_EQ(o.last.finish_reason, FinishReason::kCancelled);
  EXPECT_LT(o.last.usage.completion_tokens, 3000);
  EXPECT_TRUE(f.WaitStats([](const EngineStats& st) {
    return st.kv_blocks_used == 0 && st.running == 0;
  }));
}

TEST(Engine, DroppingTheStreamCancels) {
  Fixture f(NoCache());
  f.model->set_delay_ms(2);
  auto s = f.Submit(Greedy(Prompt(10, 4), 3000));
  Event e;
  ASSERT_TRUE(s->Next(&e, Clock::now() + std::chrono::seconds(10)));
  s.reset();
  EXPECT_TRUE(f.WaitStats([](const EngineStats& st) {
    return st.kv_blocks_used == 0 && st.running == 0;
  }));
  const int64_t steps = f.model->steps();
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(f.model->steps(), steps);  // nothing runs any more
}

TEST(Engine, FinishBillsTheDeliveredTokens) {
  Fixture f;
  f.model->set_delay_ms(1);
  auto s = f.Submit(Greedy(Prompt(10, 5), 3000));
  int64_t delivered = 0;
  Event e;
  while (delivered < 3 && s->Next(&e, Clock::now() + std::chrono::seconds(10))) {
    delivered += static_cast<int64_t>(e.tokens.size());
  }
  s->Finish();
  std::this_thread::sleep_for(std::chrono::milliseconds(10));  // more tokens may be produced
  Outcome o = Collect(*s);
  ASSERT_TRUE(o.finished);
  EXPECT_EQ(o.last.finish_reason, FinishReason::kStop);
  EXPECT_TRUE(o.ids.empty());  // undelivered tokens are dropped
  EXPECT_EQ(o.last.usage.completion_tokens, delivered);
}

TEST(Engine, QueueFullIsResourceExhausted) {
  EngineConfig cfg;
  cfg.queue_capacity = 2;
  cfg.max_running = 1;
  Fixture f(cfg);
  f.model->CloseGate();
  auto a = f.Submit(Greedy(Prompt(5, 1), 2));
  ASSERT_TRUE(f.model->WaitArrivals(1));  // a is admitted and inside Forward
  auto b = f.Submit(Greedy(Prompt(5, 2), 2));
  auto c = f.Submit(Greedy(Prompt(5, 3), 2));
  EXPECT_EQ(f.engine->stats().queue_depth, 2);
  auto d = f.engine->Submit(Greedy(Prompt(5, 4), 2));
  EXPECT_EQ(d.status().code(), StatusCode::kResourceExhausted);
  f.model->OpenGate();
  for (auto* s : {&a, &b, &c}) {
    Outcome o = Collect(**s);
    EXPECT_TRUE(o.finished);
    EXPECT_EQ(o.last.finish_reason, FinishReason::kLength);
  }
  EXPECT_TRUE(f.WaitStats([](const EngineStats& st) { return st.queue_depth == 0; }));
  EXPECT_TRUE(f.engine->Submit(Greedy(Prompt(5, 4), 2)).ok());
}

TEST(Engine, QueueDeadlineRefusesAWaitingRequest) {
  EngineConfig cfg;
  cfg.max_running = 1;
  Fixture f(cfg);
  f.model->CloseGate();
  auto a = f.Submit(Greedy(Prompt(5, 1), 3));
  ASSERT_TRUE(f.model->WaitArrivals(1));
  auto late = Greedy(Prompt(5, 2), 3);
  late.queue_deadline = Clock::now() + std::chrono::milliseconds(20);
  auto b = f.Submit(std::move(late));
  std::this_thread::sleep_for(std::chrono::milliseconds(40));
  f.model->OpenGate();
  Outcome ob = Collect(*b);
  ASSERT_TRUE(ob.finished);
  EXPECT_EQ(ob.last.finish_reason, FinishReason::kError);
  EXPECT_EQ(ob.last.error.code(), StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(ob.ids.empty());
  Outcome oa = Collect(*a);
  EXPECT_EQ(oa.ids.size(), 3u);
}

TEST(Engine, PreemptionByRecomputeKeepsResultsExact) {
  EngineConfig cfg;
  cfg.kv_budget_bytes = 4 * kBlockBytes;  // 4 blocks of 64 tokens
  Fixture f(cfg);
  f.model->CloseGate();
  std::vector<std::vector<int32_t>> prompts = {Prompt(60, 1), Prompt(60, 2), Prompt(60, 3)};
  std::vector<std::shared_ptr<RequestStream>> streams;
  for (const auto& p : prompts) streams.push_back(f.Submit(Greedy(p, 70)));  // 130 tokens each
  auto too_big = f.Submit(Greedy(Prompt(300, 4), 1));  // 5 blocks: never fits
  f.model->OpenGate();
  for (size_t i = 0; i < prompts.size(); ++i) {
    Outcome o = Collect(*streams[i]);
    ASSERT_TRUE(o.finished);
    EXPECT_EQ(o.ids, FakeModel::ExpectedGreedy(prompts[i], 70, kVocab)) << i;
  }
  Outcome ob = Collect(*too_big);
  EXPECT_EQ(ob.last.finish_reason, FinishReason::kError);
  EXPECT_EQ(ob.last.error.code(), StatusCode::kResourceExhausted);
  // Three sequences of 3 blocks cannot share 4 blocks: some prefix was computed twice.
  EXPECT_GT(f.model->tokens(), 3 * 130 - 3);
  EXPECT_GT(f.engine->stats().preemptions, 0);
}

TEST(Engine, SeededSamplingIsReproducibleAndLogprobsAreLogSoftmax) {
  Fixture f;
  auto req = [&](uint64_t seed) {
    auto r = Greedy(Prompt(6, 7), 8);
    r.sampling.temperature = 1.5f;
    r.sampling.seed = seed;
    r.sampling.has_seed = true;
    r.sampling.logprobs = true;
    r.sampling.top_logprobs = 3;
    return r;
  };
  Outcome a = Collect(*f.Submit(req(42)));
  Outcome b = Collect(*f.Submit(req(42)));
  Outcome c = Collect(*f.Submit(req(43)));
  EXPECT_EQ(a.ids, b.ids);
  EXPECT_NE(a.ids, c.ids);
  // Reference log-softmax of the fake logits for the first token.
  std::vector<int32_t> hist = Prompt(6, 7);
  const int32_t next = FakeModel::NextToken(hist, kVocab);
  double z = 0;
  for (int v = 0; v < kVocab; ++v) z += std::exp(4.0 - 0.5 * std::abs(v - next));
  auto ref = [&](int v) { return 4.0 - 0.5 * std::abs(v - next) - std::log(z); };
  ASSERT_EQ(a.tokens[0].top.size(), 3u);
  EXPECT_EQ(a.tokens[0].top[0].id, next);
  EXPECT_NEAR(a.tokens[0].top[0].logprob, ref(next), 1e-5);
  EXPECT_NEAR(a.tokens[0].logprob, ref(a.tokens[0].id), 1e-5);
  EXPECT_LE(a.tokens[0].top[1].logprob, a.tokens[0].top[0].logprob);
  EXPECT_EQ(a.tokens[0].top[1].id, std::max(0, next - 1));  // ties: lower id first
}

class EvenOnly : public TokenConstraint {
 public:
  explicit EvenOnly(int n) : left_(n) {}
  bool Allowed(std::span<uint8_t> mask) override {
    if (left_ < 0) return false;
    for (size_t i = 1; i < mask.size(); i += 2) mask[i] = 0;
    return true;
  }
  void Accept(int32_t id) override {
    accepted.push_back(id);
    --left_;
  }
  bool Done() const override { return left_ == 0; }
  std::vector<int32_t> accepted;

 private:
  int left_;
};

TEST(Engine, ConstraintMasksTokensAndEndsTheRequest) {
  Fixture f;
  auto c = std::make_shared<EvenOnly>(4);
  auto r = Greedy(Prompt(9, 8), 50);
  r.sampling.temperature = 2.0f;
  r.constraint = c;
  Outcome o = Collect(*f.Submit(std::move(r)));
  ASSERT_EQ(o.ids.size(), 4u);
  for (int32_t id : o.ids) EXPECT_EQ(id % 2, 0);
  EXPECT_EQ(o.last.finish_reason, FinishReason::kStop);
  EXPECT_EQ(c->accepted, o.ids);
  auto none = Greedy(Prompt(9, 8), 50);
  none.constraint = std::make_shared<EvenOnly>(-1);
  Outcome n = Collect(*f.Submit(std::move(none)));
  EXPECT_TRUE(n.ids.empty());
  EXPECT_EQ(n.last.finish_reason, FinishReason::kStop);
}

TEST(Engine, ShutdownCancelsAfterGraceAndRefusesNewWork) {
  Fixture f;
  f.model->set_delay_ms(2);
  auto quick = f.Submit(Greedy(Prompt(5, 1), 2));
  auto slow = f.Submit(Greedy(Prompt(5, 2), 3000));
  f.engine->Shutdown(std::chrono::milliseconds(50));
  Outcome q = Collect(*quick);
  EXPECT_EQ(q.last.finish_reason, FinishReason::kLength);
  Outcome s = Collect(*slow);
  ASSERT_TRUE(s.finished);
  EXPECT_EQ(s.last.finish_reason, FinishReason::kCancelled);
  EXPECT_EQ(f.engine->Submit(Greedy(Prompt(5, 3), 2)).status().code(), StatusCode::kUnavailable);
  f.engine->Shutdown(std::chrono::milliseconds(0));  // idempotent
}

TEST(Engine, CachedPrefixIsReusedAndReportedInUsage) {
  Fixture f;
  const auto prompt = Prompt(150, 9);  // two full blocks + 22 tokens
  const auto want = FakeModel::ExpectedGreedy(prompt, 5, kVocab);
  Outcome a = Collect(*f.Submit(Greedy(prompt, 5)));
  EXPECT_EQ(a.ids, want);
  EXPECT_EQ(a.last.usage.prompt_cached_tokens, 0);
  const int64_t before = f.model->tokens();
  Outcome b = Collect(*f.Submit(Greedy(prompt, 5)));
  EXPECT_EQ(b.ids, want);
  EXPECT_EQ(b.last.usage.prompt_cached_tokens, 128);
  EXPECT_EQ(b.last.usage.prompt_tokens, 150);
  EXPECT_EQ(f.model->tokens() - before, 22 + 4);  // the tail of the prompt, then 4 decode steps
  // Another tenant's salt never shares.
  auto other = Greedy(prompt, 5);
  other.cache_salt = "tenant-b";
  Outcome c = Collect(*f.Submit(std::move(other)));
  EXPECT_EQ(c.ids, want);
  EXPECT_EQ(c.last.usage.prompt_cached_tokens, 0);
  // A prompt that shares only the first block hits that block.
  auto forked = prompt;
  forked[100] = (forked[100] + 1) % kVocab;
  Outcome d = Collect(*f.Submit(Greedy(forked, 3)));
  EXPECT_EQ(d.ids, FakeModel::ExpectedGreedy(forked, 3, kVocab));
  EXPECT_EQ(d.last.usage.prompt_cached_tokens, 64);
  EXPECT_TRUE(f.WaitStats([](const EngineStats& st) {
    return st.cache_hit_tokens_ram == 128 + 64 && st.cache_miss_tokens == 4 * 150 - 192;
  }));
}

TEST(Engine, CachedBlocksAreEvictedWhenTheirSpaceIsNeeded) {
  EngineConfig cfg;
  cfg.kv_budget_bytes = 4 * kBlockBytes;
  Fixture f(cfg);
  const auto p1 = Prompt(130, 1);
  Outcome a = Collect(*f.Submit(Greedy(p1, 3)));
  EXPECT_EQ(a.ids, FakeModel::ExpectedGreedy(p1, 3, kVocab));
  EXPECT_TRUE(f.WaitStats([](const EngineStats& st) { return st.kv_blocks_used == 2; }));
  const auto p2 = Prompt(250, 2);  // 4 blocks: both cached blocks must go
  Outcome b = Collect(*f.Submit(Greedy(p2, 2)));
  EXPECT_EQ(b.ids, FakeModel::ExpectedGreedy(p2, 2, kVocab));
  Outcome c = Collect(*f.Submit(Greedy(p1, 3)));
  EXPECT_EQ(c.ids, a.ids);
  EXPECT_EQ(c.last.usage.prompt_cached_tokens, 0);  // evicted meanwhile
  EXPECT_GE(f.engine->stats().cache_evictions, 2);
}

TEST(Engine, PrefixCacheCanBeTurnedOff) {
  EngineConfig cfg;
  cfg.prefix_cache = false;
  Fixture f(cfg);
  const auto prompt = Prompt(150, 9);
  Collect(*f.Submit(Greedy(prompt, 2)));
  Outcome b = Collect(*f.Submit(Greedy(prompt, 2)));
  EXPECT_EQ(b.ids, FakeModel::ExpectedGreedy(prompt, 2, kVocab));
  EXPECT_EQ(b.last.usage.prompt_cached_tokens, 0);
  EXPECT_TRUE(f.WaitStats([](const EngineStats& st) { return st.kv_blocks_used == 0; }));
}

std::string TempDir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "cachet_engine_" + name + "_" +
                          std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  return dir;
}

TEST(Engine, DiskTierServesThePrefixAfterARestart) {
  EngineConfig cfg;
  cfg.cache_dir = TempDir("restart");
  const auto prompt = Prompt(150, 11);
  const auto want = FakeModel::ExpectedGreedy(prompt, 4, kVocab);
  {
    Fixture f(cfg);
    Outcome a = Collect(*f.Submit(Greedy(prompt, 4)));
    EXPECT_EQ(a.ids, want);
    f.engine->Shutdown(std::chrono::milliseconds(0));  // spills the cached blocks to disk
  }
  Fixture g(cfg);  // a new process, as far as the engine can tell
  Outcome b = Collect(*g.Submit(Greedy(prompt, 4)));
  EXPECT_EQ(b.ids, want);  // FakeModel also checks every loaded KV entry
  EXPECT_EQ(b.last.usage.prompt_cached_tokens, 128);
  EXPECT_EQ(g.model->tokens(), 22 + 3);
  EXPECT_TRUE(g.WaitStats([](const EngineStats& st) {
    return st.cache_hit_tokens_disk == 128 && st.cache_hit_tokens_ram == 0 &&
           st.cache_disk_bytes_read >= 2 * kBlockBytes && st.cache_blocks_ram >= 2;
  }));
  // Now in RAM: a third request hits RAM.
  Outcome c = Collect(*g.Submit(Greedy(prompt, 4)));
  EXPECT_EQ(c.ids, want);
  EXPECT_EQ(c.last.usage.prompt_cached_tokens, 128);
  EXPECT_TRUE(g.WaitStats([](const EngineStats& st) { return st.cache_hit_tokens_ram == 128; }));
  std::filesystem::remove_all(cfg.cache_dir);
}

TEST(Engine, AFailedForwardEndsTheStepsRequestsWithAnError) {
  Fixture f;
  f.model->CloseGate();
  auto a = f.Submit(Greedy(Prompt(5, 1), 10));
  auto b = f.Submit(Greedy(Prompt(6, 2), 10));
  f.model->set_fail_at_step(3);  // both are in the batch by then
  f.model->OpenGate();
  // Whatever the two steps before produced was delivered and is right; then the error.
  for (auto [s, p] : {std::pair{&a, Prompt(5, 1)}, std::pair{&b, Prompt(6, 2)}}) {
    Outcome o = Collect(**s);
    ASSERT_TRUE(o.finished);
    EXPECT_EQ(o.last.finish_reason, FinishReason::kError);
    EXPECT_EQ(o.last.error.code(), StatusCode::kInternal);
    EXPECT_LE(o.ids.size(), 2u);
    auto want = FakeModel::ExpectedGreedy(p, 2, kVocab);
    want.resize(o.ids.size());
    EXPECT_EQ(o.ids, want);
  }
  // The engine goes on serving.
  const auto p = Prompt(7, 3);
  Outcome c = Collect(*f.Submit(Greedy(p, 3)));
  EXPECT_EQ(c.ids, FakeModel::ExpectedGreedy(p, 3, kVocab));
}

TEST(Engine, CancelDuringADiskLoadIsSafe) {
  EngineConfig cfg;
  cfg.cache_dir = TempDir("cancel_load");
  const auto prompt = Prompt(200, 13);
  const auto want = FakeModel::ExpectedGreedy(prompt, 3, kVocab);
  {
    Fixture f(cfg);
    EXPECT_EQ(Collect(*f.Submit(Greedy(prompt, 3))).ids, want);
  }
  Fixture g(cfg);
  g.model->CloseGate();  // nothing else runs: the engine only accepts, loads and cancels
  auto s = g.Submit(Greedy(prompt, 3));
  s->Cancel();
  Outcome a = Collect(*s);
  EXPECT_EQ(a.last.finish_reason, FinishReason::kCancelled);
  g.model->OpenGate();
  // The load finished on its own; its blocks went to the RAM index, not to the free list while
  // the I/O thread could still write them.
  Outcome b = Collect(*g.Submit(Greedy(prompt, 3)));
  EXPECT_EQ(b.ids, want);
  EXPECT_EQ(b.last.usage.prompt_cached_tokens, 192);
  std::filesystem::remove_all(cfg.cache_dir);
}

TEST(Engine, CorruptDiskBlocksAreRecomputedNeverServed) {
  EngineConfig cfg;
  cfg.cache_dir = TempDir("corrupt");
  const auto prompt = Prompt(150, 12);
  const auto want = FakeModel::ExpectedGreedy(prompt, 3, kVocab);
  {
    Fixture f(cfg);
    Outcome a = Collect(*f.Submit(Greedy(prompt, 3)));
    EXPECT_EQ(a.ids, want);
  }  // spilled to disk
  int flipped = 0;
  for (const auto& entry : std::filesystem::directory_iterator(cfg.cache_dir)) {
    if (entry.path().extension() != ".kvb") continue;
    std::FILE* fp = std::fopen(entry.path().c_str(), "r+b");
    ASSERT_NE(fp, nullptr);
    std::fseek(fp, -1, SEEK_END);  // the last payload byte
    const int c = std::fgetc(fp);
    std::fseek(fp, -1, SEEK_END);
    std::fputc(c ^ 0x40, fp);
    std::fclose(fp);
    ++flipped;
  }
  ASSERT_GE(flipped, 2);
  Fixture g(cfg);
  Outcome b = Collect(*g.Submit(Greedy(prompt, 3)));
  EXPECT_EQ(b.ids, want);  // a served corrupt block would fail FakeModel's KV check
  EXPECT_EQ(b.last.finish_reason, FinishReason::kLength);
  EXPECT_EQ(b.last.usage.prompt_cached_tokens, 0);
  EXPECT_EQ(g.model->tokens(), 150 + 2);
  std::filesystem::remove_all(cfg.cache_dir);
}

TEST(Engine, CreateRejectsBadConfigs) {
  auto m = std::make_shared<FakeModel>();
  EngineConfig cfg;
  cfg.kv_budget_bytes = kBlockBytes - 1;
  EXPECT_EQ(CreateEngine(m, cfg).status().code(), StatusCode::kInvalidArgument);
  cfg = {};
  cfg.max_running = 0;
  EXPECT_EQ(CreateEngine(m, cfg).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CreateEngine(nullptr, {}).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cachet::engine
