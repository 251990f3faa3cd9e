// The ledger's logic over SqlDb, shared by the SQLite and PostgreSQL backends. Every mutation is
// one transaction; the account row is locked (FOR UPDATE / BEGIN IMMEDIATE) before balances or
// holds change, so concurrent reservations serialize per account. Schema version 1
// (docs/billing.md).
#include <chrono>
#include <ctime>
#include <mutex>

#include "billing/keys.h"
#include "billing/ledger/ledger.h"
#include "billing/ledger/sql_db.h"

namespace cachet::billing {

int64_t SqlRows::Int(size_t r, size_t c) const {
  const std::string& s = rows[r][c];
  return s.empty() ? 0 : std::stoll(s);
}

namespace {

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string SchemaSql(const SqlDb& db) {
  std::string s = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts(id @ID, name TEXT NOT NULL UNIQUE, currency TEXT NOT NULL,
  prepaid @INT NOT NULL, granted @INT NOT NULL DEFAULT 0, topped_up @INT NOT NULL DEFAULT 0,
  budget_day @INT NOT NULL DEFAULT 0, budget_month @INT NOT NULL DEFAULT 0,
  created_us @INT NOT NULL);
CREATE TABLE IF NOT EXISTS credits(id @ID, account_id @INT NOT NULL REFERENCES accounts(id),
  kind TEXT NOT NULL, amount @INT NOT NULL, note TEXT NOT NULL, created_us @INT NOT NULL);
CREATE TABLE IF NOT EXISTS api_keys(id @ID, account_id @INT NOT NULL REFERENCES accounts(id),
  hash TEXT NOT NULL UNIQUE, display TEXT NOT NULL, name TEXT NOT NULL, rpm @INT NOT NULL,
  tpm @INT NOT NULL, max_concurrent @INT NOT NULL, created_us @INT NOT NULL,
  revoked_us @INT NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS prices(id @ID, model TEXT NOT NULL, hit @INT NOT NULL,
  miss @INT NOT NULL, output @INT NOT NULL, currency TEXT NOT NULL, from_s @INT NOT NULL,
  to_s @INT NOT NULL, daily_start @INT NOT NULL, daily_end @INT NOT NULL,
  created_us @INT NOT NULL);
CREATE INDEX IF NOT EXISTS prices_model ON prices(model);
CREATE TABLE IF NOT EXISTS holds(id @ID, request_id TEXT NOT NULL, account_id @INT NOT NULL,
  amount @INT NOT NULL, owner TEXT NOT NULL, created_us @INT NOT NULL);
CREATE INDEX IF NOT EXISTS holds_account ON holds(account_id);
CREATE TABLE IF NOT EXISTS usage(id @ID, request_id TEXT NOT NULL UNIQUE,
  account_id @INT NOT NULL, key_id @INT NOT NULL, model TEXT NOT NULL, hit @INT NOT NULL,
  miss @INT NOT NULL, output @INT NOT NULL, price_id @INT NOT NULL, cost @INT NOT NULL,
  currency TEXT NOT NULL, start_us @INT NOT NULL, end_us @INT NOT NULL, ttft_us @INT NOT NULL,
  status TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS usage_account_time ON usage(account_id, start_us);
INSERT INTO meta(key, value) VALUES('schema_version', '1') ON CONFLICT DO NOTHING;
)sql";
  auto replace = [&s](const std::string& from, const std::string& to) {
    for (size_t i = s.find(from); i != std::string::npos; i = s.find(from, i + to.size())) {
      s.replace(i, from.size(), to);
    }
  };
  replace("@ID", db.IdColumn());
  replace("@INT", db.BigInt());
  return s;
}

constexpr const char* kAccountCols =
    "a.id, a.name, a.currency, a.prepaid, a.granted, a.topped_up, a.budget_day, a.budget_month, "
    "a.created_us, (SELECT COALESCE(SUM(h.amount), 0) FROM holds h WHERE h.account_id = a.id)";
constexpr const char* kKeyCols =
    "k.id, k.account_id, a.name, k.display, k.name, k.rpm, k.tpm, k.max_concurrent, "
    "k.created_us, k.revoked_us, k.hash";
constexpr const char* kPriceCols =
    "id, model, hit, miss, output, currency, from_s, to_s, daily_start, daily_end, created_us";
constexpr const char* kUsageCols =
    "account_id, key_id, model, hit, miss, output, price_id, cost, currency, start_us, end_us, "
    "ttft_us, status, request_id";

Account AccountAt(const SqlRows& r, size_t i) {
  Account a;
  a.id = r.Int(i, 0);
  a.name = r.Text(i, 1);
  a.currency = r.Text(i, 2);
  a.prepaid = r.Int(i, 3) != 0;
  a.granted = r.Int(i, 4);
  a.topped_up = r.Int(i, 5);
  a.budget_day = r.Int(i, 6);
  a.budget_month = r.Int(i, 7);
  a.created_us = r.Int(i, 8);
  a.held = r.Int(i, 9);
  return a;
}

KeyInfo KeyAt(const SqlRows& r, size_t i) {
  KeyInfo k;
  k.id = r.Int(i, 0);
  k.account_id = r.Int(i, 1);
  k.account_name = r.Text(i, 2);
  k.display = r.Text(i, 3);
  k.name = r.Text(i, 4);
  k.limits.requests_per_min = static_cast<int32_t>(r.Int(i, 5));
  k.limits.tokens_per_min = r.Int(i, 6);
  k.limits.max_concurrent = static_cast<int32_t>(r.Int(i, 7));
  k.created_us = r.Int(i, 8);
  k.revoked_us = r.Int(i, 9);
  return k;
}

PriceVersion PriceAtRow(const SqlRows& r, size_t i) {
  PriceVersion p;
  p.id = r.Int(i, 0);
  p.model = r.Text(i, 1);
  p.hit_per_m = r.Int(i, 2);
  p.miss_per_m = r.Int(i, 3);
  p.output_per_m = r.Int(i, 4);
  p.currency = r.Text(i, 5);
  p.from_s = r.Int(i, 6);
  p.to_s = r.Int(i, 7);
  p.daily_start_min = static_cast<int32_t>(r.Int(i, 8));
  p.daily_end_min = static_cast<int32_t>(r.Int(i, 9));
  p.created_us = r.Int(i, 10);
  return p;
}

UsageRecord UsageAt(const SqlRows& r, size_t i) {
  UsageRecord u;
  u.account_id = r.Int(i, 0);
  u.key_id = r.Int(i, 1);
  u.model = r.Text(i, 2);
  u.tokens = {r.Int(i, 3), r.Int(i, 4), r.Int(i, 5)};
  u.price_id = r.Int(i, 6);
  u.cost = r.Int(i, 7);
  u.currency = r.Text(i, 8);
  u.start_us = r.Int(i, 9);
  u.end_us = r.Int(i, 10);
  u.ttft_us = r.Int(i, 11);
  u.status = r.Text(i, 12);
  u.request_id = r.Text(i, 13);
  return u;
}

int64_t MonthStartUs(int64_t now_us) {
  const time_t t = static_cast<time_t>(now_us / 1000000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  tm.tm_mday = 1;
  tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
  return static_cast<int64_t>(timegm(&tm)) * 1000000;
}

class SqlLedger final : public Ledger {
 public:
  SqlLedger(std::unique_ptr<SqlDb> db, std::string owner)
      : db_(std::move(db)), owner_(std::move(owner)) {}

  Status Init() {
    std::lock_guard<std::mutex> lock(mu_);
    CACHET_RETURN_IF_ERROR(db_->Begin());
    Status s = db_->ExecScript(SchemaSql(*db_));
    if (!s.ok()) {
      db_->Rollback();
      return s;
    }
    return db_->Commit();
  }

  // Runs fn in one write transaction (rolled back when fn fails).
  template <typename Fn>
  auto Txn(Fn fn) -> decltype(fn()) {
    std::lock_guard<std::mutex> lock(mu_);
    if (Status s = db_->Begin(); !s.ok()) return s;
    auto r = fn();
    if (!r.ok()) {
      db_->Rollback();
      return r;
    }
    if (Status s = db_->Commit(); !s.ok()) {
      db_->Rollback();
      return s;
    }
    return r;
  }

  Result<SqlRows> Q(const std::string& sql, const std::vector<SqlValue>& params = {}) {
    return db_->Query(sql, params);
  }

  Result<Account> LoadAccount(const std::string& where, SqlValue v, bool lock = false) {
    if (lock) {
      CACHET_ASSIGN_OR_RETURN(SqlRows l, Q(std::string("SELECT a.id FROM accounts a WHERE ") +
                                               where + db_->ForUpdate(),
                                           {v}));
    }
    CACHET_ASSIGN_OR_RETURN(SqlRows r, Q(std::string("SELECT ") + kAccountCols +
                                             " FROM accounts a WHERE " + where,
                                         {v}));
    if (r.empty()) {
      const std::string* name = std::get_if<std::string>(&v);
      return NotFound("account " +
                      (name ? "'" + *name + "'" : std::to_string(std::get<int64_t>(v))) +
                      " does not exist");
    }
    return AccountAt(r, 0);
  }

  Result<Account> CreateAccount(const std::string& name, const std::string& currency,
                                bool prepaid) override {
    if (name.empty() || name.size() > 128) return InvalidArgument("account name: 1..128 chars");
    if (currency.empty() || currency.size() > 8) return InvalidArgument("currency: 1..8 chars");
    return Txn([&]() -> Result<Account> {
      auto r = Q("INSERT INTO accounts(name, currency, prepaid, created_us) VALUES(?,?,?,?)",
                 {name, currency, int64_t{prepaid ? 1 : 0}, NowUs()});
      if (!r.ok() && r.status().code() == StatusCode::kAlreadyExists) {
        return AlreadyExists("account '" + name + "' exists");
      }
      CACHET_RETURN_IF_ERROR(r.status());
      return LoadAccount("a.name = ?", name);
    });
  }

  Result<Account> GetAccount(const std::string& name) override {
    std::lock_guard<std::mutex> lock(mu_);
    return LoadAccount("a.name = ?", name);
  }
  Result<Account> GetAccountById(int64_t id) override {
    std::lock_guard<std::mutex> lock(mu_);
    return LoadAccount("a.id = ?", id);
  }

  Result<std::vector<Account>> ListAccounts() override {
    std::lock_guard<std::mutex> lock(mu_);
    CACHET_ASSIGN_OR_RETURN(SqlRows r,
                            Q(std::string("SELECT ") + kAccountCols + " FROM accounts a ORDER BY a.id"));
    std::vector<Account> out;
    for (size_t i = 0; i < r.size(); ++i) out.push_back(AccountAt(r, i));
    return out;
  }

  Result<Account> Credit(const std::string& account, const std::string& kind, Nanos amount,
                         const std::string& note) override {
    if (kind != "grant" && kind != "topup") return InvalidArgument("credit kind: grant or topup");
    if (amount <= 0) return InvalidArgument("credit amount must be positive");
    return Txn([&]() -> Result<Account> {
      CACHET_ASSIGN_OR_RETURN(Account a, LoadAccount("a.name = ?", account, /*lock=*/true));
      CACHET_RETURN_IF_ERROR(
          Q(kind == "grant" ? "UPDATE accounts SET granted = granted + ? WHERE id = ?"
                            : "UPDATE accounts SET topped_up = topped_up + ? WHERE id = ?",
            {amount, a.id})
              .status());
      CACHET_RETURN_IF_ERROR(Q("INSERT INTO credits(account_id, kind, amount, note, created_us) "
                               "VALUES(?,?,?,?,?)",
                               {a.id, kind, amount, note, NowUs()})
                                 .status());
      return LoadAccount("a.id = ?", a.id);
    });
  }

  Status SetBudgets(const std::string& account, Nanos day, Nanos month) override {
    if (day < 0 || month < 0) return InvalidArgument("budgets must be >= 0");
    return Txn([&]() -> Result<int64_t> {
             CACHET_ASSIGN_OR_RETURN(Account a, LoadAccount("a.name = ?", account, true));
             CACHET_RETURN_IF_ERROR(
                 Q("UPDATE accounts SET budget_day = ?, budget_month = ? WHERE id = ?",
                   {day, month, a.id})
                     .status());
             return a.id;
           })
        .status();
  }

  Result<KeyInfo> CreateKey(const std::string& account, const std::string& key_hash,
                            const std::string& display, const std::string& name,
                            const KeyLimits& lim) override {
    return Txn([&]() -> Result<KeyInfo> {
      CACHET_ASSIGN_OR_RETURN(Account a, LoadAccount("a.name = ?", account));
      auto r = Q("INSERT INTO api_keys(account_id, hash, display, name, rpm, tpm, max_concurrent, "
                 "created_us) VALUES(?,?,?,?,?,?,?,?) RETURNING id",
                 {a.id, key_hash, display, name, int64_t{lim.requests_per_min},
                  lim.tokens_per_min, int64_t{lim.max_concurrent}, NowUs()});
      CACHET_RETURN_IF_ERROR(r.status());
      return KeyWhere("k.id = ?", r->Int(0, 0));
    });
  }

  Result<KeyInfo> KeyWhere(const std::string& where, SqlValue v) {
    CACHET_ASSIGN_OR_RETURN(
        SqlRows r, Q(std::string("SELECT ") + kKeyCols +
                         " FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE " + where,
                     {v}));
    if (r.empty()) return NotFound("no such key");
    return KeyAt(r, 0);
  }

  Result<KeyInfo> FindKey(const std::string& key_hash) override {
    std::lock_guard<std::mutex> lock(mu_);
    CACHET_ASSIGN_OR_RETURN(
        SqlRows r, Q(std::string("SELECT ") + kKeyCols +
                         " FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE k.hash = ?",
                     {key_hash}));
    if (r.empty() || !ConstantTimeEquals(r.Text(0, 10), key_hash)) return NotFound("no such key");
    KeyInfo k = KeyAt(r, 0);
    if (k.revoked_us != 0) return PermissionDenied("key revoked");
    return k;
  }

  Result<std::vector<KeyInfo>> ListKeys(const std::string& account) override {
    std::lock_guard<std::mutex> lock(mu_);
    CACHET_ASSIGN_OR_RETURN(
        SqlRows r, Q(std::string("SELECT ") + kKeyCols +
                         " FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE "
                         "(? = '' OR a.name = ?) ORDER BY k.id",
                     {account, account}));
    std::vector<KeyInfo> out;
    for (size_t i = 0; i < r.size(); ++i) out.push_back(KeyAt(r, i));
    return out;
  }

  Result<KeyInfo> GetKey(int64_t key_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    return KeyWhere("k.id = ?", key_id);
  }

  Status RevokeKey(const std::string& id_or_display) override {
    return Txn([&]() -> Result<int64_t> {
             CACHET_ASSIGN_OR_RETURN(
                 SqlRows r, Q("UPDATE api_keys SET revoked_us = ? WHERE revoked_us = 0 AND "
                              "(CAST(id AS TEXT) = ? OR display = ?) RETURNING id",
                              {NowUs(), id_or_display, id_or_display}));
             if (r.empty()) return NotFound("no active key '" + id_or_display + "'");
             return static_cast<int64_t>(r.size());
           })
        .status();
  }

  Result<PriceVersion> AddPrice(PriceVersion p) override {
    if (p.model.empty()) return InvalidArgument("price: model is empty");
    if (p.hit_per_m < 0 || p.miss_per_m < 0 || p.output_per_m < 0) {
      return InvalidArgument("price: negative price");
    }
    if (p.dated() && p.to_s != 0 && p.to_s <= p.from_s) return InvalidArgument("price: to <= from");
    return Txn([&]() -> Result<PriceVersion> {
      p.created_us = NowUs();
      CACHET_ASSIGN_OR_RETURN(
          SqlRows r, Q("INSERT INTO prices(model, hit, miss, output, currency, from_s, to_s, "
                       "daily_start, daily_end, created_us) VALUES(?,?,?,?,?,?,?,?,?,?) "
                       "RETURNING id",
                       {p.model, p.hit_per_m, p.miss_per_m, p.output_per_m, p.currency, p.from_s,
                        p.to_s, int64_t{p.daily_start_min}, int64_t{p.daily_end_min},
                        p.created_us}));
      p.id = r.Int(0, 0);
      return p;
    });
  }

  Result<std::vector<PriceVersion>> ListPricesLocked(const std::string& model) {
    CACHET_ASSIGN_OR_RETURN(SqlRows r, Q(std::string("SELECT ") + kPriceCols +
                                             " FROM prices WHERE (? = '' OR model = ?) ORDER BY id",
                                         {model, model}));
    std::vector<PriceVersion> out;
    for (size_t i = 0; i < r.size(); ++i) out.push_back(PriceAtRow(r, i));
    return out;
  }

  Result<std::vector<PriceVersion>> ListPrices(const std::string& model) override {
    std::lock_guard<std::mutex> lock(mu_);
    return ListPricesLocked(model);
  }

  Result<PriceVersion> PriceAt(const std::string& model, int64_t t_s) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (model.empty()) return InvalidArgument("price: model is empty");
    CACHET_ASSIGN_OR_RETURN(std::vector<PriceVersion> v, ListPricesLocked(model));
    std::optional<PriceVersion> p = ResolvePrice(v, model, t_s);
    if (!p) return NotFound("no price for model '" + model + "'");
    return *p;
  }

  Result<Nanos> SpentLocked(int64_t account_id, int64_t from_us) {
    CACHET_ASSIGN_OR_RETURN(
        SqlRows r, Q("SELECT COALESCE(SUM(cost), 0) FROM usage WHERE account_id = ? AND "
                     "start_us >= ?",
                     {account_id, from_us}));
    return r.Int(0, 0);
  }

  Result<Nanos> Spent(int64_t account_id, int64_t from_us) override {
    std::lock_guard<std::mutex> lock(mu_);
    return SpentLocked(account_id, from_us);
  }

  Status CheckBudget(const Account& a, Nanos amount, Nanos cap, int64_t from_us,
                     const char* what) {
    if (cap <= 0) return Status::Ok();
    CACHET_ASSIGN_OR_RETURN(Nanos spent, SpentLocked(a.id, from_us));
    if (spent + a.held + amount > cap) {
      return InsufficientFunds(std::string(what) + " budget of account '" + a.name +
                               "' would be exceeded (" + FormatAmount(spent) + " spent, " +
                               FormatAmount(a.held) + " held, cap " + FormatAmount(cap) + ")");
    }
    return Status::Ok();
  }

  Result<int64_t> Reserve(const std::string& request_id, int64_t account_id,
                          Nanos amount) override {
    if (amount < 0) return InvalidArgument("reserve: negative amount");
    return Txn([&]() -> Result<int64_t> {
      CACHET_ASSIGN_OR_RETURN(Account a, LoadAccount("a.id = ?", account_id, /*lock=*/true));
      if (a.prepaid && a.available() < amount) {
        return InsufficientFunds("insufficient balance: " + FormatAmount(a.available()) + " " +
                                 a.currency + " available, the request may cost up to " +
                                 FormatAmount(amount));
      }
      const int64_t now_us = NowUs();
      const int64_t day_start = now_us - now_us % (86400LL * 1000000);
      CACHET_RETURN_IF_ERROR(CheckBudget(a, amount, a.budget_day, day_start, "daily"));
      CACHET_RETURN_IF_ERROR(
          CheckBudget(a, amount, a.budget_month, MonthStartUs(now_us), "monthly"));
      CACHET_ASSIGN_OR_RETURN(SqlRows r, Q("INSERT INTO holds(request_id, account_id, amount, "
                                           "owner, created_us) VALUES(?,?,?,?,?) RETURNING id",
                                           {request_id, account_id, amount, owner_, now_us}));
      return r.Int(0, 0);
    });
  }

  Status ReleaseHold(int64_t hold_id) override {
    return Txn([&]() -> Result<int64_t> {
             CACHET_RETURN_IF_ERROR(Q("DELETE FROM holds WHERE id = ?", {hold_id}).status());
             return hold_id;
           })
        .status();
  }

  Result<UsageRecord> Settle(int64_t hold_id, UsageRecord rec) override {
    if (rec.request_id.empty()) return InvalidArgument("settle: empty request id");
    if (rec.tokens.hit < 0 || rec.tokens.miss < 0 || rec.tokens.output < 0) {
      return InvalidArgument("settle: negative token count");
    }
    return Txn([&]() -> Result<UsageRecord> {
      if (rec.price_id != 0) {
        CACHET_ASSIGN_OR_RETURN(SqlRows p, Q(std::string("SELECT ") + kPriceCols +
                                                 " FROM prices WHERE id = ?",
                                             {rec.price_id}));
        if (p.empty()) return NotFound("price version " + std::to_string(rec.price_id));
        const PriceVersion price = PriceAtRow(p, 0);
        rec.cost = Cost(rec.tokens, price);
        rec.currency = price.currency;
      } else {
        rec.cost = 0;
      }
      CACHET_ASSIGN_OR_RETURN(Account a, LoadAccount("a.id = ?", rec.account_id, true));
      auto ins = Q("INSERT INTO usage(request_id, account_id, key_id, model, hit, miss, output, "
                   "price_id, cost, currency, start_us, end_us, ttft_us, status) "
                   "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                   {rec.request_id, rec.account_id, rec.key_id, rec.model, rec.tokens.hit,
                    rec.tokens.miss, rec.tokens.output, rec.price_id, rec.cost, rec.currency,
                    rec.start_us, rec.end_us, rec.ttft_us, rec.status});
      if (!ins.ok() && ins.status().code() == StatusCode::kAlreadyExists) {
        return AlreadyExists("request '" + rec.request_id + "' is already recorded");
      }
      CACHET_RETURN_IF_ERROR(ins.status());
      // Granted credit is spent first; the rest comes from topped-up credit (which a postpaid
      // account may take below zero).
      const Nanos from_granted = std::min(std::max<Nanos>(a.granted, 0), rec.cost);
      CACHET_RETURN_IF_ERROR(Q("UPDATE accounts SET granted = granted - ?, "
                               "topped_up = topped_up - ? WHERE id = ?",
                               {from_granted, rec.cost - from_granted, a.id})
                                 .status());
      if (hold_id != 0) {
        CACHET_RETURN_IF_ERROR(Q("DELETE FROM holds WHERE id = ?", {hold_id}).status());
      }
      return rec;
    });
  }

  Result<int64_t> ReleaseOrphanedHolds() override {
    return Txn([&]() -> Result<int64_t> {
      CACHET_ASSIGN_OR_RETURN(SqlRows r,
                              Q("DELETE FROM holds WHERE owner = ? RETURNING id", {owner_}));
      return static_cast<int64_t>(r.size());
    });
  }

  Result<std::vector<UsageRow>> Usage(const UsageQuery& q) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::string group;
    switch (q.group_by) {
      case GroupBy::kRequest: group = "u.request_id"; break;
      case GroupBy::kModel: group = "u.model"; break;
      case GroupBy::kKey: group = "COALESCE(k.display, 'key ' || CAST(u.key_id AS TEXT))"; break;
      case GroupBy::kDay: group = db_->DayOf("u.start_us"); break;
    }
    const std::string sql =
        "SELECT " + group + " AS g, a.name, COUNT(*), SUM(u.hit), SUM(u.miss), SUM(u.output), "
        "SUM(u.cost), MAX(u.currency), "
        "COALESCE(SUM((u.hit * (p.miss - p.hit) + 500000) / 1000000), 0) "
        "FROM usage u JOIN accounts a ON a.id = u.account_id "
        "LEFT JOIN api_keys k ON k.id = u.key_id LEFT JOIN prices p ON p.id = u.price_id WHERE (CAST(? AS BIGINT) = 0 OR u.account_id = ?) "
        "AND u.start_us >= ? AND u.start_us < ? GROUP BY " + group +
        ", a.name ORDER BY MIN(u.start_us), 1 LIMIT ?";
    CACHET_ASSIGN_OR_RETURN(SqlRows r,
                            Q(sql, {q.account_id, q.account_id, q.from_us, q.to_us, q.limit}));
    std::vector<UsageRow> out;
    for (size_t i = 0; i < r.size(); ++i) {
      UsageRow u;
      u.group = r.Text(i, 0);
      u.account = r.Text(i, 1);
      u.requests = r.Int(i, 2);
      u.tokens = {r.Int(i, 3), r.Int(i, 4), r.Int(i, 5)};
      u.cost = r.Int(i, 6);
      u.currency = r.Text(i, 7);
      u.saving = r.Int(i, 8);
      out.push_back(std::move(u));
    }
    return out;
  }

