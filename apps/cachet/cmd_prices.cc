// `cachet prices set|list`: versioned per-model prices (per million tokens) in the ledger.
// Changes apply to requests that start after them, without a restart.
#include "billing_cli.h"
#ifdef CACHET_HAS_BILLING
#include <ctime>

#include "command.h"
#include "flags.h"

namespace cachet::cli {
namespace {

constexpr const char* kUsage =
    "cachet prices set --model NAME --hit X --miss Y --output Z [--currency USD]\n"
    "                  [--from T --to T | --daily HH:MM-HH:MM] --data-dir DIR\n"
    "       cachet prices list [--model NAME] [--at T] --data-dir DIR\n"
    "  prices are per million tokens; T is YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or unix seconds (UTC)";

std::string Window(const billing::PriceVersion& p) {
  char buf[64];
  if (p.dated()) {
    auto fmt = [](int64_t s) {
      char b[32];
      const time_t t = static_cast<time_t>(s);
      std::tm tm{};
      gmtime_r(&t, &tm);
      std::strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%SZ", &tm);
      return std::string(b);
    };
    return fmt(p.from_s) + " .. " + (p.to_s ? fmt(p.to_s) : std::string("open"));
  }
  if (p.daily()) {
    std::snprintf(buf, sizeof(buf), "daily %02d:%02d-%02d:%02d UTC", p.daily_start_min / 60,
                  p.daily_start_min % 60, p.daily_end_min / 60, p.daily_end_min % 60);
    return buf;
  }
  return "list price";
}

void PrintPrice(const billing::PriceVersion& p) {
  std::printf("v%-5lld %-24s hit %-10s miss %-10s output %-10s %s  %s\n",
              static_cast<long long>(p.id), p.model.c_str(),
              billing::FormatAmount(p.hit_per_m).c_str(),
              billing::FormatAmount(p.miss_per_m).c_str(),
              billing::FormatAmount(p.output_per_m).c_str(), p.currency.c_str(), Window(p).c_str());
}

int RunPrices(int argc, char** argv) {
  const std::string sub = argc > 1 ? argv[1] : "";
  if (sub != "set" && sub != "list") {
    const bool help = sub == "--help" || sub == "-h";
    std::fprintf(help ? stdout : stderr, "usage: %s\n", kUsage);
    return help ? 0 : 2;
  }
  std::string data_dir, ledger_url, model, hit, miss, output, currency = "USD", from, to, daily, at;
  Flags f("prices " + sub, kUsage);
  f.String("data-dir", &data_dir, "the server's data directory");
  f.String("ledger", &ledger_url, "sqlite (default) or postgres://...");
  f.String("model", &model, "model name as served");
  f.String("hit", &hit, "input cache-hit price per 1M tokens");
  f.String("miss", &miss, "input cache-miss price per 1M tokens");
  f.String("output", &output, "output price per 1M tokens");
  f.String("currency", &currency, "currency code");
  f.String("from", &from, "promotion start");
  f.String("to", &to, "promotion end (exclusive)");
  f.String("daily", &daily, "daily window HH:MM-HH:MM (UTC), e.g. off-peak");
  f.String("at", &at, "list: show the price in force at this time");
  if (auto rc = f.Parse(argc - 1, argv + 1)) return *rc;
  auto ledger = OpenLedgerOrPrint("prices", data_dir, ledger_url);
  if (!ledger) return 1;
  if (sub == "list") {
    if (!at.empty()) {
      auto t = billing::ParseTime(at);
      if (!t.ok()) return PrintError("prices", t.status());
      auto p = ledger->PriceAt(model, *t);
      if (!p.ok()) return PrintError("prices", p.status());
      PrintPrice(*p);
      return 0;
    }
    auto all = ledger->ListPrices(model);
    if (!all.ok()) return PrintError("prices", all.status());
    for (const auto& p : *all) PrintPrice(p);
    return 0;
  }
  if (model.empty() || hit.empty() || miss.empty() || output.empty()) {
    return f.UsageError("--model, --hit, --miss and --output are required");
  }
  if (!daily.empty() && (!from.empty() || !to.empty())) {
    return f.UsageError("--daily and --from/--to cannot be combined");
  }
  if (from.empty() != to.empty()) return f.UsageError("--from and --to go together");
  auto p = billing::ParsePriceFields({model, hit, miss, output, currency, from, to, daily});
  if (!p.ok()) return PrintError("prices", p.status());
  auto added = ledger->AddPrice(*p);
  if (!added.ok()) return PrintError("prices", added.status());
  PrintPrice(*added);
  return 0;
}

}  // namespace
CACHET_REGISTER_COMMAND(prices, "prices", "set and list per-model prices", RunPrices);
}  // namespace cachet::cli
#endif
