// SqlDb over PostgreSQL (libpq): one connection, '?' placeholders rewritten to $n, values sent
// as text (the server infers types from the columns they meet), READ COMMITTED transactions with
// row locks (SELECT ... FOR UPDATE on the account) so concurrent reservations from several
// servers serialize per account.
#include <libpq-fe.h>

#include "billing/ledger/sql_db.h"

namespace cachet::billing {
namespace {

// '?' outside string literals → $1, $2, ...
std::string Placeholders(const std::string& sql) {
  std::string out;
  out.reserve(sql.size() + 16);
  bool in_str = false;
  int n = 0;
  for (char c : sql) {
    if (c == '\'') in_str = !in_str;
    if (c == '?' && !in_str) {
      out += "$" + std::to_string(++n);
    } else {
      out += c;
    }
  }
  return out;
}

class PostgresDb final : public SqlDb {
 public:
  explicit PostgresDb(PGconn* c) : c_(c) {}
  ~PostgresDb() override { PQfinish(c_); }

  Result<SqlRows> Query(const std::string& sql, const std::vector<SqlValue>& params) override {
    std::vector<std::string> text(params.size());
    std::vector<const char*> ptrs(params.size());
    for (size_t i = 0; i < params.size(); ++i) {
      if (const int64_t* n = std::get_if<int64_t>(&params[i])) {
        text[i] = std::to_string(*n);
      } else {
        text[i] = std::get<std::string>(params[i]);
      }
      ptrs[i] = text[i].c_str();
    }
    PGresult* r = PQexecParams(c_, Placeholders(sql).c_str(), static_cast<int>(params.size()),
                               nullptr, ptrs.data(), nullptr, nullptr, 0);
    return Collect(r);
  }

  Status ExecScript(const std::string& sql) override {
    return Collect(PQexec(c_, sql.c_str())).status();
  }
  Status Begin() override { return ExecScript("BEGIN"); }
  Status Commit() override { return ExecScript("COMMIT"); }
  void Rollback() override { (void)ExecScript("ROLLBACK"); }
  const char* ForUpdate() const override { return " FOR UPDATE"; }
  std::string DayOf(const std::string& col) const override {
    return "to_char(to_timestamp(" + col + " / 1000000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD')";
  }
  const char* IdColumn() const override { return "BIGSERIAL PRIMARY KEY"; }
  const char* BigInt() const override { return "BIGINT"; }

 private:
  Result<SqlRows> Collect(PGresult* r) {
    const ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
      const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
      std::string msg = PQresultErrorMessage(r);
      const bool unique = state != nullptr && std::string(state) == "23505";
      PQclear(r);
      if (unique) return AlreadyExists("ledger: unique constraint");
      return IoError("ledger (postgres): " + msg);
    }
    SqlRows out;
    const int rows = PQntuples(r), cols = PQnfields(r);
    out.rows.resize(rows);
    for (int i = 0; i < rows; ++i) {
      out.rows[i].resize(cols);
      for (int c = 0; c < cols; ++c) {
        if (!PQgetisnull(r, i, c)) out.rows[i][c] = PQgetvalue(r, i, c);
      }
    }
    PQclear(r);
    return out;
  }

  PGconn* c_;
};

}  // namespace

Result<std::unique_ptr<SqlDb>> OpenPostgresDb(const std::string& conninfo) {
  PGconn* c = PQconnectdb(conninfo.c_str());
  if (c == nullptr || PQstatus(c) != CONNECTION_OK) {
    std::string msg = c ? PQerrorMessage(c) : "out of memory";
    PQfinish(c);
    return Unavailable("ledger: cannot connect to PostgreSQL: " + msg);
  }
  auto db = std::make_unique<PostgresDb>(c);
  // Schema creation from several servers at once: serialize it with an advisory lock.
  CACHET_RETURN_IF_ERROR(db->ExecScript("SET client_min_messages = warning"));
  return std::unique_ptr<SqlDb>(std::move(db));
}

}  // namespace cachet::billing
