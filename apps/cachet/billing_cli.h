// Shared pieces of the billing commands (keys, accounts, prices, usage): sub-subcommand dispatch
// and opening the ledger from --data-dir / --ledger.
#pragma once

#ifdef CACHET_HAS_BILLING
#include <cstdio>
#include <memory>
#include <string>

#include "billing/ledger/ledger.h"

namespace cachet::cli {

// Opens the ledger; prints the error and returns nullptr on failure.
inline std::unique_ptr<billing::Ledger> OpenLedgerOrPrint(const std::string& cmd,
                                                          const std::string& data_dir,
                                                          const std::string& url) {
  auto r = billing::OpenLedger(data_dir, url, "cli");
  if (!r.ok()) {
    std::fprintf(stderr, "cachet %s: %s\n", cmd.c_str(), r.status().ToString().c_str());
    return nullptr;
  }
  return std::move(*r);
}

inline int PrintError(const std::string& cmd, const Status& s) {
  std::fprintf(stderr, "cachet %s: %s\n", cmd.c_str(), s.ToString().c_str());
  return 1;
}

}  // namespace cachet::cli
#endif
