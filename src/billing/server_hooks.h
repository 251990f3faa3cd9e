// The billing side of `cachet serve`: an http::Authenticator over the ledger's keys and an
// api::UsageHook that holds, then settles, every request through the Meter.
//
// The account handle passed through the API layer is "<account_id>/<key_id>"; the cache salt is
// derived from the account part only (keys of one account share their cache).
#pragma once

#include <memory>
#include <string>

#include "api/usage_hook.h"
#include "billing/meter.h"
#include "http/auth.h"

namespace cachet::billing {

class LedgerAuthenticator final : public http::Authenticator {
 public:
  explicit LedgerAuthenticator(std::shared_ptr<Meter> meter) : meter_(std::move(meter)) {}
  Result<std::string> Authenticate(std::string_view api_key) const override;

 private:
  std::shared_ptr<Meter> meter_;
};

class LedgerUsageHook final : public api::UsageHook {
 public:
  explicit LedgerUsageHook(std::shared_ptr<Meter> meter) : meter_(std::move(meter)) {}
  Result<std::unique_ptr<api::RequestMeter>> Admit(const std::string& account,
                                                   const std::string& request_id,
                                                   const std::string& model,
                                                   int64_t prompt_tokens, int64_t max_tokens,
                                                   int64_t* retry_after_s) override;
  std::string CacheSalt(const std::string& account) override;

 private:
  std::shared_ptr<Meter> meter_;
};

// "<account_id>/<key_id>" ↔ ids. ParseHandle: InvalidArgument on anything else.
std::string MakeHandle(int64_t account_id, int64_t key_id);
Status ParseHandle(const std::string& handle, int64_t* account_id, int64_t* key_id);

}  // namespace cachet::billing
