// CreateEngine: builds the serving engine for one loaded model (what `cachet serve` calls).
//
// The engine owns a KV pool sized from kv_budget_bytes (the model's KV layout decides the bytes
// per 64-token block), a scheduler (sched/scheduler.h), a kernel thread pool of `threads`, and
// one engine thread that runs schedule -> forward -> sample -> update until Shutdown(). See
// docs/architecture.md ("The engine step").
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"
#include "engine/engine.h"

namespace cachet::model {
class Model;
}  // namespace cachet::model

namespace cachet::engine {

struct EngineConfig {
  std::string model_name;                       // reported in EngineInfo
  int64_t kv_budget_bytes = int64_t{1} << 30;   // KV arena size (whole blocks that fit)
  int64_t max_batch_tokens = 512;               // tokens computed per step, all sequences
  int64_t max_running = 16;                     // sequences in the running batch
  int64_t max_prefill_chunk = 0;                // per sequence and step; <= 0: max_batch_tokens
  int64_t queue_capacity = 256;                 // submitted but not yet running; beyond: 503
  int threads = 1;                              // kernel threads (the engine thread counts)
  int64_t n_ctx = 0;                            // context limit; 0 or more than trained: trained
  // Engine-chosen seeds (requests without one) derive from this; 0: from the clock.
  uint64_t seed = 0;
};

// Errors: InvalidArgument (null model, a budget smaller than one KV block, non-positive limits,
// a model without vocabulary or context size), ResourceExhausted (the KV arena cannot be
// allocated). On success the engine thread is running; destroying the engine shuts it down with
// no grace (remaining requests end with kCancelled).
Result<std::unique_ptr<Engine>> CreateEngine(std::shared_ptr<model::Model> model,
                                             const EngineConfig& config);

}  // namespace cachet::engine
