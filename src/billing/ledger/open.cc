#include <cstdlib>

#include "base/env.h"
#include "billing/ledger/ledger.h"

namespace cachet::billing {

Result<int> SeedPrices(Ledger& ledger, const std::vector<PriceVersion>& prices) {
  int added = 0;
  for (const PriceVersion& p : prices) {
    CACHET_ASSIGN_OR_RETURN(std::vector<PriceVersion> existing, ledger.ListPrices(p.model));
    bool same = false;
    for (const PriceVersion& e : existing) {
      same = same || (e.hit_per_m == p.hit_per_m && e.miss_per_m == p.miss_per_m &&
                      e.output_per_m == p.output_per_m && e.currency == p.currency &&
                      e.from_s == p.from_s && e.to_s == p.to_s &&
                      e.daily_start_min == p.daily_start_min && e.daily_end_min == p.daily_end_min);
    }
    if (same) continue;
    CACHET_RETURN_IF_ERROR(ledger.AddPrice(p).status());
    ++added;
  }
  return added;
}

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
