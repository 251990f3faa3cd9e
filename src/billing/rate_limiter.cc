#include "billing/rate_limiter.h"

#include <algorithm>

namespace cachet::billing {

void RateLimiter::Sum(const Window& w, int64_t now_s, int64_t* req, int64_t* tok,
                      int64_t* oldest_s) {
  *req = *tok = 0;
  *oldest_s = now_s;
  for (int i = 0; i < 60; ++i) {
    if (w.second[i] > now_s - 60 && w.second[i] <= now_s &&
        (w.requests[i] != 0 || w.tokens[i] != 0)) {
      *req += w.requests[i];
      *tok += w.tokens[i];
      *oldest_s = std::min(*oldest_s, w.second[i]);
    }
  }
}

void RateLimiter::Add(Window* w, int64_t now_s, int64_t req, int64_t tok) {
  const int i = static_cast<int>(((now_s % 60) + 60) % 60);
  if (w->second[i] != now_s) {
    w->second[i] = now_s;
    w->requests[i] = 0;
    w->tokens[i] = 0;
  }
  w->requests[i] += req;
  w->tokens[i] += tok;
}

Status RateLimiter::Acquire(int64_t key_id, const KeyLimits& lim, int64_t tokens, int64_t now_s,
                            int64_t* retry_after_s) {
  std::lock_guard<std::mutex> lock(mu_);
  Window& w = windows_[key_id];
  *retry_after_s = 1;
  if (lim.max_concurrent > 0 && w.concurrent >= lim.max_concurrent) {
    return ResourceExhausted("too many concurrent requests for this key (limit " +
                             std::to_string(lim.max_concurrent) + ")");
  }
  int64_t req, tok, oldest;
  Sum(w, now_s, &req, &tok, &oldest);
  const int64_t wait = std::max<int64_t>(1, oldest + 60 - now_s);
  if (lim.requests_per_min > 0 && req + 1 > lim.requests_per_min) {
    *retry_after_s = wait;
    return ResourceExhausted("rate limit: " + std::to_string(lim.requests_per_min) +
                             " requests per minute");
  }
  if (lim.tokens_per_min > 0 && tok + tokens > lim.tokens_per_min) {
    if (tokens > lim.tokens_per_min) {
      return InvalidArgument("request needs " + std::to_string(tokens) +
                             " tokens, more than the key's limit of " +
                             std::to_string(lim.tokens_per_min) + " per minute");
    }
    *retry_after_s = wait;
    return ResourceExhausted("rate limit: " + std::to_string(lim.tokens_per_min) +
                             " tokens per minute");
  }
  Add(&w, now_s, 1, tokens);
  ++w.concurrent;
  return Status::Ok();
}

void RateLimiter::Release(int64_t key_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = windows_.find(key_id);
  if (it != windows_.end() && it->second.concurrent > 0) --it->second.concurrent;
}

void RateLimiter::AdjustTokens(int64_t key_id, int64_t delta, int64_t now_s) {
  std::lock_guard<std::mutex> lock(mu_);
  Add(&windows_[key_id], now_s, 0, delta);
}

int32_t RateLimiter::Concurrent(int64_t key_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = windows_.find(key_id);
  return it == windows_.end() ? 0 : it->second.concurrent;
}

}  // namespace cachet::billing
