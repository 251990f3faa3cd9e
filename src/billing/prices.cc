#include "billing/prices.h"

#include <charconv>
#include <ctime>
#include <tuple>

namespace cachet::billing {

bool PriceVersion::Contains(int64_t t) const {
  if (dated() && !(t >= from_s && (to_s == 0 || t < to_s))) return false;
  if (daily()) {
    const int64_t day_s = ((t % 86400) + 86400) % 86400;
    const int32_t m = static_cast<int32_t>(day_s / 60);
    if (daily_start_min <= daily_end_min) return m >= daily_start_min && m < daily_end_min;
    return m >= daily_start_min || m < daily_end_min;  // wraps past midnight
  }
  return true;
}

namespace {
int Rank(const PriceVersion& v) { return v.dated() ? 2 : v.daily() ? 1 : 0; }
}  // namespace

std::optional<PriceVersion> ResolvePrice(std::span<const PriceVersion> versions,
                                         const std::string& model, int64_t t) {
  const PriceVersion* best = nullptr;
  for (const PriceVersion& v : versions) {
    if (v.model != model || !v.Contains(t)) continue;
    if (best == nullptr || Rank(v) > Rank(*best) ||
        (Rank(v) == Rank(*best) &&
         (v.created_us > best->created_us || (v.created_us == best->created_us && v.id > best->id)))) {
      best = &v;
    }
  }
  if (best == nullptr) return std::nullopt;
  return *best;
}

Nanos Cost(const TokenCounts& t, const PriceVersion& p) {
  const __int128 total = static_cast<__int128>(t.hit) * p.hit_per_m +
                         static_cast<__int128>(t.miss) * p.miss_per_m +
                         static_cast<__int128>(t.output) * p.output_per_m;
  return static_cast<Nanos>((total + 500'000) / 1'000'000);
}

Result<PriceVersion> ParsePriceFields(const PriceFields& f) {
  PriceVersion p;
  p.model = f.model;
  if (!f.currency.empty()) p.currency = f.currency;
  for (auto [name, text, out] : {std::tuple{"hit", &f.hit, &p.hit_per_m},
                                 std::tuple{"miss", &f.miss, &p.miss_per_m},
                                 std::tuple{"output", &f.output, &p.output_per_m}}) {
    if (text->empty()) return InvalidArgument(std::string(name) + " is required (decimal string)");
    auto v = ParseAmount(*text);
    if (!v.ok()) return v.status().WithContext(name);
    *out = *v;
  }
  if (!f.from.empty() || !f.to.empty()) {
    if (f.from.empty() || f.to.empty()) return InvalidArgument("from and to go together");
    auto a = ParseTime(f.from);
    if (!a.ok()) return a.status().WithContext("from");
    auto b = ParseTime(f.to);
    if (!b.ok()) return b.status().WithContext("to");
    p.from_s = *a;
    p.to_s = *b;
  }
  if (!f.daily.empty()) {
    auto w = ParseDailyWindow(f.daily);
    if (!w.ok()) return w.status().WithContext("daily");
    p.daily_start_min = w->first;
    p.daily_end_min = w->second;
  }
  return p;
}

namespace {
bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  auto r = std::from_chars(s.data() + pos, s.data() + pos + n, *out);
  return r.ec == std::errc() && r.ptr == s.data() + pos + n;
}
}  // namespace

Result<std::pair<int32_t, int32_t>> ParseDailyWindow(std::string_view s) {
  int h1, m1, h2, m2;
  if (s.size() != 11 || s[2] != ':' || s[5] != '-' || s[8] != ':' || !Digits(s, 0, 2, &h1) ||
      !Digits(s, 3, 2, &m1) || !Digits(s, 6, 2, &h2) || !Digits(s, 9, 2, &m2) || h1 > 24 ||
      h2 > 24 || m1 > 59 || m2 > 59 || (h1 == 24 && m1 != 0) || (h2 == 24 && m2 != 0)) {
    return InvalidArgument("daily window '" + std::string(s) + "': expected HH:MM-HH:MM (UTC)");
  }
  const int32_t a = h1 * 60 + m1, b = h2 * 60 + m2;
  if (a == b) return InvalidArgument("daily window '" + std::string(s) + "': empty");
  return std::make_pair(a, b);
}

Result<int64_t> ParseTime(std::string_view s) {
  int64_t unix_s = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), unix_s);
  if (r.ec == std::errc() && r.ptr == s.data() + s.size()) return unix_s;
  int y, mo, d, h = 0, mi = 0, se = 0;
  const bool date_ok = s.size() >= 10 && s[4] == '-' && s[7] == '-' && Digits(s, 0, 4, &y) &&
                       Digits(s, 5, 2, &mo) && Digits(s, 8, 2, &d);
  bool ok = date_ok && (s.size() == 10 ||
                        (s.size() == 20 && (s[10] == 'T' || s[10] == ' ') && s[13] == ':' &&
                         s[16] == ':' && s[19] == 'Z' && Digits(s, 11, 2, &h) &&
                         Digits(s, 14, 2, &mi) && Digits(s, 17, 2, &se)));
  if (!ok || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) {
    return InvalidArgument("time '" + std::string(s) +
                           "': expected YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or unix seconds");
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = se;
  return static_cast<int64_t>(timegm(&tm));
}

}  // namespace cachet::billing
