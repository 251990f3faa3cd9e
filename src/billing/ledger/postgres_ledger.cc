// PostgreSQL backend: not implemented yet (issue 7); the SQLite ledger is the default.
#include "billing/ledger/ledger.h"

namespace cachet::billing {

Result<std::unique_ptr<Ledger>> OpenPostgresLedger(const std::string& conninfo,
                                                   const std::string& owner) {
  return Unsupported("PostgreSQL ledger is not implemented yet; use the SQLite ledger");
}

}  // namespace cachet::billing
