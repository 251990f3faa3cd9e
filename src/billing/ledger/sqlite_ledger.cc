// The SQLite ledger: one database file in WAL mode, one connection per Ledger guarded by a mutex,
// BEGIN IMMEDIATE for every write transaction (writers from other processes wait up to
// busy_timeout). Schema version 1; see docs/billing.md.
#include <sqlite3.h>

#include <chrono>
#include <mutex>

#include "billing/keys.h"
#include "billing/ledger/ledger.h"

namespace cachet::billing {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts(
  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, currency TEXT NOT NULL,
  prepaid INTEGER NOT NULL, granted INTEGER NOT NULL DEFAULT 0, topped_up INTEGER NOT NULL DEFAULT 0,
  budget_day INTEGER NOT NULL DEFAULT 0, budget_month INTEGER NOT NULL DEFAULT 0,
  created_us INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS credits(
  id INTEGER PRIMARY KEY, account_id INTEGER NOT NULL REFERENCES accounts(id), kind TEXT NOT NULL,
  amount INTEGER NOT NULL, note TEXT NOT NULL, created_us INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS api_keys(
  id INTEGER PRIMARY KEY, account_id INTEGER NOT NULL REFERENCES accounts(id),
  hash TEXT NOT NULL UNIQUE, display TEXT NOT NULL, name TEXT NOT NULL,
  rpm INTEGER NOT NULL, tpm INTEGER NOT NULL, max_concurrent INTEGER NOT NULL,
  created_us INTEGER NOT NULL, revoked_us INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS prices(
  id INTEGER PRIMARY KEY, model TEXT NOT NULL, hit INTEGER NOT NULL, miss INTEGER NOT NULL,
  output INTEGER NOT NULL, currency TEXT NOT NULL, from_s INTEGER NOT NULL, to_s INTEGER NOT NULL,
  daily_start INTEGER NOT NULL, daily_end INTEGER NOT NULL, created_us INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS prices_model ON prices(model);
CREATE TABLE IF NOT EXISTS holds(
  id INTEGER PRIMARY KEY, request_id TEXT NOT NULL, account_id INTEGER NOT NULL,
  amount INTEGER NOT NULL, owner TEXT NOT NULL, created_us INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS holds_account ON holds(account_id);
CREATE TABLE IF NOT EXISTS usage(
  id INTEGER PRIMARY KEY, request_id TEXT NOT NULL UNIQUE, account_id INTEGER NOT NULL,
  key_id INTEGER NOT NULL, model TEXT NOT NULL, hit INTEGER NOT NULL, miss INTEGER NOT NULL,
  output INTEGER NOT NULL, price_id INTEGER NOT NULL, cost INTEGER NOT NULL,
  currency TEXT NOT NULL, start_us INTEGER NOT NULL, end_us INTEGER NOT NULL,
  ttft_us INTEGER NOT NULL, status TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS usage_account_time ON usage(account_id, start_us);
INSERT OR IGNORE INTO meta(key, value) VALUES('schema_version', '1');
)sql";

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A prepared statement bound positionally; finalized on destruction.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr);
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt& Bind(int64_t v) {
    sqlite3_bind_int64(s_, ++n_, v);
    return *this;
  }
  Stmt& Bind(const std::string& v) {
    sqlite3_bind_text(s_, ++n_, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return rc_ == SQLITE_OK ? sqlite3_step(s_) : rc_; }
  int64_t Int(int i) { return sqlite3_column_int64(s_, i); }
  std::string Text(int i) {
    const unsigned char* t = sqlite3_column_text(s_, i);
    return t ? std::string(reinterpret_cast<const char*>(t)) : std::string();
  }
  Status Error(const char* what) {
    return IoError(std::string("ledger: ") + what + ": " + sqlite3_errmsg(db_));
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
  int rc_;
  int n_ = 0;
};

class SqliteLedger final : public Ledger {
 public:
  SqliteLedger(sqlite3* db, std::string owner) : db_(db), owner_(std::move(owner)) {}
  ~SqliteLedger() override { sqlite3_close_v2(db_); }

  Status Exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      Status s = IoError(std::string("ledger: ") + (err ? err : "exec failed"));
      sqlite3_free(err);
      return s;
    }
    return Status::Ok();
  }

  // Runs fn inside BEGIN IMMEDIATE ... COMMIT (ROLLBACK when fn fails).
  template <typename Fn>
  auto Txn(Fn fn) -> decltype(fn()) {
    std::lock_guard<std::mutex> lock(mu_);
    if (Status s = Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
    auto r = fn();
    if (!r.ok()) {
      (void)Exec("ROLLBACK");
      return r;
    }
    if (Status s = Exec("COMMIT"); !s.ok()) {
      (void)Exec("ROLLBACK");
      return s;
    }
    return r;
  }

  Result<Account> LoadAccount(const char* where, const std::string* name, int64_t id) {
    std::string sql =
        "SELECT a.id, a.name, a.currency, a.prepaid, a.granted, a.topped_up, a.budget_day, "
        "a.budget_month, a.created_us, (SELECT COALESCE(SUM(amount), 0) FROM holds h WHERE "
        "h.account_id = a.id) FROM accounts a WHERE ";
    sql += where;
    Stmt st(db_, sql.c_str());
    if (name) st.Bind(*name);
    else st.Bind(id);
    const int rc = st.Step();
    if (rc == SQLITE_DONE) {
      return NotFound("account " + (name ? "'" + *name + "'" : std::to_string(id)) +
                      " does not exist");
    }
    if (rc != SQLITE_ROW) return st.Error("load account");
    Account a;
    a.id = st.Int(0);
    a.name = st.Text(1);
    a.currency = st.Text(2);
    a.prepaid = st.Int(3) != 0;
    a.granted = st.Int(4);
    a.topped_up = st.Int(5);
    a.budget_day = st.Int(6);
    a.budget_month = st.Int(7);
    a.created_us = st.Int(8);
    a.held = st.Int(9);
    return a;
  }
  Result<Account> AccountByName(const std::string& n) { return LoadAccount("a.name = ?", &n, 0); }
  Result<Account> AccountById(int64_t id) { return LoadAccount("a.id = ?", nullptr, id); }

  Result<Account> CreateAccount(const std::string& name, const std::string& currency,
                                bool prepaid) override {
    if (name.empty() || name.size() > 128) return InvalidArgument("account name: 1..128 chars");
    return Txn([&]() -> Result<Account> {
      Stmt st(db_, "INSERT INTO accounts(name, currency, prepaid, created_us) VALUES(?,?,?,?)");
      st.Bind(name).Bind(currency).Bind(prepaid ? 1 : 0).Bind(NowUs());
      const int rc = st.Step();
      if (rc == SQLITE_CONSTRAINT) return AlreadyExists("account '" + name + "' exists");
      if (rc != SQLITE_DONE) return st.Error("create account");
      return AccountByName(name);
    });
  }

  Result<Account> GetAccount(const std::string& name) override {
    std::lock_guard<std::mutex> lock(mu_);
    return AccountByName(name);
  }
  Result<Account> GetAccountById(int64_t id) override {
    std::lock_guard<std::mutex> lock(mu_);
    return AccountById(id);
  }

  Result<std::vector<Account>> ListAccounts() override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<int64_t> ids;
    Stmt st(db_, "SELECT id FROM accounts ORDER BY id");
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) ids.push_back(st.Int(0));
    if (rc != SQLITE_DONE) return st.Error("list accounts");
    std::vector<Account> out;
    for (int64_t id : ids) {
      CACHET_ASSIGN_OR_RETURN(Account a, AccountById(id));
      out.push_back(std::move(a));
    }
    return out;
  }

  Result<Account> Credit(const std::string& account, const std::string& kind, Nanos amount,
                         const std::string& note) override {
    if (kind != "grant" && kind != "topup") return InvalidArgument("credit kind: grant or topup");
    if (amount <= 0) return InvalidArgument("credit amount must be positive");
    return Txn([&]() -> Result<Account> {
      CACHET_ASSIGN_OR_RETURN(Account a, AccountByName(account));
      const char* sql = kind == "grant" ? "UPDATE accounts SET granted = granted + ? WHERE id = ?"
                                        : "UPDATE accounts SET topped_up = topped_up + ? WHERE id = ?";
      Stmt up(db_, sql);
      if (up.Bind(amount).Bind(a.id).Step() != SQLITE_DONE) return up.Error("credit");
      Stmt log(db_, "INSERT INTO credits(account_id, kind, amount, note, created_us) "
                    "VALUES(?,?,?,?,?)");
      if (log.Bind(a.id).Bind(kind).Bind(amount).Bind(note).Bind(NowUs()).Step() != SQLITE_DONE) {
        return log.Error("credit log");
      }
      return AccountById(a.id);
    });
  }

  Status SetBudgets(const std::string& account, Nanos day, Nanos month) override {
    if (day < 0 || month < 0) return InvalidArgument("budgets must be >= 0");
    Result<int64_t> r = Txn([&]() -> Result<int64_t> {
      CACHET_ASSIGN_OR_RETURN(Account a, AccountByName(account));
      Stmt st(db_, "UPDATE accounts SET budget_day = ?, budget_month = ? WHERE id = ?");
      if (st.Bind(day).Bind(month).Bind(a.id).Step() != SQLITE_DONE) return st.Error("budgets");
      return a.id;
    });
    return r.status();
  }

  Result<KeyInfo> CreateKey(const std::string& account, const std::string& key_hash,
                            const std::string& display, const std::string& name,
                            const KeyLimits& lim) override {
    return Txn([&]() -> Result<KeyInfo> {
      CACHET_ASSIGN_OR_RETURN(Account a, AccountByName(account));
      Stmt st(db_, "INSERT INTO api_keys(account_id, hash, display, name, rpm, tpm, "
                   "max_concurrent, created_us) VALUES(?,?,?,?,?,?,?,?)");
      st.Bind(a.id).Bind(key_hash).Bind(display).Bind(name).Bind(lim.requests_per_min)
          .Bind(lim.tokens_per_min).Bind(lim.max_concurrent).Bind(NowUs());
      const int rc = st.Step();
      if (rc == SQLITE_CONSTRAINT) return AlreadyExists("key exists");
      if (rc != SQLITE_DONE) return st.Error("create key");
      return KeyWhere("k.id = ?", sqlite3_last_insert_rowid(db_), nullptr);
    });
  }

  Result<KeyInfo> KeyWhere(const char* where, int64_t id, const std::string* text) {
    std::string sql =
        "SELECT k.id, k.account_id, a.name, k.display, k.name, k.rpm, k.tpm, k.max_concurrent, "
        "k.created_us, k.revoked_us, k.hash FROM api_keys k JOIN accounts a ON a.id = "
        "k.account_id WHERE ";
    sql += where;
    Stmt st(db_, sql.c_str());
    if (text) st.Bind(*text);
    else st.Bind(id);
    const int rc = st.Step();
    if (rc == SQLITE_DONE) return NotFound("no such key");
    if (rc != SQLITE_ROW) return st.Error("load key");
    KeyInfo k;
    k.id = st.Int(0);
    k.account_id = st.Int(1);
    k.account_name = st.Text(2);
    k.display = st.Text(3);
    k.name = st.Text(4);
    k.limits.requests_per_min = static_cast<int32_t>(st.Int(5));
    k.limits.tokens_per_min = st.Int(6);
    k.limits.max_concurrent = static_cast<int32_t>(st.Int(7));
    k.created_us = st.Int(8);
    k.revoked_us = st.Int(9);
    if (text && !ConstantTimeEquals(st.Text(10), *text)) return NotFound("no such key");
    return k;
  }

  Result<KeyInfo> FindKey(const std::string& key_hash) override {
    std::lock_guard<std::mutex> lock(mu_);
    CACHET_ASSIGN_OR_RETURN(KeyInfo k, KeyWhere("k.hash = ?", 0, &key_hash));
    if (k.revoked_us != 0) return PermissionDenied("key revoked");
    return k;
  }

  Result<std::vector<KeyInfo>> ListKeys(const std::string& account) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<int64_t> ids;
    Stmt st(db_, account.empty() ? "SELECT k.id FROM api_keys k ORDER BY k.id"
                                 : "SELECT k.id FROM api_keys k JOIN accounts a ON a.id = "
                                   "k.account_id WHERE a.name = ? ORDER BY k.id");
    if (!account.empty()) st.Bind(account);
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) ids.push_back(st.Int(0));
    if (rc != SQLITE_DONE) return st.Error("list keys");
    std::vector<KeyInfo> out;
    for (int64_t id : ids) {
      CACHET_ASSIGN_OR_RETURN(KeyInfo k, KeyWhere("k.id = ?", id, nullptr));
      out.push_back(std::move(k));
    }
    return out;
  }

  Status RevokeKey(const std::string& id_or_display) override {
    Result<int64_t> r = Txn([&]() -> Result<int64_t> {
      Stmt st(db_, "UPDATE api_keys SET revoked_us = ? WHERE revoked_us = 0 AND "
                   "(CAST(id AS TEXT) = ? OR display = ?)");
      if (st.Bind(NowUs()).Bind(id_or_display).Bind(id_or_display).Step() != SQLITE_DONE) {
        return st.Error("revoke");
      }
      const int64_t n = sqlite3_changes(db_);
      if (n == 0) return NotFound("no active key '" + id_or_display + "'");
      return n;
    });
    return r.status();
  }

  Result<PriceVersion> AddPrice(PriceVersion p) override {
    if (p.model.empty()) return InvalidArgument("price: model is empty");
    if (p.hit_per_m < 0 || p.miss_per_m < 0 || p.output_per_m < 0) {
      return InvalidArgument("price: negative price");
    }
    if (p.dated() && p.to_s != 0 && p.to_s <= p.from_s) return InvalidArgument("price: to <= from");
    return Txn([&]() -> Result<PriceVersion> {
      p.created_us = NowUs();
      Stmt st(db_, "INSERT INTO prices(model, hit, miss, output, currency, from_s, to_s, "
                   "daily_start, daily_end, created_us) VALUES(?,?,?,?,?,?,?,?,?,?)");
      st.Bind(p.model).Bind(p.hit_per_m).Bind(p.miss_per_m).Bind(p.output_per_m).Bind(p.currency)
          .Bind(p.from_s).Bind(p.to_s).Bind(p.daily_start_min).Bind(p.daily_end_min)
          .Bind(p.created_us);
      if (st.Step() != SQLITE_DONE) return st.Error("add price");
      p.id = sqlite3_last_insert_rowid(db_);
      return p;
    });
  }

  Result<std::vector<PriceVersion>> ListPricesLocked(const std::string& model) {
    Stmt st(db_, model.empty()
                     ? "SELECT id, model, hit, miss, output, currency, from_s, to_s, daily_start, "
                       "daily_end, created_us FROM prices ORDER BY id"
                     : "SELECT id, model, hit, miss, output, currency, from_s, to_s, daily_start, "
                       "daily_end, created_us FROM prices WHERE model = ? ORDER BY id");
    if (!model.empty()) st.Bind(model);
    std::vector<PriceVersion> out;
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) {
      PriceVersion p;
      p.id = st.Int(0);
      p.model = st.Text(1);
      p.hit_per_m = st.Int(2);
      p.miss_per_m = st.Int(3);
      p.output_per_m = st.Int(4);
      p.currency = st.Text(5);
      p.from_s = st.Int(6);
      p.to_s = st.Int(7);
      p.daily_start_min = static_cast<int32_t>(st.Int(8));
      p.daily_end_min = static_cast<int32_t>(st.Int(9));
      p.created_us = st.Int(10);
      out.push_back(std::move(p));
    }
    if (rc != SQLITE_DONE) return st.Error("list prices");
    return out;
  }

