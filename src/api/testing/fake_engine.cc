#include "api/testing/fake_engine.h"

#include <algorithm>
#include <condition_variable>
#include <thread>

namespace cachet::api::testing {

namespace {

using Clock = std::chrono::steady_clock;

class FakeStream final : public engine::RequestStream {
 public:
  FakeStream(FakeEngine* engine, const FakeEngineOptions& o, engine::GenerateRequest r,
             std::vector<int32_t> script)
      : engine_(engine), opts_(o), req_(std::move(r)), script_(std::move(script)) {
    usage_.prompt_tokens = static_cast<int64_t>(req_.prompt.size());
    usage_.prompt_cached_tokens = std::min(o.cached_tokens, usage_.prompt_tokens / 64 * 64);
    ready_at_ = Clock::now() + o.first_token_delay;
  }
  ~FakeStream() override { EndOnce(true); }

  bool Next(engine::Event* out, Clock::time_point deadline) override {
    if (done_) return false;
    std::unique_lock<std::mutex> lock(mu_);
    const auto now = Clock::now();
    if (ready_at_ > deadline) {
      cv_.wait_until(lock, deadline, [&] { return cancelled_ || finish_requested_; });
      if (!cancelled_ && !finish_requested_) return false;
    } else if (ready_at_ > now) {
      cv_.wait_until(lock, ready_at_, [&] { return cancelled_ || finish_requested_; });
    }
    *out = engine::Event{};
    out->usage = usage_;
    if (cancelled_) return End(out, engine::FinishReason::kCancelled);
    if (finish_requested_) return End(out, engine::FinishReason::kStop);
    if (!opts_.fail_with.empty()) {
      out->error = Internal(opts_.fail_with);
      return End(out, engine::FinishReason::kError);
    }
    if (pos_ >= script_.size()) return End(out, engine::FinishReason::kStop);
    const int32_t id = script_[pos_];
    if (std::find(req_.stop_ids.begin(), req_.stop_ids.end(), id) != req_.stop_ids.end()) {
      return End(out, engine::FinishReason::kStop);
    }
    engine::GeneratedToken t;
    t.id = id;
    t.logprob = -0.25f * static_cast<float>(pos_ + 1);
    for (int32_t k = 0; k < req_.sampling.top_logprobs; ++k) {
      t.top.push_back({static_cast<int32_t>((id + k) % opts_.n_vocab),
                       t.logprob - 0.5f * static_cast<float>(k)});
    }
    out->tokens.push_back(t);
    if (first_token_time_ == Clock::time_point{}) first_token_time_ = Clock::now();
    out->first_token_time = first_token_time_;
    ++pos_;
    ++usage_.completion_tokens;
    out->usage = usage_;
    if (opts_.token_delay.count() > 0) ready_at_ = Clock::now() + opts_.token_delay;
    const int64_t total = usage_.prompt_tokens + usage_.completion_tokens;
    if (usage_.completion_tokens >= req_.max_tokens || total >= opts_.n_ctx) {
      return End(out, engine::FinishReason::kLength);
    }
    return true;
  }

  // Like the real engine, the sequence is freed at once (the kCancelled event still follows).
  void Cancel() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      cancelled_ = true;
      cv_.notify_all();
    }
    EndOnce(true);
  }
  void Finish() override {
    std::lock_guard<std::mutex> lock(mu_);
    finish_requested_ = true;
    cv_.notify_all();
  }

 private:
  bool End(engine::Event* out, engine::FinishReason reason) {
    out->finished = true;
    out->finish_reason = reason;
    out->usage = usage_;
    out->first_token_time = first_token_time_;
    done_ = true;
    EndOnce(reason == engine::FinishReason::kCancelled);
    return true;
  }
  void EndOnce(bool cancelled) {
    if (!ended_.exchange(true)) engine_->OnStreamEnd(cancelled);
  }

  FakeEngine* engine_;
  const FakeEngineOptions& opts_;
  engine::GenerateRequest req_;
  std::vector<int32_t> script_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool cancelled_ = false;         // GUARDED_BY(mu_)
  bool finish_requested_ = false;  // GUARDED_BY(mu_)
  std::atomic<bool> done_{false};
  std::atomic<bool> ended_{false};
  size_t pos_ = 0;
  engine::Usage usage_;
  Clock::time_point ready_at_;
  Clock::time_point first_token_time_{};
};

}  // namespace

FakeEngine::FakeEngine(FakeEngineOptions options) : options_(std::move(options)) {
  info_.model_name = options_.model_name;
  info_.n_vocab = options_.n_vocab;
  info_.n_ctx = options_.n_ctx;
}

Result<std::shared_ptr<engine::RequestStream>> FakeEngine::Submit(engine::GenerateRequest r) {
  if (shutdown_) return Unavailable("engine is shutting down");
  if (r.prompt.empty()) return InvalidArgument("empty prompt");
  if (r.max_tokens <= 0) return InvalidArgument("max_tokens must be > 0");
  if (static_cast<int64_t>(r.prompt.size()) + r.max_tokens > info_.n_ctx) {
    return InvalidArgument("prompt + max_tokens exceeds the context of " +
                           std::to_string(info_.n_ctx) + " tokens");
  }
  for (int32_t id : r.prompt) {
    if (id < 0 || id >= info_.n_vocab) return InvalidArgument("prompt token out of range");
  }
  if (active_.load() >= options_.max_active) return ResourceExhausted("queue full");
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_ = r;
  }
  std::vector<int32_t> script = options_.script ? options_.script(r) : options_.reply;
  ++submitted_;
  ++active_;
  return std::shared_ptr<engine::RequestStream>(
      std::make_shared<FakeStream>(this, options_, std::move(r), std::move(script)));
}

engine::EngineStats FakeEngine::stats() const {
  engine::EngineStats s;
  s.running = active_.load();
  s.kv_blocks_total = 128;
  s.kv_blocks_used = std::min<int64_t>(active_.load() * 2, 128);
  return s;
}

void FakeEngine::Shutdown(std::chrono::milliseconds) { shutdown_ = true; }

void FakeEngine::OnStreamEnd(bool cancelled) {
  --active_;
  if (cancelled) ++cancelled_;
}

engine::GenerateRequest FakeEngine::last_request() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_;
}

}  // namespace cachet::api::testing
