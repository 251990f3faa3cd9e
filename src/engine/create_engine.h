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

  // Prefix cache (prefix_cache/prefix_cache.h): full 64-token prompt blocks are reused across
  // requests with the same cache_salt.
  bool prefix_cache = true;
  // Names the weights (e.g. a hash of the model file) plus anything else that changes KV bytes.
  // Empty: derived from model_name and the model's shapes, which is only safe when names are
  // never reused for different weights (the disk tier outlives the process).
  std::string model_fingerprint;
  // Disk tier: off when empty. Blocks evicted from RAM are written here, and at shutdown every
  // cached RAM block is spilled, so a restarted engine still hits.
  std::string cache_dir;
  int64_t cache_disk_cap_bytes = int64_t{16} << 30;
};

// Errors: InvalidArgument (null model, a budget smaller than one KV block, non-positive limits,
// a model without vocabulary or context size), ResourceExhausted (the KV arena cannot be
// allocated), the prefix cache's Open errors (IoError/PermissionDenied for cache_dir). On success the engine thread is running; destroying the engine shuts it down with
// no grace (remaining requests end with kCancelled).
Result<std::unique_ptr<Engine>> CreateEngine(std::shared_ptr<model::Model> model,
                                             const EngineConfig& config);

}  // namespace cachet::engine