  Result<std::vector<PriceVersion>> ListPrices(const std::string& model) override {
    std::lock_guard<std::mutex> lock(mu_);
    return ListPricesLocked(model);
  }

  Result<PriceVersion> PriceAt(const std::string& model, int64_t t_s) override {
    std::lock_guard<std::mutex> lock(mu_);
    CACHET_ASSIGN_OR_RETURN(std::vector<PriceVersion> v, ListPricesLocked(model));
    std::optional<PriceVersion> p = ResolvePrice(v, model, t_s);
    if (!p) return NotFound("no price for model '" + model + "'");
    return *p;
  }

  Result<Nanos> SpentLocked(int64_t account_id, int64_t from_us) {
    Stmt st(db_, "SELECT COALESCE(SUM(cost), 0) FROM usage WHERE account_id = ? AND start_us >= ?");
    if (st.Bind(account_id).Bind(from_us).Step() != SQLITE_ROW) return st.Error("spent");
    return st.Int(0);
  }

  Result<Nanos> Spent(int64_t account_id, int64_t from_us) override {
    std::lock_guard<std::mutex> lock(mu_);
    return SpentLocked(account_id, from_us);
  }

  Status CheckBudget(const Account& a, Nanos amount, Nanos cap, int64_t from_us, const char* what) {
    if (cap <= 0) return Status::Ok();
    CACHET_ASSIGN_OR_RETURN(Nanos spent, SpentLocked(a.id, from_us));
    if (spent + a.held + amount > cap) {
      return InsufficientFunds(std::string(what) + " budget of account '" + a.name +
                               "' would be exceeded (" + FormatAmount(spent) + " spent, " +
                               FormatAmount(cap) + " cap)");
    }
    return Status::Ok();
  }

