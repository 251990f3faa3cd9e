// RequestChannel: the one object shared between an HTTP thread (reading a request's events) and
// the engine thread (producing them), plus the RequestStream handle the API layer holds.
//
// The engine pushes tokens and finally one Close(); the reader's Next() takes everything pending
// as one Event (tokens of several steps are merged, so a slow reader costs one buffer, never a
// queue of events). Control flows the other way through an atomic flag that the engine polls
// once per step: Cancel(), Finish(), or the handle being dropped.
//
// Thread-safety: every method may be called from any thread. The pending event and the closed
// flags are guarded by mu_; control_ is atomic. Wake() is called after a control change so an
// idle engine notices it at once.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "engine/engine.h"

namespace cachet::engine {

enum class Control : int {
  kNone = 0,
  kCancel,   // RequestStream::Cancel()
  kFinish,   // RequestStream::Finish()
  kDropped,  // the last RequestStream reference went away (nobody reads any more)
};

class RequestChannel {
 public:
  // `wake` is called (from any thread) after a control change; it must be cheap and thread-safe.
  explicit RequestChannel(std::function<void()> wake) : wake_(std::move(wake)) {}

  // --- reader side (RequestStream) ---
  bool Next(Event* out, std::chrono::steady_clock::time_point deadline);
  // The first control wins (a Finish after a Cancel is ignored, and vice versa).
  void SetControl(Control c);

  // --- engine side ---
  Control control() const { return static_cast<Control>(control_.load(std::memory_order_acquire)); }
  // Appends generated tokens (may be empty: an event carrying only usage). `usage` replaces the
  // pending event's usage. first_token_time is kept once set.
  void Push(std::vector<GeneratedToken> tokens, const Usage& usage,
            std::chrono::steady_clock::time_point first_token_time);
  // The final event. With drop_undelivered (the API layer called Finish()), tokens not yet taken
  // by Next() are discarded and usage.completion_tokens becomes the number of tokens delivered.
  // Later Push/Close calls are ignored.
  void Close(FinishReason reason, Usage usage, Status error, bool drop_undelivered);
  bool closed() const;

 private:
  std::function<void()> wake_;
  std::atomic<int> control_{0};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Event pending_;               // guarded by mu_
  bool has_pending_ = false;    // guarded by mu_
  bool closed_ = false;         // guarded by mu_: Close() was called
  bool final_taken_ = false;    // guarded by mu_: Next() returned the finished event
  int64_t delivered_tokens_ = 0;  // guarded by mu_
};

// The handle given to the API layer. Dropping it marks the channel kDropped (cancels the request).
class ChannelStream final : public RequestStream {
 public:
  explicit ChannelStream(std::shared_ptr<RequestChannel> ch) : ch_(std::move(ch)) {}
  ~ChannelStream() override { ch_->SetControl(Control::kDropped); }
  bool Next(Event* out, std::chrono::steady_clock::time_point deadline) override {
    return ch_->Next(out, deadline);
  }
  void Cancel() override { ch_->SetControl(Control::kCancel); }
  void Finish() override { ch_->SetControl(Control::kFinish); }

 private:
  std::shared_ptr<RequestChannel> ch_;
};

}  // namespace cachet::engine
