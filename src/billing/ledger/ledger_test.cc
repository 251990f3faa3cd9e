// Ledger tests, run against every backend available (SQLite always; PostgreSQL when
// CACHET_TEST_PG is set to a libpq conninfo).
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "billing/keys.h"
#include "billing/ledger/ledger.h"
#include "billing/ledger/sql_db.h"

namespace cachet::billing {
namespace {

class LedgerTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("cachet_ledger_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    if (GetParam() == "postgres") {
      const char* pg = std::getenv("CACHET_TEST_PG");
      if (pg == nullptr) GTEST_SKIP() << "CACHET_TEST_PG not set (tests/pg/with_postgres.sh sets it)";
      // A fresh database per test.
      static int counter = 0;
      const std::string db = "cachet_t" + std::to_string(getpid()) + "_" + std::to_string(++counter);
      auto admin = OpenPostgresDb(std::string(pg) + " dbname=postgres");
      ASSERT_TRUE(admin.ok()) << admin.status().ToString();
      ASSERT_TRUE((*admin)->Query("CREATE DATABASE " + db, {}).ok());
      conninfo_ = std::string(pg) + " dbname=" + db;
    }
    ledger_ = Open("server");
  }
  void TearDown() override {
    ledger_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::unique_ptr<Ledger> Open(const std::string& owner) {
    auto r = conninfo_.empty() ? OpenSqliteLedger((dir_ / "ledger.db").string(), owner)
                               : OpenPostgresLedger(conninfo_, owner);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(*r) : nullptr;
  }
  PriceVersion Price(const std::string& model, const char* hit, const char* miss,
                     const char* out) {
    PriceVersion p;
    p.model = model;
    p.hit_per_m = *ParseAmount(hit);
    p.miss_per_m = *ParseAmount(miss);
    p.output_per_m = *ParseAmount(out);
    auto r = ledger_->AddPrice(p);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return *r;
  }
  UsageRecord Rec(const std::string& id, const Account& a, const PriceVersion& p, int64_t hit,
                  int64_t miss, int64_t out) {
    UsageRecord r;
    r.request_id = id;
    r.account_id = a.id;
    r.model = p.model;
    r.tokens = {hit, miss, out};
    r.price_id = p.id;
    r.start_us = 1'000'000;
    r.end_us = 2'000'000;
    r.status = "ok";
    return r;
  }

  std::filesystem::path dir_;
  std::string conninfo_;
  std::unique_ptr<Ledger> ledger_;
};

TEST_P(LedgerTest, AccountsAndCreditsAccumulate) {
  ASSERT_TRUE(ledger_->CreateAccount("acme", "USD", true).ok());
  EXPECT_EQ(ledger_->CreateAccount("acme", "USD", true).status().code(),
            StatusCode::kAlreadyExists);
  ASSERT_TRUE(ledger_->Credit("acme", "grant", *ParseAmount("5"), "welcome").ok());
  auto a = ledger_->Credit("acme", "topup", *ParseAmount("10.5"), "invoice 1");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->granted, *ParseAmount("5"));
  EXPECT_EQ(a->topped_up, *ParseAmount("10.5"));
  EXPECT_EQ(ledger_->Credit("acme", "gift", 1, "").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ledger_->Credit("acme", "grant", -1, "").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ledger_->Credit("nobody", "grant", 1, "").status().code(), StatusCode::kNotFound);
}

