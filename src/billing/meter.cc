#include "billing/meter.h"

#include <chrono>

#include "base/log.h"
#include "billing/keys.h"

namespace cachet::billing {
namespace {
int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

Meter::Meter(std::unique_ptr<Ledger> ledger, MeterOptions opt)
    : ledger_(std::move(ledger)), opt_(opt) {}

Principal Meter::Anonymous() {
  Principal p;
  p.account = "local";
  return p;
}

Result<Principal> Meter::Authenticate(std::string_view key) {
  if (key.empty()) return Unauthenticated("missing API key");
  if (!LooksLikeKey(key)) return Unauthenticated("malformed API key");
  auto k = ledger_->FindKey(HashKey(key));
  if (!k.ok()) {
    if (k.status().code() == StatusCode::kNotFound) return Unauthenticated("invalid API key");
    return k.status();
  }
  Principal p;
  p.account_id = k->account_id;
  p.account = k->account_name;
  p.key_id = k->id;
  p.limits = k->limits;
  p.cache_salt = CacheSaltFor(k->account_id);
  return p;
}

std::string Meter::CacheSaltFor(int64_t account_id) const {
  return opt_.share_cache_across_accounts ? "" : "account:" + std::to_string(account_id);
}

Result<Principal> Meter::PrincipalFor(int64_t account_id, int64_t key_id) {
  CACHET_ASSIGN_OR_RETURN(KeyInfo k, ledger_->GetKey(key_id));
  if (k.account_id != account_id) return NotFound("key " + std::to_string(key_id) + " not found");
  if (k.revoked_us != 0) return PermissionDenied("key revoked");
  Principal p;
  p.account_id = k.account_id;
  p.account = k.account_name;
  p.key_id = k.id;
  p.limits = k.limits;
  p.cache_salt = CacheSaltFor(k.account_id);
  return p;
}

Result<Admission> Meter::Admit(const Principal& p, const std::string& request_id,
                               const std::string& model, int64_t prompt_tokens,
                               int64_t max_tokens, int64_t* retry_after_s) {
  Admission a;
  a.request_id = request_id;
  a.principal = p;
  a.model = model;
  a.start_us = NowUs();
  a.tokens_admitted = prompt_tokens + max_tokens;
  *retry_after_s = 0;
  if (p.account_id == 0) return a;  // --no-auth: nothing to meter
  CACHET_RETURN_IF_ERROR(
      limiter_.Acquire(p.key_id, p.limits, a.tokens_admitted, a.start_us / 1000000, retry_after_s));
  auto price = ledger_->PriceAt(model, a.start_us / 1000000);
  if (price.ok()) {
    a.price = *price;
  } else if (price.status().code() != StatusCode::kNotFound) {
    limiter_.Release(p.key_id);
    return price.status();
  } else {
    LOG_WARN << "no price for model '" << model << "': request " << request_id
             << " is recorded at zero cost";
  }
  // The most a request can cost: every prompt token a miss, every allowed output token produced.
  const Nanos max_cost = Cost({0, prompt_tokens, max_tokens}, a.price);
  auto hold = ledger_->Reserve(request_id, p.account_id, max_cost);
  if (!hold.ok()) {
    limiter_.Release(p.key_id);
    return hold.status();
  }
  a.hold_id = *hold;
  return a;
}

Result<UsageRecord> Meter::Finish(Admission* a, const FinishedUsage& u) {
  if (a->finished) return AlreadyExists("request " + a->request_id + " already finished");
  a->finished = true;
  const Principal& p = a->principal;
  if (p.account_id == 0) {
    UsageRecord r;
    r.request_id = a->request_id;
    r.tokens = {u.cached_tokens, u.prompt_tokens - u.cached_tokens, u.output_tokens};
    return r;
  }
  const int64_t now_us = NowUs();
  limiter_.Release(p.key_id);
  limiter_.AdjustTokens(p.key_id, u.prompt_tokens + u.output_tokens - a->tokens_admitted,
                        now_us / 1000000);
  UsageRecord r;
  r.request_id = a->request_id;
  r.account_id = p.account_id;
  r.key_id = p.key_id;
  r.model = a->model;
  r.tokens = {u.cached_tokens, u.prompt_tokens - u.cached_tokens, u.output_tokens};
  r.price_id = a->price.id;
  r.currency = a->price.currency;
  r.start_us = a->start_us;
  r.end_us = now_us;
  r.ttft_us = u.ttft_us;
  r.status = u.status;
  return ledger_->Settle(a->hold_id, r);
}

}  // namespace cachet::billing
