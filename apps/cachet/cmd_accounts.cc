// `cachet accounts list|show|create|topup|grant|budget`: accounts and balances in the ledger.
#include "billing_cli.h"
#ifdef CACHET_HAS_BILLING
#include "command.h"
#include "flags.h"

namespace cachet::cli {
namespace {

constexpr const char* kUsage =
    "cachet accounts list --data-dir DIR\n"
    "       cachet accounts show NAME --data-dir DIR\n"
    "       cachet accounts create NAME [--currency USD] [--postpaid] --data-dir DIR\n"
    "       cachet accounts topup NAME AMOUNT [--note TEXT] --data-dir DIR\n"
    "       cachet accounts grant NAME AMOUNT [--note TEXT] --data-dir DIR\n"
    "       cachet accounts budget NAME [--day AMOUNT] [--month AMOUNT] --data-dir DIR";

void PrintAccount(const billing::Account& a) {
  std::printf("%-20s %-4s %-8s balance %s (granted %s, topped up %s), held %s, budgets day %s "
              "month %s\n",
              a.name.c_str(), a.currency.c_str(), a.prepaid ? "prepaid" : "postpaid",
              billing::FormatAmount(a.balance()).c_str(), billing::FormatAmount(a.granted).c_str(),
              billing::FormatAmount(a.topped_up).c_str(), billing::FormatAmount(a.held).c_str(),
              a.budget_day ? billing::FormatAmount(a.budget_day).c_str() : "-",
              a.budget_month ? billing::FormatAmount(a.budget_month).c_str() : "-");
}

int RunAccounts(int argc, char** argv) {
  const std::string sub = argc > 1 ? argv[1] : "";
  if (sub.empty() || sub == "--help" || sub == "-h") {
    std::fprintf(sub.empty() ? stderr : stdout, "usage: %s\n", kUsage);
    return sub.empty() ? 2 : 0;
  }
  std::string data_dir, ledger_url, currency = "USD", note, day, month;
  bool postpaid = false;
  Flags f("accounts " + sub, kUsage);
  f.String("data-dir", &data_dir, "the server's data directory");
  f.String("ledger", &ledger_url, "sqlite (default) or postgres://...");
  f.String("currency", &currency, "currency (create)");
  f.Bool("postpaid", &postpaid, "postpaid account (create)");
  f.String("note", &note, "note recorded with a credit");
  f.String("day", &day, "daily spending cap (budget); 0 = none");
  f.String("month", &month, "monthly spending cap (budget); 0 = none");
  if (auto rc = f.Parse(argc - 1, argv + 1)) return *rc;
  const auto& pos = f.positional();
  const size_t want = sub == "list" ? 0 : (sub == "topup" || sub == "grant") ? 2 : 1;
  if (sub != "list" && sub != "show" && sub != "create" && sub != "topup" && sub != "grant" &&
      sub != "budget") {
    return f.UsageError("unknown subcommand '" + sub + "'");
  }
  if (pos.size() != want) return f.UsageError("wrong number of arguments");
  auto ledger = OpenLedgerOrPrint("accounts", data_dir, ledger_url);
  if (!ledger) return 1;
  if (sub == "list") {
    auto all = ledger->ListAccounts();
    if (!all.ok()) return PrintError("accounts", all.status());
    for (const auto& a : *all) PrintAccount(a);
    return 0;
  }
  Result<billing::Account> r = InvalidArgument("unreachable");
  if (sub == "show") {
    r = ledger->GetAccount(pos[0]);
  } else if (sub == "create") {
    r = ledger->CreateAccount(pos[0], currency, !postpaid);
  } else if (sub == "topup" || sub == "grant") {
    auto amount = billing::ParseAmount(pos[1]);
    if (!amount.ok()) return PrintError("accounts", amount.status());
    r = ledger->Credit(pos[0], sub, *amount, note);
  } else {
    billing::Nanos d = 0, m = 0;
    if (!day.empty()) {
      auto v = billing::ParseAmount(day);
      if (!v.ok()) return PrintError("accounts", v.status());
      d = *v;
    }
    if (!month.empty()) {
      auto v = billing::ParseAmount(month);
      if (!v.ok()) return PrintError("accounts", v.status());
      m = *v;
    }
    Status s = ledger->SetBudgets(pos[0], d, m);
    if (!s.ok()) return PrintError("accounts", s);
    r = ledger->GetAccount(pos[0]);
  }
  if (!r.ok()) return PrintError("accounts", r.status());
  PrintAccount(*r);
  return 0;
}

}  // namespace
CACHET_REGISTER_COMMAND(accounts, "accounts", "list accounts, top up, grant credit, set budgets",
                        RunAccounts);
}  // namespace cachet::cli
#endif
