// `cachet usage`: tokens by kind, cost, cache hit rate and the saving from cache hits, from the
// ledger; --compare prices the same tokens at other providers' list prices (built-in catalog).
#include "billing_cli.h"
#ifdef CACHET_HAS_BILLING
#include <nlohmann/json.hpp>

#include "billing/catalog.h"
#include "command.h"
#include "flags.h"

namespace cachet::cli {
namespace {

constexpr const char* kUsage =
    "cachet usage --data-dir DIR [--account NAME] [--from T] [--to T]\n"
    "             [--by request|model|key|day] [--format table|json|csv] [--compare]";

std::string Pct(int64_t part, int64_t whole) {
  char b[32];
  std::snprintf(b, sizeof(b), "%.1f%%", whole > 0 ? 100.0 * part / whole : 0.0);
  return b;
}

// CSV field: quoted when it holds a comma, quote or newline.
std::string Csv(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

void PrintCompare(const billing::TokenCounts& total, billing::Nanos ours,
                  const std::string& currency) {
  std::printf("\nThe same tokens (hit %lld, miss %lld, output %lld) at list prices:\n",
              static_cast<long long>(total.hit), static_cast<long long>(total.miss),
              static_cast<long long>(total.output));
  std::printf("  %-10s %-30s %14s %-4s %s\n", "provider", "model", "cost", "cur", "published");
  std::printf("  %-10s %-30s %14s %-4s\n", "cachet", "(this ledger)",
              billing::FormatAmountFixed(ours, 6).c_str(), currency.c_str());
  for (const auto& e : billing::BuiltinCatalog()) {
    std::printf("  %-10s %-30s %14s %-4s %s%s%s\n", e.provider.c_str(), e.model.c_str(),
                billing::FormatAmountFixed(e.CostOf(total), 6).c_str(), e.currency.c_str(),
                e.published.c_str(), e.note.empty() ? "" : "  ", e.note.c_str());
  }
}

int RunUsage(int argc, char** argv) {
  std::string data_dir, ledger_url, account, from, to, by = "model", format = "table";
  bool compare = false;
  Flags f("usage", kUsage);
  f.String("data-dir", &data_dir, "the server's data directory");
  f.String("ledger", &ledger_url, "sqlite (default) or postgres://...");
  f.String("account", &account, "only this account (default: all)");
  f.String("from", &from, "start time (inclusive; UTC)");
  f.String("to", &to, "end time (exclusive; UTC)");
  f.String("by", &by, "request | model | key | day");
  f.String("format", &format, "table | json | csv");
  f.Bool("compare", &compare, "price the same tokens at other providers' list prices");
  if (auto rc = f.Parse(argc, argv)) return *rc;
  billing::UsageQuery q;
  if (by == "request") q.group_by = billing::GroupBy::kRequest;
  else if (by == "model") q.group_by = billing::GroupBy::kModel;
  else if (by == "key") q.group_by = billing::GroupBy::kKey;
  else if (by == "day") q.group_by = billing::GroupBy::kDay;
  else return f.UsageError("--by: request, model, key or day");
  if (format != "table" && format != "json" && format != "csv") {
    return f.UsageError("--format: table, json or csv");
  }
  for (auto [text, out] : {std::pair{&from, &q.from_us}, std::pair{&to, &q.to_us}}) {
    if (text->empty()) continue;
    auto t = billing::ParseTime(*text);
    if (!t.ok()) return PrintError("usage", t.status());
    *out = *t * 1000000;
  }
  auto ledger = OpenLedgerOrPrint("usage", data_dir, ledger_url);
  if (!ledger) return 1;
  if (!account.empty()) {
    auto a = ledger->GetAccount(account);
    if (!a.ok()) return PrintError("usage", a.status());
    q.account_id = a->id;
  }
  auto rows = ledger->Usage(q);
  if (!rows.ok()) return PrintError("usage", rows.status());
  billing::TokenCounts total;
  billing::Nanos cost = 0, saving = 0;
  std::string currency;
  for (const auto& r : *rows) {
    total.hit += r.tokens.hit;
    total.miss += r.tokens.miss;
    total.output += r.tokens.output;
    cost += r.cost;
    saving += r.saving;
    if (!r.currency.empty()) currency = r.currency;
  }
  if (format == "json") {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : *rows) {
      out.push_back({{by, r.group}, {"account", r.account}, {"requests", r.requests},
                     {"cache_hit_tokens", r.tokens.hit}, {"cache_miss_tokens", r.tokens.miss},
                     {"output_tokens", r.tokens.output}, {"cost", billing::FormatAmount(r.cost)},
                     {"saving", billing::FormatAmount(r.saving)}, {"currency", r.currency}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  if (format == "csv") {
    std::printf("%s,account,requests,cache_hit_tokens,cache_miss_tokens,output_tokens,cost,"
                "saving,currency\n", by.c_str());
    for (const auto& r : *rows) {
      std::printf("%s,%s,%lld,%lld,%lld,%lld,%s,%s,%s\n", Csv(r.group).c_str(),
                  Csv(r.account).c_str(), static_cast<long long>(r.requests),
                  static_cast<long long>(r.tokens.hit), static_cast<long long>(r.tokens.miss),
                  static_cast<long long>(r.tokens.output), billing::FormatAmount(r.cost).c_str(),
                  billing::FormatAmount(r.saving).c_str(), Csv(r.currency).c_str());
    }
    return 0;
  }
  std::printf("%-28s %-14s %8s %12s %12s %12s %8s %14s %12s\n", by.c_str(), "account", "requests",
              "hit", "miss", "output", "hit rate", "cost", "saving");
  for (const auto& r : *rows) {
    std::printf("%-28s %-14s %8lld %12lld %12lld %12lld %8s %14s %12s\n", r.group.c_str(),
                r.account.c_str(), static_cast<long long>(r.requests),
                static_cast<long long>(r.tokens.hit), static_cast<long long>(r.tokens.miss),
                static_cast<long long>(r.tokens.output),
                Pct(r.tokens.hit, r.tokens.hit + r.tokens.miss).c_str(),
                billing::FormatAmountFixed(r.cost, 6).c_str(),
                billing::FormatAmountFixed(r.saving, 6).c_str());
  }
  std::printf("%-28s %-14s %8s %12lld %12lld %12lld %8s %14s %12s %s\n", "total", "", "",
              static_cast<long long>(total.hit), static_cast<long long>(total.miss),
              static_cast<long long>(total.output),
              Pct(total.hit, total.hit + total.miss).c_str(),
              billing::FormatAmountFixed(cost, 6).c_str(),
              billing::FormatAmountFixed(saving, 6).c_str(), currency.c_str());
  if (compare) PrintCompare(total, cost, currency.empty() ? "USD" : currency);
  return 0;
}

}  // namespace
CACHET_REGISTER_COMMAND(usage, "usage", "usage and cost report from the ledger (--compare)",
                        RunUsage);
}  // namespace cachet::cli
#endif
