// Scheduler: the continuous-batching step function (vLLM v1 style), pure bookkeeping.
//
// Each engine step calls Schedule(), which returns a StepPlan: which sequences compute how many
// tokens this step. Nothing distinguishes "prefill" from "decode": a running sequence with
// num_tokens - num_computed_tokens == 1 is decoding (1 token), one with more is prefilling and gets
// a chunk of at most max_prefill_chunk tokens. The step's total is capped by max_batch_tokens.
// Policy, in order:
//   1. Running sequences get min(remaining, chunk cap, budget left) tokens and the blocks those
//      tokens need: first every decoding one (1 token), then the ones still prefilling, each
//      pass oldest admission first (decodes first keep every stream's time per output token
//      steady while a long prompt is prefilled). When the pool has no free block the
//      scheduler asks KvCacheHooks::Evict (unreferenced prefix-cache blocks), then preempts the
//      newest running sequence (recompute: its blocks are released, num_computed_tokens = 0,
//      generated tokens kept, and it re-queues at the front of the waiting queue). If the
//      sequence needing blocks is itself the newest, it is the one preempted.
//   2. If nothing was preempted this step, waiting sequences are admitted FCFS while the budget,
//      max_running and the pool allow (leaving admission_reserve_blocks free if anything runs): the prefix cache is asked for the longest cached prefix
//      of whole blocks (Ref'd, shared, never written; at least one token is always left to
//      compute so the step yields logits), then blocks for the first chunk are allocated. The
//      head of the queue blocks the rest (no overtaking).
//   3. A sequence that cannot fit even with every other sequence gone (no running sequence left
//      to preempt, nothing evictable) is aborted: listed in StepPlan::aborted and removed.
// After the model ran the plan, Update() advances num_computed_tokens, reports blocks that became
// full to KvCacheHooks::OnBlockFilled, appends sampled tokens and removes finished sequences.
//
// Block ids are predictable (BlockPool hands out the lowest free id), so tests check exact ids.
//
// Thread-safety: none. One Scheduler per engine, used only by the engine thread.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "kv/block_pool.h"
#include "sched/request.h"

namespace cachet::sched {

struct SchedulerConfig {
  int64_t block_tokens = 64;
  int64_t max_batch_tokens = 512;  // tokens computed per step, all sequences together (>= 1)
  int64_t max_running = 16;        // sequences holding blocks at once (>= 1)
  int64_t max_prefill_chunk = 0;   // per sequence and step; <= 0: max_batch_tokens
  // Free blocks a new admission must leave (when anything is running), so that running
  // sequences crossing into a new block do not at once preempt what was just admitted.
  int64_t admission_reserve_blocks = 0;
};

// The prefix cache as the scheduler sees it. Implemented by the engine over prefix_cache/; tests
// use a fake. All calls happen inside Schedule()/Update()/Remove().
class KvCacheHooks {
 public:
  virtual ~KvCacheHooks() = default;
  // The longest cached prefix of `r.tokens` made of whole blocks, at most `max_blocks` of them:
  // block ids in order, each already Ref'd once on the caller's behalf (the scheduler owns those
  // references from then on).
  virtual std::vector<kv::BlockId> MatchPrefix(const Request& r, int64_t max_blocks) = 0;
  // Frees up to `n` blocks by dropping the cache's reference on unreferenced cached blocks (LRU).
  // Returns how many blocks went back to the free list.
  virtual int64_t Evict(int64_t n) = 0;
  // Block `index` of `r` (r.blocks[index]) now holds tokens [index * block_tokens, (index + 1) *
  // block_tokens) of r.tokens, fully computed. The cache may Ref and index it.
  virtual void OnBlockFilled(const Request& r, int64_t index) = 0;
};

struct ScheduledSeq {
  RequestId id = 0;
  int64_t start_pos = 0;  // == num_computed_tokens before the step
  int64_t n_tokens = 0;   // tokens [start_pos, start_pos + n_tokens) of the request
  bool samples = false;   // start_pos + n_tokens == num_tokens: the engine samples a token
};

struct StepPlan {
  std::vector<ScheduledSeq> seqs;  // decodes, then prefill chunks, then new admissions
  int64_t n_tokens = 0;            // sum of seqs[i].n_tokens
  // Admitted this step for the first time (not re-admissions after preemption).
  std::vector<RequestId> admitted;
  std::vector<RequestId> preempted;  // released and re-queued this step
  std::vector<RequestId> aborted;    // can never fit the pool; already removed
  bool empty() const { return seqs.empty(); }
};

struct SampledToken {
  RequestId id = 0;
  int32_t token = 0;
};

struct StepResult {
  std::vector<SampledToken> sampled;  // one per seq with samples == true that goes on
  std::vector<RequestId> finished;    // removed after the counters advance
};

class Scheduler {
 public:
  // `pool` and `hooks` (nullable: no prefix cache) must outlive the scheduler.
  Scheduler(const SchedulerConfig& config, kv::BlockPool* pool, KvCacheHooks* hooks);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a new sequence at the back of the waiting queue. `prompt` must be non-empty and `id`
  // unused (the engine validates; violations are ignored and return false).
  bool Add(RequestId id, std::vector<int32_t> prompt);
  // Removes a sequence wherever it is (finished, cancelled), releasing its blocks. Returns false
  // for an unknown id. Must not be called between Schedule() and Update() for a sequence in the
  // plan unless that sequence is then left out of the StepResult.
  bool Remove(RequestId id);

  StepPlan Schedule();
  // Applies the result of the last plan. Every seq of the plan advances by its n_tokens; sampled
  // tokens are appended; finished ids are removed.
  void Update(const StepPlan& plan, const StepResult& result);

  const Request* Find(RequestId id) const;
  int64_t n_waiting() const { return static_cast<int64_t>(waiting_.size()); }
  int64_t n_running() const { return static_cast<int64_t>(running_.size()); }
  const std::deque<RequestId>& waiting() const { return waiting_; }
  const std::vector<RequestId>& running() const { return running_; }
  const SchedulerConfig& config() const { return config_; }

 private:
  int64_t BlocksFor(int64_t n_tokens) const;
  // Makes `n` blocks free (evicting from the cache if needed). False if impossible.
  bool EnsureFree(int64_t n);
  // Appends blocks so `r` covers `n_tokens` positions, leaving `reserve` blocks free; false
  // (nothing allocated) if there are not enough.
  bool Grow(Request& r, int64_t n_tokens, int64_t reserve = 0);
  void Release(Request& r);
  void Preempt(Request& r, StepPlan* plan);
  int64_t ChunkFor(const Request& r, int64_t budget) const;
  void ScheduleRunning(StepPlan* plan, int64_t* budget);
  bool ScheduleOne(Request& r, size_t i, StepPlan* plan, int64_t* budget);
  void ScheduleWaiting(StepPlan* plan, int64_t* budget);
  bool Admit(Request& r, int64_t* budget, StepPlan* plan);
  void Abort(RequestId id, StepPlan* plan);

  SchedulerConfig config_;
  kv::BlockPool* pool_;
  KvCacheHooks* hooks_;
  std::unordered_map<RequestId, std::unique_ptr<Request>> requests_;
  std::deque<RequestId> waiting_;
  std::vector<RequestId> running_;  // admission order
};

}  // namespace cachet::sched
