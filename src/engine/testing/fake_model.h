// FakeModel: a deterministic model::Model for engine tests (no kernels, no weights).
//
// KV layout: one layer, one head of one f32 for K and V. Forward writes, for every token at
// position p, K = token id and V = p into the sequence's blocks, then reads the whole history back
// from the blocks: if any V does not hold its own position the KV addressing is broken (a wrong
// block table, a shared block overwritten) and Forward fails with Internal. The logits of a
// sequence's last token peak at NextToken(history) and fall off linearly with the distance from
// it, so greedy decoding is predictable (ExpectedGreedy) and sampled decoding has a real
// distribution.
//
// Test hooks: a gate that holds Forward until the test opens it (to pin the engine thread inside
// a step), a per-step delay, and counters. Thread-safety: Forward runs on the engine thread; the
// hooks and counters are safe to use from the test thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "model/model.h"

namespace cachet::engine::testing {

class FakeModel : public model::Model {
 public:
  static model::HParams Params(int64_t n_vocab, int64_t n_ctx) {
    model::HParams hp;
    hp.arch = "fake";
    hp.n_vocab = n_vocab;
    hp.n_ctx_train = n_ctx;
    hp.n_layer = 1;
    return hp;
  }
  FakeModel(int64_t n_vocab = 32, int64_t n_ctx = 4096) : Model(nullptr, Params(n_vocab, n_ctx)) {}

  model::KvLayout kv_layout() const override {
    return {.n_layer = 1, .n_kv_heads = 1, .head_dim_k = 1, .head_dim_v = 1,
            .type = DType::kF32};
  }

  // The token that follows `history` under greedy decoding.
  static int32_t NextToken(const std::vector<int32_t>& history, int64_t n_vocab) {
    uint64_t h = 1469598103934665603ull;
    for (size_t p = 0; p < history.size(); ++p) {
      h = (h ^ static_cast<uint64_t>(history[p] * 31 + p)) * 1099511628211ull;
    }
    return static_cast<int32_t>((h >> 17) % static_cast<uint64_t>(n_vocab));
  }
  static std::vector<int32_t> ExpectedGreedy(std::vector<int32_t> prompt, int n,
                                             int64_t n_vocab) {
    std::vector<int32_t> out;
    for (int i = 0; i < n; ++i) {
      out.push_back(NextToken(prompt, n_vocab));
      prompt.push_back(out.back());
    }
    return out;
  }

  Result<const float*> Forward(std::span<const model::SeqBatch> batch, ThreadPool*) override {
    WaitGate();
    if (fail_at_step_.load() == steps_.load() + 1) {
      steps_.fetch_add(1);
      return Internal("fake: injected failure");
    }
    if (delay_ms_.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_));
    const int64_t V = hparams_.n_vocab;
    logits_.assign(batch.size() * V, 0.0f);
    int64_t tokens = 0;
    for (size_t s = 0; s < batch.size(); ++s) {
      const model::SeqBatch& b = batch[s];
      if (b.n_tokens < 1 || b.n_blocks * 64 < b.start_pos + b.n_tokens) {
        return InvalidArgument("fake: sequence " + std::to_string(s) + " blocks too few");
      }
      const int64_t end = b.start_pos + b.n_tokens;
      for (int64_t i = 0; i < b.n_tokens; ++i) {
        const int64_t p = b.start_pos + i;
        if (b.tokens[i] < 0 || b.tokens[i] >= V) return InvalidArgument("fake: bad token id");
        Slot(b.k_blocks, p)[0] = static_cast<float>(b.tokens[i]);
        Slot(b.v_blocks, p)[0] = static_cast<float>(p);
      }
      std::vector<int32_t> history(end);
      for (int64_t p = 0; p < end; ++p) {
        if (Slot(b.v_blocks, p)[0] != static_cast<float>(p)) {
          return Internal("fake: KV of sequence " + std::to_string(s) + " position " +
                          std::to_string(p) + " is corrupt");
        }
        history[p] = static_cast<int32_t>(Slot(b.k_blocks, p)[0]);
      }
      const int32_t next = NextToken(history, V);
      for (int64_t v = 0; v < V; ++v) {
        logits_[s * V + v] = 4.0f - 0.5f * static_cast<float>(v > next ? v - next : next - v);
      }
      tokens += b.n_tokens;
    }
    steps_.fetch_add(1);
    tokens_.fetch_add(tokens);
    int64_t prev = max_seqs_.load();
    while (static_cast<int64_t>(batch.size()) > prev &&
           !max_seqs_.compare_exchange_weak(prev, static_cast<int64_t>(batch.size()))) {
    }
    return logits_.data();
  }

  // Gate: while closed, Forward blocks at its start. in_forward() counts Forwards that reached
  // the gate.
  void CloseGate() {
    std::lock_guard<std::mutex> l(mu_);
    gate_open_ = false;
  }
  void OpenGate() {
    {
      std::lock_guard<std::mutex> l(mu_);
      gate_open_ = true;
    }
    cv_.notify_all();
  }
  // Waits until at least n Forward calls have reached the gate.
  bool WaitArrivals(int64_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, timeout, [&] { return arrivals_ >= n; });
  }
  void set_delay_ms(int ms) { delay_ms_.store(ms); }
  // Forward number n (1-based, counting every call) fails with Internal; 0: never.
  void set_fail_at_step(int64_t n) { fail_at_step_.store(n); }
  int64_t steps() const { return steps_.load(); }
  int64_t tokens() const { return tokens_.load(); }
  int64_t max_seqs() const { return max_seqs_.load(); }

 private:
  static float* Slot(void* const* blocks, int64_t p) {
    return static_cast<float*>(blocks[p / 64]) + p % 64;
  }
  void WaitGate() {
    std::unique_lock<std::mutex> l(mu_);
    ++arrivals_;
    cv_.notify_all();
    cv_.wait(l, [&] { return gate_open_; });
  }

  std::vector<float> logits_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool gate_open_ = true;  // guarded by mu_
  int64_t arrivals_ = 0;   // guarded by mu_
  std::atomic<int> delay_ms_{0};
  std::atomic<int64_t> fail_at_step_{0};
  std::atomic<int64_t> steps_{0}, tokens_{0}, max_seqs_{0};
};

}  // namespace cachet::engine::testing
