// Ledger: accounts, keys, prices, reservations and one usage record per served request.
//
// One interface, two backends with the same tests: SQLite (embedded, WAL, the default, a file in
// the data dir) and PostgreSQL (libpq, for fleets). All money is billing::Nanos.
//
// Exactness rules (the bill must be honest):
// - Reserve() before a request starts: its maximum cost is held against the balance
//   (granted + topped_up - other holds) so concurrent requests cannot overspend. Prepaid accounts
//   get InsufficientFunds (HTTP 402) when it does not fit; postpaid accounts are never refused
//   for balance (only by budgets).
// - Settle() records the request and moves its real cost from the balance (granted first, then
//   topped up) and drops the hold, in ONE transaction. request_id is unique: settling the same
//   request twice returns AlreadyExists and charges nothing.
// - ReleaseOrphanedHolds() at server start drops the holds a crashed server left behind (holds
//   carry the owner instance id), so no reservation dangles.
//
// Thread-safety: every method may be called from any thread; each is one transaction. Several
// processes (the server and `cachet keys/prices/accounts` commands) may use the same database.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "billing/money.h"
#include "billing/prices.h"

namespace cachet::billing {

struct Account {
  int64_t id = 0;
  std::string name;
  std::string currency = "USD";
  bool prepaid = true;      // false: postpaid, balance may go negative
  Nanos granted = 0;        // free credit, spent first
  Nanos topped_up = 0;      // paid credit
  Nanos held = 0;           // sum of open reservations
  Nanos budget_day = 0;     // spending caps, 0 = none (UTC day / month)
  Nanos budget_month = 0;
  int64_t created_us = 0;
  Nanos balance() const { return granted + topped_up; }
  Nanos available() const { return balance() - held; }
};

struct KeyLimits {
  int32_t requests_per_min = 0;  // 0 = unlimited
  int64_t tokens_per_min = 0;
  int32_t max_concurrent = 0;
};

struct KeyInfo {
  int64_t id = 0;
  int64_t account_id = 0;
  std::string account_name;
  std::string display;  // "sk-abcd…wxyz"
  std::string name;     // operator's label
  KeyLimits limits;
  int64_t created_us = 0;
  int64_t revoked_us = 0;  // 0 = active
};

struct UsageRecord {
  std::string request_id;  // the id the client received
  int64_t account_id = 0;
  int64_t key_id = 0;
  std::string model;
  TokenCounts tokens;
  int64_t price_id = 0;
  Nanos cost = 0;  // computed by Settle from tokens and the price version
  std::string currency;
  int64_t start_us = 0, end_us = 0, ttft_us = -1;
  std::string status;  // "ok", "error", "aborted", "cancelled"
};

enum class GroupBy { kRequest, kModel, kKey, kDay };

struct UsageQuery {
  int64_t account_id = 0;  // 0 = all accounts (admin)
  int64_t from_us = 0;
  int64_t to_us = INT64_MAX;
  GroupBy group_by = GroupBy::kModel;
  int64_t limit = 10000;
};

struct UsageRow {
  std::string group;  // model name, key display, "YYYY-MM-DD", or request id
  std::string account;
  int64_t requests = 0;
  TokenCounts tokens;
  Nanos cost = 0;
  Nanos saving = 0;  // what the cache-hit tokens would have cost more at the miss price
  std::string currency;
};

class Ledger {
 public:
  virtual ~Ledger() = default;

  // Accounts. CreateAccount: AlreadyExists when the name is taken.
  virtual Result<Account> CreateAccount(const std::string& name, const std::string& currency,
                                        bool prepaid) = 0;
  virtual Result<Account> GetAccount(const std::string& name) = 0;  // NotFound
  virtual Result<Account> GetAccountById(int64_t id) = 0;
  virtual Result<std::vector<Account>> ListAccounts() = 0;
  // Adds credit: kind "grant" or "topup" (amount > 0). Returns the updated account.
  virtual Result<Account> Credit(const std::string& account, const std::string& kind,
                                 Nanos amount, const std::string& note) = 0;
  virtual Status SetBudgets(const std::string& account, Nanos day, Nanos month) = 0;

