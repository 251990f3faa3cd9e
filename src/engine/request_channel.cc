#include "engine/request_channel.h"

namespace cachet::engine {

bool RequestChannel::Next(Event* out, std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  if (final_taken_) return false;
  if (!cv_.wait_until(lock, deadline, [&] { return has_pending_; })) return false;
  delivered_tokens_ += static_cast<int64_t>(pending_.tokens.size());
  *out = std::move(pending_);
  pending_ = Event{};
  pending_.first_token_time = out->first_token_time;
  pending_.usage = out->usage;
  has_pending_ = false;
  if (out->finished) final_taken_ = true;
  return true;
}

void RequestChannel::SetControl(Control c) {
  int expected = static_cast<int>(Control::kNone);
  // A drop after Cancel/Finish changes nothing the engine needs to know.
  if (control_.compare_exchange_strong(expected, static_cast<int>(c), std::memory_order_acq_rel)) {
    if (wake_) wake_();
  }
}

void RequestChannel::Push(std::vector<GeneratedToken> tokens, const Usage& usage,
                          std::chrono::steady_clock::time_point first_token_time) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    for (auto& t : tokens) pending_.tokens.push_back(std::move(t));
    pending_.usage = usage;
    if (pending_.first_token_time == std::chrono::steady_clock::time_point{}) {
      pending_.first_token_time = first_token_time;
    }
    has_pending_ = true;
  }
  cv_.notify_all();
}

void RequestChannel::Close(FinishReason reason, Usage usage, Status error,
                           bool drop_undelivered) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    closed_ = true;
    if (drop_undelivered) {
      pending_.tokens.clear();
      usage.completion_tokens = delivered_tokens_;
    }
    pending_.finished = true;
    pending_.finish_reason = reason;
    pending_.usage = usage;
    pending_.error = std::move(error);
    has_pending_ = true;
  }
  cv_.notify_all();
}

bool RequestChannel::closed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return closed_;
}

}  // namespace cachet::engine
