// The serving engine's public contract: what the API layer submits and what it gets back.
//
// One engine per loaded model. Engine::Submit() is called from HTTP threads; it never blocks on
// inference. Requests enter a bounded queue; the engine thread (the only owner of model, KV pool,
// prefix cache and scheduler) admits them into the running batch, and each request's tokens come
// back on its RequestStream. The API layer does everything text-shaped (templates, tokenization,
// detokenization, stop strings, tool/reasoning parsing); the engine works in token ids only.
//
// Thread-safety: Engine and RequestStream methods may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"

namespace cachet::engine {

// Restricts which tokens may come next (constrained decoding: JSON mode, JSON schema, forced tool
// calls). Called on the engine thread only, once per generated token, in this order:
// Allowed(mask) then Accept(chosen id). Implementations live in sampling/ (grammar) and are
// created per request by the API layer.
class TokenConstraint {
 public:
  virtual ~TokenConstraint() = default;
  // Sets mask[id] = 0 for each token that may not come next (mask is all 1s on entry,
  // mask.size() == n_vocab). Returning false means "no token is allowed": the request finishes
  // with FinishReason::kStop.
  virtual bool Allowed(std::span<uint8_t> mask) = 0;
  // The engine chose `id` (one the mask allowed).
  virtual void Accept(int32_t id) = 0;
  // True once the constrained output is complete (the engine then finishes with kStop).
  virtual bool Done() const = 0;
};

struct SamplingOptions {
  float temperature = 1.0f;  // <= 0: greedy
  float top_p = 1.0f;
  int32_t top_k = 0;  // <= 0: off
  float frequency_penalty = 0.0f;
  float presence_penalty = 0.0f;
  uint64_t seed = 0;
  bool has_seed = false;    // false: the engine picks a seed per request
  int32_t top_logprobs = 0; // 0..20 alternatives reported per token
  bool logprobs = false;    // report the chosen token's logprob
};

struct GenerateRequest {
  std::string request_id;         // the id the client sees; used in logs and the ledger
  std::vector<int32_t> prompt;    // rendered + tokenized by the API layer; non-empty
  int64_t max_tokens = 0;         // > 0; the engine also stops at the context limit (kLength)
  SamplingOptions sampling;
  std::vector<int32_t> stop_ids;  // end-of-generation tokens (not emitted as content)
  // Prefix-cache isolation: blocks are only shared between requests with the same salt. Derived
  // by the server from the authenticated account (never from client input); "" with --no-auth.
  std::string cache_salt;
  std::shared_ptr<TokenConstraint> constraint;  // optional
  // Absolute time after which a request still waiting in the queue is refused: its
  // stream ends with kError and a DeadlineExceeded status (the server answers 503).
  std::chrono::steady_clock::time_point queue_deadline = std::chrono::steady_clock::time_point::max();
};

enum class FinishReason {
  kStop,       // a stop id, the constraint completed, or the API layer called Finish()
  kLength,     // max_tokens or the model's context
  kCancelled,  // the client went away (Cancel())
  kError,      // see Event::error
};

struct TokenLogprob {
  int32_t id = 0;
  float logprob = 0.0f;
};

struct GeneratedToken {
  int32_t id = 0;
  float logprob = 0.0f;              // when SamplingOptions::logprobs
  std::vector<TokenLogprob> top;     // top_logprobs alternatives, most likely first
};

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t prompt_cached_tokens = 0;  // served from the prefix cache (multiple of 64)
  int64_t completion_tokens = 0;
};

// One delivery on a stream: zero or more new tokens, and when `finished` the final state.
struct Event {
  std::vector<GeneratedToken> tokens;  // stop ids are not included
  bool finished = false;
  FinishReason finish_reason = FinishReason::kStop;
  Usage usage;                 // valid when finished (prompt counts are valid from the first event)
  Status error;                // set when finish_reason == kError
  // When the first token was produced (for TTFT); zero until then.
  std::chrono::steady_clock::time_point first_token_time{};
};

// A submitted request's handle. Dropping the last reference cancels the request.
class RequestStream {
 public:
  virtual ~RequestStream() = default;
  // Waits until there is something to deliver or `deadline` passes. Returns false on timeout
  // (out untouched). After an event with finished == true, always returns false.
  virtual bool Next(Event* out, std::chrono::steady_clock::time_point deadline) = 0;
  // The client disconnected: the sequence is freed within one engine step; the last event has
  // kCancelled. Idempotent.
  virtual void Cancel() = 0;
  // The API layer saw a stop string: finish with kStop (the tokens already delivered count).
  virtual void Finish() = 0;
};

struct EngineInfo {
  std::string model_name;
  int64_t n_vocab = 0;
  int64_t n_ctx = 0;  // context limit: prompt + generated tokens
};

struct EngineStats {
  int64_t queue_depth = 0;
  int64_t running = 0;
  int64_t kv_blocks_used = 0;
  int64_t kv_blocks_total = 0;
  int64_t cache_hit_tokens_ram = 0;
  int64_t cache_hit_tokens_disk = 0;
  int64_t cache_miss_tokens = 0;
  int64_t preemptions = 0;               // sequences preempted (recomputed when re-admitted)
  int64_t cache_blocks_ram = 0;          // blocks the prefix cache indexes in RAM
  int64_t cache_blocks_disk = 0;         // block files in the disk tier
  int64_t cache_evictions = 0;           // RAM blocks evicted (spilled to disk when it is on)
  int64_t cache_disk_bytes_read = 0;
  int64_t cache_disk_bytes_written = 0;
};

class Engine {
 public:
  virtual ~Engine() = default;
  // Queues the request. Errors (returned at once): InvalidArgument (empty prompt, prompt +
  // max_tokens over the context, bad sampling values), ResourceExhausted (queue full: the server
  // answers 503 with Retry-After), Unavailable (shutting down).
  virtual Result<std::shared_ptr<RequestStream>> Submit(GenerateRequest request) = 0;
  virtual const EngineInfo& info() const = 0;
  virtual EngineStats stats() const = 0;
  // Stops admitting, lets running requests finish (up to `grace`), then cancels the rest.
  virtual void Shutdown(std::chrono::milliseconds grace) = 0;
};

}  // namespace cachet::engine