  // Keys: only the hash is stored. AlreadyExists for a duplicate hash.
  virtual Result<KeyInfo> CreateKey(const std::string& account, const std::string& key_hash,
                                    const std::string& display, const std::string& name,
                                    const KeyLimits& limits) = 0;
  // The active key with this hash (compared in constant time). NotFound / PermissionDenied
  // (revoked).
  virtual Result<KeyInfo> FindKey(const std::string& key_hash) = 0;
  virtual Result<std::vector<KeyInfo>> ListKeys(const std::string& account) = 0;  // "" = all
  // A key by id, revoked or not. NotFound.
  virtual Result<KeyInfo> GetKey(int64_t key_id) = 0;
  // Revokes by id or by display string. NotFound when nothing matches.
  virtual Status RevokeKey(const std::string& id_or_display) = 0;

  // Prices. AddPrice assigns id and created_us.
  virtual Result<PriceVersion> AddPrice(PriceVersion p) = 0;
  virtual Result<std::vector<PriceVersion>> ListPrices(const std::string& model) = 0;  // "" all
  // The version in force at t_s (unix seconds); NotFound when the model has no price.
  virtual Result<PriceVersion> PriceAt(const std::string& model, int64_t t_s) = 0;

  // Reservations. Returns the hold id. InsufficientFunds when a prepaid account cannot cover
  // `amount` or a budget would be exceeded by it.
  virtual Result<int64_t> Reserve(const std::string& request_id, int64_t account_id,
                                  Nanos amount) = 0;
  // Drops a hold without recording (the request never started).
  virtual Status ReleaseHold(int64_t hold_id) = 0;
  // Records the request and charges its cost (computed from record.tokens and price_id), and
  // drops hold_id (0 = none) in one transaction. Returns the record as stored (cost filled).
  virtual Result<UsageRecord> Settle(int64_t hold_id, UsageRecord record) = 0;
  // Drops every hold owned by `owner` (this server instance's previous life). Returns how many.
  virtual Result<int64_t> ReleaseOrphanedHolds() = 0;

  // Reports.
  virtual Result<std::vector<UsageRow>> Usage(const UsageQuery& q) = 0;
  virtual Result<std::optional<UsageRecord>> FindRecord(const std::string& request_id) = 0;
  // Spend of an account in [from_us, now) (for budgets and reports).
  virtual Result<Nanos> Spent(int64_t account_id, int64_t from_us) = 0;
};

// Opens (creating if needed) the SQLite ledger at `path` (WAL mode). `owner` names this process's
// holds ("server" for cachet serve; commands never reserve).
Result<std::unique_ptr<Ledger>> OpenSqliteLedger(const std::string& path, const std::string& owner);

// Connects to PostgreSQL (`conninfo` as libpq takes it) and creates the schema if needed.
// Unsupported when the build has no libpq.
Result<std::unique_ptr<Ledger>> OpenPostgresLedger(const std::string& conninfo,
                                                   const std::string& owner);

// Adds each price that the ledger does not already hold as an identical version (same model,
// prices, currency and window): seeding from a config file at every start is idempotent, and an
// edited config adds a new version. Returns how many were added.
Result<int> SeedPrices(Ledger& ledger, const std::vector<PriceVersion>& prices);

// The ledger a server or command uses: `url` "" or "sqlite" = DATA_DIR/ledger.db (created with the
// directory); "postgres://..." = PostgreSQL. An empty url falls back to $CACHET_LEDGER.
Result<std::unique_ptr<Ledger>> OpenLedger(const std::string& data_dir, const std::string& url,
                                           const std::string& owner);

}  // namespace cachet::billing
