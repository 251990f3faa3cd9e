#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "billing/keys.h"
#include "billing/meter.h"

namespace cachet::billing {
namespace {

TEST(RateLimiter, RequestsPerMinuteSlideAndConcurrencyIsReleased) {
  RateLimiter rl;
  KeyLimits lim{.requests_per_min = 2, .tokens_per_min = 100, .max_concurrent = 3};
  int64_t retry = 0;
  ASSERT_TRUE(rl.Acquire(7, lim, 10, 1000, &retry).ok());
  ASSERT_TRUE(rl.Acquire(7, lim, 10, 1030, &retry).ok());
  Status s = rl.Acquire(7, lim, 10, 1031, &retry);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(retry, 29);  // the request of second 1000 leaves the window at 1060
  EXPECT_TRUE(rl.Acquire(7, lim, 10, 1060, &retry).ok());
  EXPECT_EQ(rl.Concurrent(7), 3);
  EXPECT_EQ(rl.Acquire(7, KeyLimits{.max_concurrent = 3}, 1, 1061, &retry).code(),
            StatusCode::kResourceExhausted);
  rl.Release(7);
  EXPECT_TRUE(rl.Acquire(7, KeyLimits{.max_concurrent = 3}, 1, 1061, &retry).ok());
  // Other keys are independent; a request bigger than the whole budget is a 400, not a 429.
  EXPECT_TRUE(rl.Acquire(8, lim, 100, 1061, &retry).ok());
  EXPECT_EQ(rl.Acquire(9, lim, 101, 1061, &retry).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(rl.Acquire(8, lim, 1, 1062, &retry).code(), StatusCode::kResourceExhausted);
  rl.AdjustTokens(8, -50, 1062);  // the request used fewer tokens than admitted
  EXPECT_TRUE(rl.Acquire(8, lim, 40, 1062, &retry).ok());
}

class MeterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("cachet_meter_" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    auto l = OpenLedger(dir_.string(), "", "server");
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    meter_ = std::make_unique<Meter>(std::move(*l), MeterOptions{});
    Ledger& L = meter_->ledger();
    ASSERT_TRUE(L.CreateAccount("acme", "USD", true).ok());
    ASSERT_TRUE(L.CreateAccount("beta", "USD", true).ok());
    ASSERT_TRUE(L.Credit("acme", "topup", *ParseAmount("1"), "").ok());
    key_ = *GenerateKey();
    ASSERT_TRUE(L.CreateKey("acme", HashKey(key_), KeyDisplay(key_), "", KeyLimits{}).ok());
    key_b_ = *GenerateKey();
    ASSERT_TRUE(L.CreateKey("beta", HashKey(key_b_), KeyDisplay(key_b_), "", KeyLimits{}).ok());
    PriceVersion p;
    p.model = "m";
    p.hit_per_m = *ParseAmount("0.1");
    p.miss_per_m = *ParseAmount("1");
    p.output_per_m = *ParseAmount("2");
    ASSERT_TRUE(L.AddPrice(p).ok());
  }
  void TearDown() override {
    meter_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::filesystem::path dir_;
  std::unique_ptr<Meter> meter_;
  std::string key_, key_b_;
};

TEST_F(MeterTest, AuthenticatesAndSaltsPerAccount) {
  auto a = meter_->Authenticate(key_);
  auto b = meter_->Authenticate(key_b_);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->account, "acme");
  EXPECT_NE(a->cache_salt, b->cache_salt);
  EXPECT_EQ(meter_->Authenticate("").status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(meter_->Authenticate("Bearer x").status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(meter_->Authenticate(key_ + "0").status().code(), StatusCode::kUnauthenticated);
}

TEST_F(MeterTest, HoldsMaxCostAndSettlesRealCostOnce) {
  auto p = *meter_->Authenticate(key_);
  int64_t retry = 0;
  // Max cost 300k prompt * 1 + 200k output * 2 = 0.7 of the 1.0 balance.
  auto a = meter_->Admit(p, "req-1", "m", 300'000, 200'000, &retry);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(meter_->ledger().GetAccount("acme")->held, *ParseAmount("0.7"));
  // A second such request does not fit next to the first: 402.
  EXPECT_EQ(meter_->Admit(p, "req-2", "m", 300'000, 200'000, &retry).status().code(),
            StatusCode::kInsufficientFunds);
  // Real: 256k of the prompt from cache (0.0256), 44k miss (0.044), 10k out (0.02).
  auto rec = meter_->Finish(&*a, FinishedUsage{300'000, 256'000, 10'000, 1234, "ok"});
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  EXPECT_EQ(rec->cost, *ParseAmount("0.0896"));
  auto acct = *meter_->ledger().GetAccount("acme");
  EXPECT_EQ(acct.held, 0);
  EXPECT_EQ(acct.topped_up, *ParseAmount("0.9104"));
  EXPECT_EQ(meter_->Finish(&*a, FinishedUsage{}).status().code(), StatusCode::kAlreadyExists);
}

}  // namespace
}  // namespace cachet::billing
