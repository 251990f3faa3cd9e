// `cachet keys create|list|revoke`: API keys of accounts, in the server's ledger (works while the
// server runs: SQLite WAL / PostgreSQL). The plaintext key is printed once, on the last line.
#include "billing_cli.h"
#ifdef CACHET_HAS_BILLING
#include "billing/keys.h"
#include "command.h"
#include "flags.h"

namespace cachet::cli {
namespace {

constexpr const char* kUsage =
    "cachet keys create --account NAME [--balance AMOUNT] [--postpaid] [--name LABEL]\n"
    "                   [--rpm N] [--tpm N] [--concurrency N] --data-dir DIR\n"
    "       cachet keys list [--account NAME] --data-dir DIR\n"
    "       cachet keys revoke KEY_ID|DISPLAY --data-dir DIR";

int Create(int argc, char** argv) {
  std::string data_dir, ledger_url, account, balance, name, currency = "USD";
  bool postpaid = false;
  int64_t rpm = 0, tpm = 0, conc = 0;
  Flags f("keys create", kUsage);
  f.String("data-dir", &data_dir, "the server's data directory");
  f.String("ledger", &ledger_url, "sqlite (default) or postgres://...");
  f.String("account", &account, "account name (created if new)");
  f.String("balance", &balance, "initial balance granted to a new account (prepaid)");
  f.String("currency", &currency, "currency of a new account");
  f.Bool("postpaid", &postpaid, "a new account is postpaid (never refused for balance)");
  f.String("name", &name, "label of the key");
  f.Int("rpm", &rpm, "requests per minute (0 = unlimited)");
  f.Int("tpm", &tpm, "tokens per minute (0 = unlimited)");
  f.Int("concurrency", &conc, "concurrent requests (0 = unlimited)");
  f.Required("account");
  if (auto rc = f.Parse(argc, argv)) return *rc;
  if (rpm < 0 || tpm < 0 || conc < 0) return f.UsageError("limits must be >= 0");
  billing::Nanos amount = 0;
  if (!balance.empty()) {
    auto a = billing::ParseAmount(balance);
    if (!a.ok() || *a < 0) return f.UsageError("--balance: not a non-negative decimal amount");
    amount = *a;
  }
  auto ledger = OpenLedgerOrPrint("keys create", data_dir, ledger_url);
  if (!ledger) return 1;
  auto acct = ledger->GetAccount(account);
  if (!acct.ok() && acct.status().code() == StatusCode::kNotFound) {
    acct = ledger->CreateAccount(account, currency, !postpaid);
    if (acct.ok()) std::fprintf(stderr, "created account %s\n", account.c_str());
  }
  if (!acct.ok()) return PrintError("keys create", acct.status());
  if (amount > 0) {
    auto c = ledger->Credit(account, "grant", amount, "keys create --balance");
    if (!c.ok()) return PrintError("keys create", c.status());
  }
  auto key = billing::GenerateKey();
  if (!key.ok()) return PrintError("keys create", key.status());
  auto info = ledger->CreateKey(account, billing::HashKey(*key), billing::KeyDisplay(*key), name,
                                billing::KeyLimits{static_cast<int32_t>(rpm), tpm,
                                                   static_cast<int32_t>(conc)});
  if (!info.ok()) return PrintError("keys create", info.status());
  std::fprintf(stderr, "key %lld for account %s (shown once; only its hash is stored):\n",
               static_cast<long long>(info->id), account.c_str());
  std::printf("%s\n", key->c_str());
  return 0;
}

int List(int argc, char** argv) {
  std::string data_dir, ledger_url, account;
  Flags f("keys list", kUsage);
  f.String("data-dir", &data_dir, "the server's data directory");
  f.String("ledger", &ledger_url, "sqlite (default) or postgres://...");
  f.String("account", &account, "only this account's keys");
  if (auto rc = f.Parse(argc, argv)) return *rc;
  auto ledger = OpenLedgerOrPrint("keys list", data_dir, ledger_url);
  if (!ledger) return 1;
  auto keys = ledger->ListKeys(account);
  if (!keys.ok()) return PrintError("keys list", keys.status());
  std::printf("%-6s %-20s %-18s %-12s %-8s %s\n", "id", "account", "key", "name", "status",
              "limits rpm/tpm/concurrency");
  for (const auto& k : *keys) {
    std::printf("%-6lld %-20s %-18s %-12s %-8s %d/%lld/%d\n", static_cast<long long>(k.id),
                k.account_name.c_str(), k.display.c_str(), k.name.c_str(),
                k.revoked_us ? "revoked" : "active", k.limits.requests_per_min,
                static_cast<long long>(k.limits.tokens_per_min), k.limits.max_concurrent);
  }
  return 0;
}

int Revoke(int argc, char** argv) {
  std::string data_dir, ledger_url;
  Flags f("keys revoke", kUsage);
  f.String("data-dir", &data_dir, "the server's data directory");
  f.String("ledger", &ledger_url, "sqlite (default) or postgres://...");
  if (auto rc = f.Parse(argc, argv)) return *rc;
  if (f.positional().size() != 1) return f.UsageError("give exactly one key id or display form");
  auto ledger = OpenLedgerOrPrint("keys revoke", data_dir, ledger_url);
  if (!ledger) return 1;
  Status s = ledger->RevokeKey(f.positional()[0]);
  if (!s.ok()) return PrintError("keys revoke", s);
  std::fprintf(stderr, "revoked %s\n", f.positional()[0].c_str());
  return 0;
}

int RunKeys(int argc, char** argv) {
  const std::string sub = argc > 1 ? argv[1] : "";
  if (sub == "create") return Create(argc - 1, argv + 1);
  if (sub == "list") return List(argc - 1, argv + 1);
  if (sub == "revoke") return Revoke(argc - 1, argv + 1);
  std::fprintf(sub == "--help" || sub == "-h" ? stdout : stderr, "usage: %s\n", kUsage);
  return sub == "--help" || sub == "-h" ? 0 : 2;
}

}  // namespace
CACHET_REGISTER_COMMAND(keys, "keys", "create, list and revoke API keys", RunKeys);
}  // namespace cachet::cli
#endif
