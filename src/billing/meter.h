// Meter: what the HTTP layer calls around every request, tying keys, limits, prices, holds and
// the ledger together.
//
//   Authenticate(key)         → Principal (account, key, limits, prefix-cache salt)
//   Admit(principal, ...)     → Admission: rate limits (429 + Retry-After), the price version in
//                               force now, and a hold of the request's maximum cost (402)
//   Finish(admission, usage)  → one ledger record, the hold settled to the real cost
//
// The cache salt is derived here, server-side, from the authenticated account (never from client
// input): requests of different accounts never share prefix-cache blocks unless the operator sets
// share_cache_across_accounts.
//
// Thread-safety: all methods are thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"
#include "billing/ledger/ledger.h"
#include "billing/rate_limiter.h"

namespace cachet::billing {

struct Principal {
  int64_t account_id = 0;
  std::string account;
  int64_t key_id = 0;
  KeyLimits limits;
  std::string cache_salt;
};

struct Admission {
  std::string request_id;
  Principal principal;
  std::string model;
  PriceVersion price;    // id 0 when the model has no price (served free, logged once)
  int64_t hold_id = 0;
  int64_t start_us = 0;
  int64_t tokens_admitted = 0;  // prompt + max output, counted against tokens/min
  bool finished = false;
};

struct FinishedUsage {
  int64_t prompt_tokens = 0;
  int64_t cached_tokens = 0;   // of prompt_tokens
  int64_t output_tokens = 0;
  int64_t ttft_us = -1;
  std::string status = "ok";   // ok | error | aborted | cancelled
};

struct MeterOptions {
  bool share_cache_across_accounts = false;
};

class Meter {
 public:
  Meter(std::unique_ptr<Ledger> ledger, MeterOptions opt);

  // Unauthenticated (missing/malformed/unknown key) or PermissionDenied (revoked).
  Result<Principal> Authenticate(std::string_view key);
  // The principal of an authenticated key by ids (its limits re-read from the ledger, so a
  // revoked key stops at its next request). NotFound / PermissionDenied.
  Result<Principal> PrincipalFor(int64_t account_id, int64_t key_id);
  std::string CacheSaltFor(int64_t account_id) const;
  // A principal for --no-auth servers (account "local", key 0, no limits, no ledger record).
  static Principal Anonymous();

  // Errors: ResourceExhausted with *retry_after_s (rate limits), InvalidArgument (a request
  // larger than the key's tokens/min), InsufficientFunds (balance or budget).
  Result<Admission> Admit(const Principal& p, const std::string& request_id,
                          const std::string& model, int64_t prompt_tokens, int64_t max_tokens,
                          int64_t* retry_after_s);
  // Records the request once (idempotent per request id) and releases its limits. Returns the
  // stored record (cost filled).
  Result<UsageRecord> Finish(Admission* a, const FinishedUsage& u);

  Ledger& ledger() { return *ledger_; }

 private:
  std::unique_ptr<Ledger> ledger_;
  MeterOptions opt_;
  RateLimiter limiter_;
};

}  // namespace cachet::billing