  Result<std::optional<UsageRecord>> FindRecord(const std::string& request_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    CACHET_ASSIGN_OR_RETURN(
        SqlRows r,
        Q(std::string("SELECT ") + kUsageCols + " FROM usage WHERE request_id = ?", {request_id}));
    if (r.empty()) return std::optional<UsageRecord>();
    return std::optional<UsageRecord>(UsageAt(r, 0));
  }

 private:
  std::mutex mu_;
  std::unique_ptr<SqlDb> db_;  // GUARDED_BY(mu_)
  std::string owner_;
};

}  // namespace

Result<std::unique_ptr<Ledger>> MakeSqlLedger(std::unique_ptr<SqlDb> db, std::string owner) {
  auto ledger = std::make_unique<SqlLedger>(std::move(db), std::move(owner));
  CACHET_RETURN_IF_ERROR(ledger->Init());
  return std::unique_ptr<Ledger>(std::move(ledger));
}

Result<std::unique_ptr<Ledger>> OpenSqliteLedger(const std::string& path,
                                                 const std::string& owner) {
  CACHET_ASSIGN_OR_RETURN(std::unique_ptr<SqlDb> db, OpenSqliteDb(path));
  return MakeSqlLedger(std::move(db), owner);
}

Result<std::unique_ptr<Ledger>> OpenPostgresLedger(const std::string& conninfo,
                                                   const std::string& owner) {
  CACHET_ASSIGN_OR_RETURN(std::unique_ptr<SqlDb> db, OpenPostgresDb(conninfo));
  return MakeSqlLedger(std::move(db), owner);
}

}  // namespace cachet::billing