TEST_P(LedgerTest, KeysAreFoundByHashAndRevocable) {
  ASSERT_TRUE(ledger_->CreateAccount("acme", "USD", false).ok());
  const std::string key = *GenerateKey();
  auto k = ledger_->CreateKey("acme", HashKey(key), KeyDisplay(key), "ci", KeyLimits{60, 0, 2});
  ASSERT_TRUE(k.ok()) << k.status().ToString();
  auto found = ledger_->FindKey(HashKey(key));
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->account_name, "acme");
  EXPECT_EQ(found->limits.max_concurrent, 2);
  EXPECT_EQ(ledger_->FindKey(HashKey(key + "x")).status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(ledger_->RevokeKey(k->display).ok());
  EXPECT_EQ(ledger_->FindKey(HashKey(key)).status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(ledger_->RevokeKey(k->display).code(), StatusCode::kNotFound);
  // Nothing in the database holds the plaintext key.
  auto keys = ledger_->ListKeys("acme");
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ(keys->at(0).display.find(key.substr(8, 20)), std::string::npos);
}

TEST_P(LedgerTest, ReserveRefusesOverspendAndSettleChargesGrantedFirst) {
  ASSERT_TRUE(ledger_->CreateAccount("a", "USD", true).ok());
  ASSERT_TRUE(ledger_->Credit("a", "grant", *ParseAmount("1"), "").ok());
  auto acct = *ledger_->Credit("a", "topup", *ParseAmount("2"), "");
  const PriceVersion p = Price("m", "0.1", "1", "2");
  auto h1 = ledger_->Reserve("r1", acct.id, *ParseAmount("2.5"));
  ASSERT_TRUE(h1.ok());
  // 0.5 left available: a request that may cost 1 is refused with 402 semantics.
  EXPECT_EQ(ledger_->Reserve("r2", acct.id, *ParseAmount("1")).status().code(),
            StatusCode::kInsufficientFunds);
  // Real cost: 1M miss tokens (1.0) + 100k output (0.2) = 1.2: granted 1 goes first.
  auto rec = ledger_->Settle(*h1, Rec("r1", acct, p, 0, 1'000'000, 100'000));
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  EXPECT_EQ(rec->cost, *ParseAmount("1.2"));
  auto after = *ledger_->GetAccount("a");
  EXPECT_EQ(after.granted, 0);
  EXPECT_EQ(after.topped_up, *ParseAmount("1.8"));
  EXPECT_EQ(after.held, 0);
  // Settling the same request again charges nothing.
  EXPECT_EQ(ledger_->Settle(0, Rec("r1", acct, p, 0, 1'000'000, 0)).status().code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(ledger_->GetAccount("a")->topped_up, *ParseAmount("1.8"));
  auto stored = ledger_->FindRecord("r1");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->price_id, p.id);
  EXPECT_EQ((*stored)->tokens.output, 100'000);
}

TEST_P(LedgerTest, PostpaidAccountsGoNegativeButBudgetsStopThem) {
  auto acct = *ledger_->CreateAccount("p", "USD", false);
  const PriceVersion p = Price("m", "0", "1", "1");
  auto hold = ledger_->Reserve("x", acct.id, *ParseAmount("100"));  // no balance needed
  ASSERT_TRUE(hold.ok());
  ASSERT_TRUE(ledger_->Settle(*hold, Rec("x", acct, p, 0, 2'000'000, 0)).ok());
  EXPECT_EQ(ledger_->GetAccount("p")->topped_up, -*ParseAmount("2"));
  ASSERT_TRUE(ledger_->SetBudgets("p", *ParseAmount("3"), 0).ok());
  // Spent today (by start time of records) counts only records of today; use a fresh record.
  UsageRecord today = Rec("y", acct, p, 0, 2'000'000, 0);
  today.start_us = std::chrono::duration_cast<std::chrono::microseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  ASSERT_TRUE(ledger_->Settle(0, today).ok());
  EXPECT_EQ(ledger_->Reserve("z", acct.id, *ParseAmount("1.5")).status().code(),
            StatusCode::kInsufficientFunds);
  EXPECT_TRUE(ledger_->Reserve("z", acct.id, *ParseAmount("0.5")).ok());
}

TEST_P(LedgerTest, ConcurrentReservationsNeverOverspend) {
  auto acct = *ledger_->CreateAccount("c", "USD", true);
  ASSERT_TRUE(ledger_->Credit("c", "topup", *ParseAmount("10"), "").ok());
  std::atomic<int> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        auto h = ledger_->Reserve("t" + std::to_string(t) + "_" + std::to_string(i), acct.id,
                                  *ParseAmount("1"));
        if (h.ok()) granted.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(granted.load(), 10);
  EXPECT_EQ(ledger_->GetAccount("c")->available(), 0);
}

TEST_P(LedgerTest, RestartReleasesOrphanedHoldsOfThisOwnerOnly) {
  auto acct = *ledger_->CreateAccount("o", "USD", true);
  ASSERT_TRUE(ledger_->Credit("o", "topup", *ParseAmount("10"), "").ok());
  ASSERT_TRUE(ledger_->Reserve("a", acct.id, *ParseAmount("3")).ok());
  auto other = Open("replica-2");
  ASSERT_TRUE(other->Reserve("b", acct.id, *ParseAmount("2")).ok());
  ledger_.reset();  // "crash"
  ledger_ = Open("server");
  EXPECT_EQ(*ledger_->ReleaseOrphanedHolds(), 1);
  EXPECT_EQ(ledger_->GetAccount("o")->held, *ParseAmount("2"));
}

TEST_P(LedgerTest, UsageGroupsByModelAndDay) {
  auto acct = *ledger_->CreateAccount("u", "USD", false);
  const PriceVersion p1 = Price("m1", "0.1", "1", "2");
  const PriceVersion p2 = Price("m2", "0.1", "1", "2");
  ASSERT_TRUE(ledger_->Settle(0, Rec("1", acct, p1, 64, 10, 5)).ok());
  ASSERT_TRUE(ledger_->Settle(0, Rec("2", acct, p1, 128, 20, 5)).ok());
  ASSERT_TRUE(ledger_->Settle(0, Rec("3", acct, p2, 0, 30, 5)).ok());
  auto rows = ledger_->Usage(UsageQuery{.account_id = acct.id, .group_by = GroupBy::kModel});
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ(rows->at(0).group, "m1");
  EXPECT_EQ(rows->at(0).requests, 2);
  EXPECT_EQ(rows->at(0).tokens.hit, 192);
  EXPECT_EQ(rows->at(0).tokens.miss, 30);
  // 192 hit tokens at (1 - 0.1) per 1M tokens saved: 0.0001728.
  EXPECT_EQ(rows->at(0).saving, *ParseAmount("0.0001728"));
  auto days = ledger_->Usage(UsageQuery{.account_id = acct.id, .group_by = GroupBy::kDay});
  ASSERT_EQ(days->size(), 1u);
  EXPECT_EQ(days->at(0).group, "1970-01-01");
  EXPECT_EQ(days->at(0).requests, 3);
}

INSTANTIATE_TEST_SUITE_P(Backends, LedgerTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace cachet::billing