  Result<int64_t> Reserve(const std::string& request_id, int64_t account_id,
                          Nanos amount) override {
    if (amount < 0) return InvalidArgument("reserve: negative amount");
    return Txn([&]() -> Result<int64_t> {
      CACHET_ASSIGN_OR_RETURN(Account a, AccountById(account_id));
      if (a.prepaid && a.available() < amount) {
        return InsufficientFunds("insufficient balance: " + FormatAmount(a.available()) + " " +
                                 a.currency + " available, request may cost up to " +
                                 FormatAmount(amount));
      }
      const int64_t now_us = NowUs();
      const int64_t day_start = now_us - now_us % (86400LL * 1000000);
      CACHET_RETURN_IF_ERROR(CheckBudget(a, amount, a.budget_day, day_start, "daily"));
      CACHET_RETURN_IF_ERROR(CheckBudget(a, amount, a.budget_month, MonthStartUs(now_us), "monthly"));
      Stmt st(db_, "INSERT INTO holds(request_id, account_id, amount, owner, created_us) "
                   "VALUES(?,?,?,?,?)");
      if (st.Bind(request_id).Bind(account_id).Bind(amount).Bind(owner_).Bind(now_us).Step() !=
          SQLITE_DONE) {
        return st.Error("reserve");
      }
      return static_cast<int64_t>(sqlite3_last_insert_rowid(db_));
    });
  }

