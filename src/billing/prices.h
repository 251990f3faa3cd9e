// Prices: three prices per model (input cache hit, input cache miss, output), per million tokens,
// versioned, with time windows.
//
// Resolution at time t (PriceAt): among the model's versions whose window contains t, a dated
// window (promotion: from <= t < to) beats a daily window (off-peak: minute-of-day in [start, end),
// UTC, wrapping past midnight when end < start), which beats an unwindowed list price; within a
// kind the most recently created version wins (a later `prices set` replaces an earlier one).
// The price version in force when a request starts applies to the whole request.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "base/status.h"
#include "billing/money.h"

namespace cachet::billing {

struct PriceVersion {
  int64_t id = 0;                // assigned by the ledger; recorded with every request
  std::string model;
  Nanos hit_per_m = 0;           // per million tokens
  Nanos miss_per_m = 0;
  Nanos output_per_m = 0;
  std::string currency = "USD";
  // Dated window (unix seconds, [from, to)); both 0 = none.
  int64_t from_s = 0, to_s = 0;
  // Daily window in minutes after 00:00 UTC, [start, end); -1 = none.
  int32_t daily_start_min = -1, daily_end_min = -1;
  int64_t created_us = 0;        // order of creation (ties: higher id wins)

  bool dated() const { return from_s != 0 || to_s != 0; }
  bool daily() const { return daily_start_min >= 0; }
  bool Contains(int64_t t_s) const;
};

// The version in force for `model` at t (unix seconds), or nullopt.
std::optional<PriceVersion> ResolvePrice(std::span<const PriceVersion> versions,
                                         const std::string& model, int64_t t_s);

struct TokenCounts {
  int64_t hit = 0;     // prompt tokens served from the prefix cache
  int64_t miss = 0;    // prompt tokens computed
  int64_t output = 0;  // generated tokens
};

// Cost in nanos: sum(tokens * price_per_m) / 1e6, rounded half up once per request.
Nanos Cost(const TokenCounts& t, const PriceVersion& p);

// A price version as operators write it (command line, admin API, config file): decimal strings
// per million tokens and an optional window. Empty currency = USD; from/to go together.
struct PriceFields {
  std::string model, hit, miss, output, currency, from, to, daily;
};
// InvalidArgument naming the field ("hit: ...") for a missing or malformed value.
Result<PriceVersion> ParsePriceFields(const PriceFields& f);

// "HH:MM-HH:MM" → (start_min, end_min). InvalidArgument on bad syntax or equal ends.
Result<std::pair<int32_t, int32_t>> ParseDailyWindow(std::string_view text);
// "2026-05-31" or "2026-05-31T12:00:00Z" or unix seconds → unix seconds (UTC).
Result<int64_t> ParseTime(std::string_view text);

}  // namespace cachet::billing
