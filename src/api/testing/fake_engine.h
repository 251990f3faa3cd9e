// FakeEngine: a deterministic engine::Engine for testing the API layer and the HTTP server
// without a model (conventions habit 11).
//
// Each request's output is the token sequence `script(request)` (default: the configured
// `reply` ids). Tokens come one per Next() call after `token_delay`; generation ends at a stop id
// (not emitted, kStop), at max_tokens or the context (kLength), at the end of the script (kStop),
// on Finish() (kStop) or Cancel() (kCancelled). Logprobs are made up but deterministic: token i
// gets -0.25 * (i + 1), alternatives are id+1.. with lower values. Usage: prompt_tokens is the
// prompt length, prompt_cached_tokens = min(cached_tokens, prompt rounded down to 64).
//
// Thread-safety: as engine.h requires; counters are atomics.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>

#include "engine/engine.h"

namespace cachet::api::testing {

struct FakeEngineOptions {
  std::string model_name = "fake";
  int64_t n_vocab = 261;
  int64_t n_ctx = 4096;
  std::vector<int32_t> reply;  // default script output
  std::function<std::vector<int32_t>(const engine::GenerateRequest&)> script;
  std::chrono::milliseconds token_delay{0};
  // Delay before the first token (simulates queueing + prefill).
  std::chrono::milliseconds first_token_delay{0};
  int64_t cached_tokens = 0;
  int64_t max_active = 1 << 20;  // Submit returns ResourceExhausted beyond this many live streams
  std::string fail_with;         // non-empty: every request finishes with kError(Internal(...))
};

class FakeEngine final : public engine::Engine {
 public:
  explicit FakeEngine(FakeEngineOptions options);
  Result<std::shared_ptr<engine::RequestStream>> Submit(engine::GenerateRequest request) override;
  const engine::EngineInfo& info() const override { return info_; }
  engine::EngineStats stats() const override;
  void Shutdown(std::chrono::milliseconds grace) override;

  int64_t submitted() const { return submitted_.load(); }
  int64_t cancelled() const { return cancelled_.load(); }
  int64_t active() const { return active_.load(); }
  // The last request submitted (for asserting what the API layer sent).
  engine::GenerateRequest last_request() const;

  // Called by streams.
  void OnStreamEnd(bool cancelled);

 private:
  FakeEngineOptions options_;
  engine::EngineInfo info_;
  std::atomic<int64_t> submitted_{0}, cancelled_{0}, active_{0};
  std::atomic<bool> shutdown_{false};
  mutable std::mutex mu_;
  engine::GenerateRequest last_;  // GUARDED_BY(mu_)
};

}  // namespace cachet::api::testing
