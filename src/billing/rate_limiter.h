// Per-key rate limits: requests per minute, tokens per minute (sliding 60 s window of per-second
// buckets) and concurrent requests.
//
// Thread-safety: all methods are thread-safe (one mutex; the work per call is O(keys touched)).
#pragma once

#include <cstdint>
#include <mutex>
#include <unordered_map>

#include "base/status.h"
#include "billing/ledger/ledger.h"

namespace cachet::billing {

class RateLimiter {
 public:
  // Admits one request of `tokens` (prompt + max output) for key_id at now_s (unix seconds), or
  // returns ResourceExhausted with *retry_after_s set (>= 1) when a limit is reached. On success
  // the caller must call Release(key_id) when the request ends.
  Status Acquire(int64_t key_id, const KeyLimits& lim, int64_t tokens, int64_t now_s,
                 int64_t* retry_after_s);
  void Release(int64_t key_id);
  // Corrects the token count of an admitted request once its real usage is known (may be < 0).
  void AdjustTokens(int64_t key_id, int64_t delta, int64_t now_s);
  int32_t Concurrent(int64_t key_id);

 private:
  struct Window {
    int64_t second[60] = {};   // unix second each bucket holds
    int64_t requests[60] = {};
    int64_t tokens[60] = {};
    int32_t concurrent = 0;
  };
  static void Sum(const Window& w, int64_t now_s, int64_t* req, int64_t* tok,
                  int64_t* oldest_s);
  static void Add(Window* w, int64_t now_s, int64_t req, int64_t tok);

  std::mutex mu_;
  std::unordered_map<int64_t, Window> windows_;  // GUARDED_BY(mu_)
};

}  // namespace cachet::billing