  static int64_t MonthStartUs(int64_t now_us) {
    const time_t t = static_cast<time_t>(now_us / 1000000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    tm.tm_mday = 1;
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    return static_cast<int64_t>(timegm(&tm)) * 1000000;
  }

  Status ReleaseHold(int64_t hold_id) override {
    Result<int64_t> r = Txn([&]() -> Result<int64_t> {
      Stmt st(db_, "DELETE FROM holds WHERE id = ?");
      if (st.Bind(hold_id).Step() != SQLITE_DONE) return st.Error("release");
      return static_cast<int64_t>(sqlite3_changes(db_));
    });
    return r.status();
  }

  Result<UsageRecord> Settle(int64_t hold_id, UsageRecord rec) override {
    if (rec.request_id.empty()) return InvalidArgument("settle: empty request id");
    return Txn([&]() -> Result<UsageRecord> {
      CACHET_ASSIGN_OR_RETURN(std::vector<PriceVersion> all, ListPricesLocked(""));
      const PriceVersion* price = nullptr;
      for (const PriceVersion& p : all) {
        if (p.id == rec.price_id) price = &p;
      }
      if (rec.price_id != 0 && price == nullptr) {
        return NotFound("price version " + std::to_string(rec.price_id));
      }
      rec.cost = price ? Cost(rec.tokens, *price) : 0;
      if (price) rec.currency = price->currency;
      Stmt ins(db_, "INSERT INTO usage(request_id, account_id, key_id, model, hit, miss, output, "
                    "price_id, cost, currency, start_us, end_us, ttft_us, status) "
                    "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
      ins.Bind(rec.request_id).Bind(rec.account_id).Bind(rec.key_id).Bind(rec.model)
          .Bind(rec.tokens.hit).Bind(rec.tokens.miss).Bind(rec.tokens.output).Bind(rec.price_id)
          .Bind(rec.cost).Bind(rec.currency).Bind(rec.start_us).Bind(rec.end_us).Bind(rec.ttft_us)
          .Bind(rec.status);
      const int rc = ins.Step();
      if (rc == SQLITE_CONSTRAINT) {
        return AlreadyExists("request '" + rec.request_id + "' is already recorded");
      }
      if (rc != SQLITE_DONE) return ins.Error("record usage");
      CACHET_RETURN_IF_ERROR(Debit(rec.account_id, rec.cost));
      if (hold_id != 0) {
        Stmt del(db_, "DELETE FROM holds WHERE id = ?");
        if (del.Bind(hold_id).Step() != SQLITE_DONE) return del.Error("drop hold");
      }
      return rec;
    });
  }

  // Granted credit first, then topped-up (which may go negative for postpaid accounts).
  Status Debit(int64_t account_id, Nanos cost) {
    if (cost == 0) return Status::Ok();
    Stmt st(db_, "UPDATE accounts SET granted = granted - MIN(granted, ?), "
                 "topped_up = topped_up - (? - MIN(granted, ?)) WHERE id = ?");
    if (st.Bind(cost).Bind(cost).Bind(cost).Bind(account_id).Step() != SQLITE_DONE) {
      return st.Error("debit");
    }
    return Status::Ok();
  }

  Result<int64_t> ReleaseOrphanedHolds() override {
    return Txn([&]() -> Result<int64_t> {
      Stmt st(db_, "DELETE FROM holds WHERE owner = ?");
      if (st.Bind(owner_).Step() != SQLITE_DONE) return st.Error("release orphaned holds");
      return static_cast<int64_t>(sqlite3_changes(db_));
    });
  }

  Result<std::vector<UsageRow>> Usage(const UsageQuery& q) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::string group;
    switch (q.group_by) {
      case GroupBy::kRequest: group = "u.request_id"; break;
      case GroupBy::kModel: group = "u.model"; break;
      case GroupBy::kKey: group = "COALESCE(k.display, 'key ' || u.key_id)"; break;
      case GroupBy::kDay: group = "strftime('%Y-%m-%d', u.start_us / 1000000, 'unixepoch')"; break;
    }
    const std::string sql =
        "SELECT " + group + " AS g, a.name, COUNT(*), SUM(u.hit), SUM(u.miss), SUM(u.output), "
        "SUM(u.cost), MAX(u.currency) FROM usage u JOIN accounts a ON a.id = u.account_id "
        "LEFT JOIN api_keys k ON k.id = u.key_id WHERE (? = 0 OR u.account_id = ?) AND "
        "u.start_us >= ? AND u.start_us < ? GROUP BY g, a.name ORDER BY MIN(u.start_us), g "
        "LIMIT ?";
    Stmt st(db_, sql.c_str());
    st.Bind(q.account_id).Bind(q.account_id).Bind(q.from_us).Bind(q.to_us).Bind(q.limit);
    std::vector<UsageRow> out;
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) {
      UsageRow r;
      r.group = st.Text(0);
      r.account = st.Text(1);
      r.requests = st.Int(2);
      r.tokens = {st.Int(3), st.Int(4), st.Int(5)};
      r.cost = st.Int(6);
      r.currency = st.Text(7);
      out.push_back(std::move(r));
    }
    if (rc != SQLITE_DONE) return st.Error("usage");
    return out;
  }

