#include "billing/server_hooks.h"

#include <charconv>

#include "base/log.h"

namespace cachet::billing {

std::string MakeHandle(int64_t account_id, int64_t key_id) {
  return std::to_string(account_id) + "/" + std::to_string(key_id);
}

Status ParseHandle(const std::string& h, int64_t* account_id, int64_t* key_id) {
  const size_t slash = h.find('/');
  if (slash == std::string::npos) return InvalidArgument("bad account handle");
  auto a = std::from_chars(h.data(), h.data() + slash, *account_id);
  auto k = std::from_chars(h.data() + slash + 1, h.data() + h.size(), *key_id);
  if (a.ec != std::errc() || a.ptr != h.data() + slash || k.ec != std::errc() ||
      k.ptr != h.data() + h.size()) {
    return InvalidArgument("bad account handle");
  }
  return Status::Ok();
}

Result<std::string> LedgerAuthenticator::Authenticate(std::string_view api_key) const {
  CACHET_ASSIGN_OR_RETURN(Principal p, meter_->Authenticate(api_key));
  return MakeHandle(p.account_id, p.key_id);
}

namespace {

class LedgerRequestMeter final : public api::RequestMeter {
 public:
  LedgerRequestMeter(std::shared_ptr<Meter> meter, Admission a)
      : meter_(std::move(meter)), a_(std::move(a)) {}
  ~LedgerRequestMeter() override {
    if (!a_.finished) Finish(engine::Usage{}, -1, "aborted");
  }
  void Finish(const engine::Usage& u, int64_t ttft_us, const std::string& status) override {
    if (a_.finished) return;
    FinishedUsage f;
    f.prompt_tokens = u.prompt_tokens;
    f.cached_tokens = u.prompt_cached_tokens;
    f.output_tokens = u.completion_tokens;
    f.ttft_us = ttft_us;
    f.status = status;
    auto r = meter_->Finish(&a_, f);
    if (!r.ok()) {
      // The hold stays in the ledger (visible, released at the next start); the request itself
      // has been served, so this is an operator problem, not the client's.
      LOG_ERROR << "ledger: could not record request " << a_.request_id << ": "
                << r.status().ToString();
    }
  }

 private:
  std::shared_ptr<Meter> meter_;
  Admission a_;
};

}  // namespace

Result<std::unique_ptr<api::RequestMeter>> LedgerUsageHook::Admit(
    const std::string& account, const std::string& request_id, const std::string& model,
    int64_t prompt_tokens, int64_t max_tokens, int64_t* retry_after_s) {
  int64_t account_id = 0, key_id = 0;
  CACHET_RETURN_IF_ERROR(ParseHandle(account, &account_id, &key_id));
  CACHET_ASSIGN_OR_RETURN(Principal p, meter_->PrincipalFor(account_id, key_id));
  CACHET_ASSIGN_OR_RETURN(Admission a, meter_->Admit(p, request_id, model, prompt_tokens,
                                                      max_tokens, retry_after_s));
  return std::unique_ptr<api::RequestMeter>(new LedgerRequestMeter(meter_, std::move(a)));
}

std::string LedgerUsageHook::CacheSalt(const std::string& account) {
  int64_t account_id = 0, key_id = 0;
  if (!ParseHandle(account, &account_id, &key_id).ok()) return "invalid:" + account;
  return meter_->CacheSaltFor(account_id);
}

}  // namespace cachet::billing
