// Money: integer nano-units of a currency (1 USD = 1'000'000'000). Never floating point.
//
// Prices are quoted per million tokens, so a price of 0.0028 USD / 1M tokens is 2'800'000 nanos
// per million tokens, i.e. 2.8 nanos per token: nano-units keep per-request costs exact to well
// below a cent even for the cheapest cache-hit prices. int64 holds ±9.2e9 currency units.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace cachet::billing {

using Nanos = int64_t;
constexpr Nanos kNanosPerUnit = 1'000'000'000;

// Parses a decimal amount ("12", "0.0028", "-3.5", "1e-3" is rejected) into nanos. At most 9
// fractional digits. Errors: InvalidArgument (syntax), OutOfRange (magnitude).
Result<Nanos> ParseAmount(std::string_view text);
// Decimal text with the fraction trimmed of trailing zeros ("12.5", "0.0028", "3").
std::string FormatAmount(Nanos n);
// Fixed decimals, rounded half away from zero ("12.50" for decimals = 2).
std::string FormatAmountFixed(Nanos n, int decimals);

}  // namespace cachet::billing
