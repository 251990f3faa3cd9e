#include "billing/money.h"

#include <cstdlib>

namespace cachet::billing {

Result<Nanos> ParseAmount(std::string_view s) {
  const std::string what = "amount '" + std::string(s) + "'";
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return InvalidArgument(what + ": empty");
  __int128 whole = 0, frac = 0;
  int frac_digits = 0;
  bool dot = false, any = false;
  for (char c : s) {
    if (c == '.') {
      if (dot) return InvalidArgument(what + ": two decimal points");
      dot = true;
    } else if (c >= '0' && c <= '9') {
      any = true;
      if (dot) {
        if (++frac_digits > 9) return InvalidArgument(what + ": more than 9 decimals");
        frac = frac * 10 + (c - '0');
      } else {
        whole = whole * 10 + (c - '0');
        if (whole > INT64_MAX / kNanosPerUnit) return OutOfRange(what + ": too large");
      }
    } else {
      return InvalidArgument(what + ": not a decimal number");
    }
  }
  if (!any) return InvalidArgument(what + ": no digits");
  for (int i = frac_digits; i < 9; ++i) frac *= 10;
  const __int128 v = whole * kNanosPerUnit + frac;
  if (v > INT64_MAX) return OutOfRange(what + ": too large");
  return static_cast<Nanos>(neg ? -v : v);
}

std::string FormatAmount(Nanos n) {
  std::string out = n < 0 ? "-" : "";
  const unsigned __int128 a = n < 0 ? -static_cast<__int128>(n) : n;
  out += std::to_string(static_cast<uint64_t>(a / kNanosPerUnit));
  uint64_t frac = static_cast<uint64_t>(a % kNanosPerUnit);
  if (frac != 0) {
    std::string f = std::to_string(frac);
    f.insert(0, 9 - f.size(), '0');
    while (f.back() == '0') f.pop_back();
    out += "." + f;
  }
  return out;
}

std::string FormatAmountFixed(Nanos n, int decimals) {
  if (decimals < 0) decimals = 0;
  if (decimals > 9) decimals = 9;
  __int128 a = n < 0 ? -static_cast<__int128>(n) : n;
  __int128 unit = 1;
  for (int i = decimals; i < 9; ++i) unit *= 10;
  a = (a + unit / 2) / unit;  // half away from zero
  __int128 scale = 1;
  for (int i = 0; i < decimals; ++i) scale *= 10;
  std::string out = n < 0 && a != 0 ? "-" : "";
  out += std::to_string(static_cast<uint64_t>(a / scale));
  if (decimals > 0) {
    std::string f = std::to_string(static_cast<uint64_t>(a % scale));
    f.insert(0, decimals - f.size(), '0');
    out += "." + f;
  }
  return out;
}

}  // namespace cachet::billing