  Result<std::optional<UsageRecord>> FindRecord(const std::string& request_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt st(db_, "SELECT account_id, key_id, model, hit, miss, output, price_id, cost, currency, "
                 "start_us, end_us, ttft_us, status FROM usage WHERE request_id = ?");
    const int rc = st.Bind(request_id).Step();
    if (rc == SQLITE_DONE) return std::optional<UsageRecord>();
    if (rc != SQLITE_ROW) return st.Error("find record");
    UsageRecord r;
    r.request_id = request_id;
    r.account_id = st.Int(0);
    r.key_id = st.Int(1);
    r.model = st.Text(2);
    r.tokens = {st.Int(3), st.Int(4), st.Int(5)};
    r.price_id = st.Int(6);
    r.cost = st.Int(7);
    r.currency = st.Text(8);
    r.start_us = st.Int(9);
    r.end_us = st.Int(10);
    r.ttft_us = st.Int(11);
    r.status = st.Text(12);
    return std::optional<UsageRecord>(std::move(r));
  }

 private:
  std::mutex mu_;
  sqlite3* db_;
  std::string owner_;
};

}  // namespace

Result<std::unique_ptr<Ledger>> OpenSqliteLedger(const std::string& path,
                                                 const std::string& owner) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                                 nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close_v2(db);
    return IoError("ledger: cannot open " + path + ": " + msg);
  }
  sqlite3_busy_timeout(db, 10000);
  auto ledger = std::make_unique<SqliteLedger>(db, owner);
  // WAL: readers never block the writer; synchronous=FULL: a committed record survives a crash
  // of the machine, not only of the process.
  CACHET_RETURN_IF_ERROR(ledger->Exec("PRAGMA journal_mode=WAL"));
  CACHET_RETURN_IF_ERROR(ledger->Exec("PRAGMA synchronous=FULL"));
  CACHET_RETURN_IF_ERROR(ledger->Exec("PRAGMA foreign_keys=ON"));
  CACHET_RETURN_IF_ERROR(ledger->Exec("BEGIN IMMEDIATE"));
  Status s = ledger->Exec(kSchema);
  if (!s.ok()) {
    (void)ledger->Exec("ROLLBACK");
    return s;
  }
  CACHET_RETURN_IF_ERROR(ledger->Exec("COMMIT"));
  return std::unique_ptr<Ledger>(std::move(ledger));
}

}  // namespace cachet::billing
