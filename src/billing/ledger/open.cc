#include <cstdlib>

#include "base/env.h"
#include "billing/ledger/ledger.h"

namespace cachet::billing {

Result<std::unique_ptr<Ledger>> OpenLedger(const std::string& data_dir, const std::string& url,
                                           const std::string& owner) {
  std::string u = url;
  if (u.empty()) {
    if (const char* e = std::getenv("CACHET_LEDGER")) u = e;
  }
  if (u.rfind("postgres://", 0) == 0 || u.rfind("postgresql://", 0) == 0) {
    return OpenPostgresLedger(u, owner);
  }
  if (!u.empty() && u != "sqlite") {
    return InvalidArgument("ledger '" + u + "': expected sqlite or a postgres:// URL");
  }
  if (data_dir.empty()) return InvalidArgument("--data-dir is required for the SQLite ledger");
  CACHET_RETURN_IF_ERROR(Env::Default()->CreateDirs(data_dir));
  return OpenSqliteLedger(JoinPath(data_dir, "ledger.db"), owner);
}

}  // namespace cachet::billing
