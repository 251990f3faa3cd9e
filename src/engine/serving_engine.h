// ServingEngine: the Engine implementation (private to src/engine; callers use CreateEngine).
//
// Threads. Submit(), stats(), info() and Shutdown() run on caller threads and touch only the
// Inbox (mutex-guarded) and atomics. Everything else — model, KV pool and storage, scheduler,
// per-request state — belongs to the engine thread (Loop()).
//
// The step (Loop): take new submissions; apply controls (Cancel/Finish/dropped streams, queue
// deadlines); Schedule(); report aborts and first admissions; Forward() over the plan; pick a
// token for every sequence that reached its end; decide finishes (stop id, constraint, max_tokens,
// context); Update(); push events. A cancelled request therefore leaves the batch before the
// next Forward.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "base/thread_pool.h"
#include "engine/create_engine.h"
#include "engine/engine.h"
#include "engine/prefix_cache_hooks.h"
#include "engine/request_channel.h"
#include "engine/token_picker.h"
#include "kv/block_pool.h"
#include "kv/kv_storage.h"
#include "model/model.h"
#include "model/sequence_state.h"
#include "prefix_cache/prefix_cache.h"
#include "sched/scheduler.h"

namespace cachet::engine {

class ServingEngine final : public Engine {
 public:
  // See CreateEngine (create_engine.h) for the errors.
  static Result<std::unique_ptr<ServingEngine>> Create(std::shared_ptr<model::Model> model,
                                                       const EngineConfig& config);
  ~ServingEngine() override;

  Result<std::shared_ptr<RequestStream>> Submit(GenerateRequest request) override;
  const EngineInfo& info() const override { return info_; }
  EngineStats stats() const override;
  void Shutdown(std::chrono::milliseconds grace) override;

 private:
  using Clock = std::chrono::steady_clock;

  // Shared between caller threads and the engine thread; everything guarded by mu.
  struct Inbox {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::pair<GenerateRequest, std::shared_ptr<RequestChannel>>> pending;
    bool wake = false;
    bool stop = false;
    Clock::time_point grace_deadline{};
    void Wake();
  };

  // Engine-thread state of one request.
  struct Active {
    sched::RequestId id = 0;
    GenerateRequest req;  // prompt moved into the scheduler
    int64_t prompt_tokens = 0;
    std::shared_ptr<RequestChannel> ch;
    std::unique_ptr<TokenPicker> picker;
    std::vector<int32_t> generated;  // emitted tokens (stop ids excluded)
    Usage usage;
    bool admitted = false;
    Clock::time_point first_token_time{};
    // Disk-tier load in flight: the prompt waits here until the load is done, then goes to the
    // scheduler (whose admission then hits the loaded blocks in RAM).
    bool loading = false;
    std::vector<int32_t> held_prompt;
    int64_t disk_tokens = 0;  // prompt tokens loaded from the disk tier for this request
    // Stateful models (deepseek4): what the sequence keeps beside its blocks (sliding window,
    // compressor state), made when the sequence (re)starts at position 0.
    std::unique_ptr<model::SequenceState> state;
  };

  // A disk-tier load: the references the engine holds until Poll() returns it.
  struct Loading {
    sched::RequestId id = 0;
    std::vector<kv::BlockId> ram_hits;  // Ref'd by Lookup, kept so the chain stays in RAM
    std::vector<kv::BlockId> dest;      // allocated by the engine, written by the I/O thread
  };

  struct Finishing {
    sched::RequestId id;
    FinishReason reason;
    Status error;
  };

  struct Parts {
    std::shared_ptr<Inbox> inbox;
    std::unique_ptr<kv::BlockPool> blocks;
    std::unique_ptr<kv::KvStorage> storage;
    std::unique_ptr<prefix_cache::PrefixCache> cache;  // null when off
    bool stateful = false;  // the model needs a SequenceState per sequence
  };
  ServingEngine(std::shared_ptr<model::Model> model, const EngineConfig& config, Parts parts);
  static Result<std::unique_ptr<prefix_cache::PrefixCache>> OpenCache(
      const model::Model& model, const EngineConfig& config, Parts* parts);
  void SpillCache();
  // Disk tier (engine_disk_loads.cc): starts a load for a new request's prompt when the disk
  // holds blocks after the RAM hit and loading beats recomputing. True when a load started.
  bool TryStartLoad(Active& a, const std::vector<int32_t>& prompt);
  void PollLoads(bool wait_idle);
  void NotePrefillSpeed(int64_t tokens, double seconds);

  Status Validate(const GenerateRequest& r) const;
  void Loop();
  void Accept(GenerateRequest req, std::shared_ptr<RequestChannel> ch);
  void ApplyControls(Clock::time_point now);
  void HandlePlan(const sched::StepPlan& plan);
  void RunStep(const sched::StepPlan& plan);
  void PickToken(Active& a, const float* logits, Clock::time_point now,
                 sched::StepResult* result, std::vector<Finishing>* finishing);
  // Removes from the scheduler (if still there), closes the stream, forgets the request.
  void Finish(sched::RequestId id, FinishReason reason, Status error, bool drop_undelivered);
  void WaitForWork(Clock::time_point until, bool stopping);
  void PublishStats();
  uint64_t NextSeed();

  std::shared_ptr<model::Model> model_;
  bool stateful_ = false;  // Parts::stateful
  EngineConfig config_;
  EngineInfo info_;
  std::shared_ptr<Inbox> inbox_;
  std::atomic<int64_t> queued_{0};  // submitted, not yet admitted, not finished

  // Engine thread only.
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<kv::BlockPool> blocks_;
  std::unique_ptr<kv::KvStorage> storage_;
  std::unique_ptr<prefix_cache::PrefixCache> cache_;  // after pool and storage: destroyed first
  std::unique_ptr<PrefixCacheHooks> hooks_;
  std::unique_ptr<sched::Scheduler> sched_;
  std::map<sched::RequestId, Active> active_;
  sched::RequestId next_id_ = 1;
  uint64_t seed_state_ = 0;
  std::map<prefix_cache::LoadId, Loading> loads_;
  double prefill_tokens_per_s_ = 0;  // measured on steps of >= 32 tokens; 0: unknown
  std::vector<model::SeqBatch> batch_;
  std::vector<std::vector<void*>> k_ptrs_, v_ptrs_;

  int64_t blocks_total_ = 0;
  // Published by the engine thread for stats().
  std::atomic<int64_t> stat_running_{0}, stat_blocks_used_{0};
  std::atomic<int64_t> stat_hit_ram_{0}, stat_hit_disk_{0}, stat_miss_{0};
  std::atomic<int64_t> stat_preemptions_{0}, stat_cache_ram_{0}, stat_cache_disk_{0};
  std::atomic<int64_t> stat_evictions_{0}, stat_disk_read_{0}, stat_disk_written_{0};

  std::mutex join_mu_;  // serialises Shutdown()'s join
  std::thread thread_;
};

}  // namespace cachet::engine
