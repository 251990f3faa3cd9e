#include <gtest/gtest.h>

#include "billing/catalog.h"
#include "billing/keys.h"
#include "billing/money.h"
#include "billing/prices.h"

namespace cachet::billing {
namespace {

TEST(Money, ParsesAndFormatsExactly) {
  EXPECT_EQ(*ParseAmount("0.0028"), 2'800'000);
  EXPECT_EQ(*ParseAmount("12"), 12 * kNanosPerUnit);
  EXPECT_EQ(*ParseAmount("-3.5"), -3'500'000'000);
  EXPECT_EQ(*ParseAmount("0.000000001"), 1);
  EXPECT_FALSE(ParseAmount("0.0000000001").ok());  // 10 decimals
  EXPECT_FALSE(ParseAmount("1e3").ok());
  EXPECT_FALSE(ParseAmount("").ok());
  EXPECT_FALSE(ParseAmount(".").ok());
  EXPECT_EQ(ParseAmount("99999999999").status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(FormatAmount(2'800'000), "0.0028");
  EXPECT_EQ(FormatAmount(-3'500'000'000), "-3.5");
  EXPECT_EQ(FormatAmount(0), "0");
  EXPECT_EQ(FormatAmountFixed(12'345'000'000, 2), "12.35");
  EXPECT_EQ(FormatAmountFixed(-4'000'000, 2), "0.00");  // rounds to zero, no "-0.00"
  EXPECT_EQ(FormatAmountFixed(-5'000'000, 2), "-0.01");
}

PriceVersion P(int64_t id, Nanos hit, Nanos miss, Nanos out) {
  PriceVersion p;
  p.id = id;
  p.model = "m";
  p.hit_per_m = hit;
  p.miss_per_m = miss;
  p.output_per_m = out;
  p.created_us = id;
  return p;
}

TEST(Prices, PromotionBeatsDailyBeatsListAndLatestWins) {
  const int64_t day0 = *ParseTime("2026-05-01");
  std::vector<PriceVersion> v = {P(1, 100, 1000, 2000), P(2, 50, 500, 1000)};
  PriceVersion offpeak = P(3, 10, 100, 200);
  offpeak.daily_start_min = 16 * 60 + 30;  // 16:30-00:30 UTC, wrapping
  offpeak.daily_end_min = 30;
  v.push_back(offpeak);
  PriceVersion promo = P(4, 1, 2, 3);
  promo.from_s = day0;
  promo.to_s = *ParseTime("2026-06-01");
  v.push_back(promo);
  EXPECT_EQ(ResolvePrice(v, "m", day0 - 3600 * 12)->id, 2);        // 12:00, list price, latest
  EXPECT_EQ(ResolvePrice(v, "m", day0 - 3600 * 4)->id, 3);         // 20:00 off-peak
  EXPECT_EQ(ResolvePrice(v, "m", day0 - 3600 * 24 + 60 * 20)->id, 3);  // 00:20 still off-peak
  EXPECT_EQ(ResolvePrice(v, "m", day0 - 3600 * 24 + 60 * 40)->id, 2);  // 00:40 not
  EXPECT_EQ(ResolvePrice(v, "m", day0 + 3600 * 20)->id, 4);        // promotion wins
  EXPECT_EQ(ResolvePrice(v, "m", *ParseTime("2026-06-01") + 3600)->id, 2);
  EXPECT_FALSE(ResolvePrice(v, "other", day0).has_value());
}

TEST(Prices, CostIsExactAndRoundsOncePerRequest) {
  PriceVersion p = P(1, *ParseAmount("0.0028"), *ParseAmount("0.14"), *ParseAmount("0.28"));
  // 1M tokens of each kind cost exactly the three prices.
  EXPECT_EQ(Cost({1'000'000, 1'000'000, 1'000'000}, p), *ParseAmount("0.4228"));
  // 1 cache-hit token = 2.8 nanos -> 3 (half up); 3 tokens = 8.4 -> 8.
  EXPECT_EQ(Cost({1, 0, 0}, p), 3);
  EXPECT_EQ(Cost({3, 0, 0}, p), 8);
  EXPECT_EQ(Cost({0, 0, 0}, p), 0);
}

TEST(Prices, ParsePriceFieldsNamesTheBadField) {
  auto p = ParsePriceFields({"m", "0.0028", "0.14", "0.28", "", "2026-05-01", "2026-06-01", ""});
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->hit_per_m, 2'800'000);
  EXPECT_EQ(p->currency, "USD");
  EXPECT_EQ(p->from_s, *ParseTime("2026-05-01"));
  EXPECT_TRUE(p->dated());
  auto d = ParsePriceFields({"m", "1", "2", "3", "CNY", "", "", "16:30-00:30"});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->daily_start_min, 990);
  EXPECT_EQ(d->currency, "CNY");
  auto bad = ParsePriceFields({"m", "1", "x", "3", "", "", "", ""});
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("miss"), std::string::npos);
  EXPECT_FALSE(ParsePriceFields({"m", "", "2", "3", "", "", "", ""}).ok());
  EXPECT_FALSE(ParsePriceFields({"m", "1", "2", "3", "", "2026-05-01", "", ""}).ok());
  EXPECT_FALSE(ParsePriceFields({"m", "1", "2", "3", "", "", "", "25:00-01:00"}).ok());
}

TEST(Prices, ParsesWindowsAndTimes) {
  EXPECT_EQ(*ParseDailyWindow("16:30-00:30"), std::make_pair(990, 30));
  EXPECT_FALSE(ParseDailyWindow("25:00-01:00").ok());
  EXPECT_FALSE(ParseDailyWindow("10:00-10:00").ok());
  EXPECT_EQ(*ParseTime("1970-01-02"), 86400);
  EXPECT_EQ(*ParseTime("1970-01-01T00:01:00Z"), 60);
  EXPECT_EQ(*ParseTime("1234"), 1234);
  EXPECT_FALSE(ParseTime("2026-13-01").ok());
}

TEST(Keys, GeneratedKeysAreDistinctWellFormedAndHashedWithSha256) {
  auto a = GenerateKey(), b = GenerateKey();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_EQ(a->size(), 51u);
  EXPECT_TRUE(LooksLikeKey(*a));
  EXPECT_FALSE(LooksLikeKey("sk-abc def"));
  EXPECT_FALSE(LooksLikeKey("pk-abcdefgh"));
  // FIPS 180-2 test vector.
  EXPECT_EQ(HashKey("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_TRUE(ConstantTimeEquals("abcd", "abcd"));
  EXPECT_FALSE(ConstantTimeEquals("abcd", "abce"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_EQ(KeyDisplay("sk-0123456789abcdefWXYZ"), "sk-0123…WXYZ");
}

}  // namespace
}  // namespace cachet::billing

namespace cachet::billing {
namespace {

TEST(Catalog, BuiltinParsesAndPricesHitsAsMissesWhenNoHitPrice) {
  const auto& c = BuiltinCatalog();
  ASSERT_GE(c.size(), 10u);
  const CatalogEntry* flash = nullptr;
  for (const auto& e : c) {
    if (e.model == "deepseek-v4-flash") flash = &e;
  }
  ASSERT_NE(flash, nullptr);
  EXPECT_EQ(flash->CostOf({1'000'000, 0, 0}), *ParseAmount("0.0028"));
  auto parsed = ParseCatalog("# c\nX,y,,2,3,USD,2026,\n");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->at(0).CostOf({1'000'000, 0, 0}), *ParseAmount("2"));
  EXPECT_EQ(ParseCatalog("X,y,1,2\n").status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(ParseCatalog("X,y,a,2,3,USD,2026,\n").ok());
}

}  // namespace
}  // namespace cachet::billing
