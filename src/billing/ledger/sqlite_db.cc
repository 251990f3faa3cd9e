// SqlDb over SQLite: one connection, WAL (readers never block the writer; the CLI commands and
// the server share the file), synchronous=FULL (a committed record survives a machine crash),
// BEGIN IMMEDIATE for write transactions, busy_timeout for writers of other processes.
#include <sqlite3.h>

#include "billing/ledger/sql_db.h"

namespace cachet::billing {
namespace {

class SqliteDb final : public SqlDb {
 public:
  explicit SqliteDb(sqlite3* db) : db_(db) {}
  ~SqliteDb() override { sqlite3_close_v2(db_); }

  Result<SqlRows> Query(const std::string& sql, const std::vector<SqlValue>& params) override {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
      return IoError("ledger (sqlite): " + std::string(sqlite3_errmsg(db_)) + " in: " + sql);
    }
    int i = 0;
    for (const SqlValue& v : params) {
      ++i;
      if (const int64_t* n = std::get_if<int64_t>(&v)) {
        sqlite3_bind_int64(st, i, *n);
      } else {
        const std::string& s = std::get<std::string>(v);
        sqlite3_bind_text(st, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
      }
    }
    SqlRows out;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      const int n = sqlite3_column_count(st);
      std::vector<std::string> row(n);
      for (int c = 0; c < n; ++c) {
        const unsigned char* t = sqlite3_column_text(st, c);
        if (t) row[c].assign(reinterpret_cast<const char*>(t), sqlite3_column_bytes(st, c));
      }
      out.rows.push_back(std::move(row));
    }
    const int ext = sqlite3_extended_errcode(db_);
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) return out;
    if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY) {
      return AlreadyExists("ledger: unique constraint");
    }
    return IoError("ledger (sqlite): " + std::string(sqlite3_errmsg(db_)));
  }

  Status ExecScript(const std::string& sql) override {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      Status s = IoError(std::string("ledger (sqlite): ") + (err ? err : "exec failed"));
      sqlite3_free(err);
      return s;
    }
    return Status::Ok();
  }
  Status Begin() override { return ExecScript("BEGIN IMMEDIATE"); }
  Status Commit() override { return ExecScript("COMMIT"); }
  void Rollback() override { (void)ExecScript("ROLLBACK"); }
  const char* ForUpdate() const override { return ""; }
  std::string DayOf(const std::string& col) const override {
    return "strftime('%Y-%m-%d', " + col + " / 1000000, 'unixepoch')";
  }
  const char* IdColumn() const override { return "INTEGER PRIMARY KEY"; }
  const char* BigInt() const override { return "INTEGER"; }

 private:
  sqlite3* db_;
};

}  // namespace

Result<std::unique_ptr<SqlDb>> OpenSqliteDb(const std::string& path) {
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
  auto out = std::make_unique<SqliteDb>(db);
  CACHET_RETURN_IF_ERROR(out->ExecScript("PRAGMA journal_mode=WAL"));
  CACHET_RETURN_IF_ERROR(out->ExecScript("PRAGMA synchronous=FULL"));
  CACHET_RETURN_IF_ERROR(out->ExecScript("PRAGMA foreign_keys=ON"));
  return std::unique_ptr<SqlDb>(std::move(out));
}

}  // namespace cachet::billing
