// SqlDb: the few things the ledger needs from a SQL database, so that the ledger's logic
// (sql_ledger.cc) is written once for SQLite and PostgreSQL.
//
// SQL text uses '?' placeholders (translated to $1.. for PostgreSQL) and the common subset of
// both dialects; the differences the ledger needs are the hooks below. Values travel as int64 or
// text. Not thread-safe: the ledger serializes access with its own mutex.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "base/status.h"

namespace cachet::billing {

using SqlValue = std::variant<int64_t, std::string>;

struct SqlRows {
  std::vector<std::vector<std::string>> rows;  // NULL reads as ""
  int64_t Int(size_t r, size_t c) const;
  const std::string& Text(size_t r, size_t c) const { return rows[r][c]; }
  size_t size() const { return rows.size(); }
  bool empty() const { return rows.empty(); }
};

class SqlDb {
 public:
  virtual ~SqlDb() = default;
  // Runs one statement. A unique-constraint violation returns AlreadyExists; other failures
  // IoError with the database's message.
  virtual Result<SqlRows> Query(const std::string& sql, const std::vector<SqlValue>& params) = 0;
  // Several statements without parameters (schema).
  virtual Status ExecScript(const std::string& sql) = 0;
  // A write transaction that serializes with other writers to the rows it locks.
  virtual Status Begin() = 0;
  virtual Status Commit() = 0;
  virtual void Rollback() = 0;
  // " FOR UPDATE" where row locks exist (PostgreSQL); SQLite's BEGIN IMMEDIATE already
  // serializes writers.
  virtual const char* ForUpdate() const = 0;
  // An expression giving the UTC date "YYYY-MM-DD" of a column of unix microseconds.
  virtual std::string DayOf(const std::string& column_us) const = 0;
  // Column types for the schema: an auto-increment 64-bit primary key, and a 64-bit integer.
  virtual const char* IdColumn() const = 0;
  virtual const char* BigInt() const = 0;
};

Result<std::unique_ptr<SqlDb>> OpenSqliteDb(const std::string& path);
Result<std::unique_ptr<SqlDb>> OpenPostgresDb(const std::string& conninfo);

// The ledger over any SqlDb (creates the schema). `owner` names this process's holds.
Result<std::unique_ptr<class Ledger>> MakeSqlLedger(std::unique_ptr<SqlDb> db, std::string owner);

}  // namespace cachet::billing
