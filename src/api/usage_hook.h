// UsageHook: how the API layer meters requests without knowing about billing (billing implements
// it; the serve command plugs it into ApiContext). Called from HTTP threads.
//
//   StartChat:   Admit(...)            after the prompt is tokenized, before the engine sees it
//   Generation:  meter->Finish(...)    when the finished delta is produced, BEFORE it is returned
//                                      to the protocol adapter, so a response whose last bytes
//                                      reached the client always has its ledger record;
//                                      from the destructor (status "cancelled"/"aborted") when the
//                                      request ends any other way.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"
#include "engine/engine.h"

namespace cachet::api {

// One admitted request. Finish is called exactly once.
class RequestMeter {
 public:
  virtual ~RequestMeter() = default;
  // `status`: "ok", "error", "cancelled" or "aborted". ttft_us < 0 when no token was produced.
  virtual void Finish(const engine::Usage& usage, int64_t ttft_us, const std::string& status) = 0;
};

class UsageHook {
 public:
  virtual ~UsageHook() = default;
  // Errors: InsufficientFunds (402), ResourceExhausted with *retry_after_s (429), InvalidArgument.
  virtual Result<std::unique_ptr<RequestMeter>> Admit(const std::string& account,
                                                      const std::string& request_id,
                                                      const std::string& model,
                                                      int64_t prompt_tokens, int64_t max_tokens,
                                                      int64_t* retry_after_s) = 0;
  // The prefix-cache salt for an authenticated account handle (server-side, never from input).
  virtual std::string CacheSalt(const std::string& account) = 0;
};

}  // namespace cachet::api
