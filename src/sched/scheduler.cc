#include "sched/scheduler.h"

#include <algorithm>

namespace cachet::sched {

Scheduler::Scheduler(const SchedulerConfig& config, kv::BlockPool* pool, KvCacheHooks* hooks)
    : config_(config), pool_(pool), hooks_(hooks) {
  config_.block_tokens = std::max<int64_t>(1, config_.block_tokens);
  config_.max_batch_tokens = std::max<int64_t>(1, config_.max_batch_tokens);
  config_.max_running = std::max<int64_t>(1, config_.max_running);
}

Scheduler::~Scheduler() {
  for (auto& [id, r] : requests_) Release(*r);
}

bool Scheduler::Add(RequestId id, std::vector<int32_t> prompt) {
  if (prompt.empty() || requests_.count(id) != 0) return false;
  auto r = std::make_unique<Request>();
  r->id = id;
  r->num_prompt_tokens = static_cast<int64_t>(prompt.size());
  r->tokens = std::move(prompt);
  requests_.emplace(id, std::move(r));
  waiting_.push_back(id);
  return true;
}

bool Scheduler::Remove(RequestId id) {
  auto it = requests_.find(id);
  if (it == requests_.end()) return false;
  Request& r = *it->second;
  if (r.state == RequestState::kRunning) {
    running_.erase(std::find(running_.begin(), running_.end(), id));
  } else {
    waiting_.erase(std::find(waiting_.begin(), waiting_.end(), id));
  }
  Release(r);
  requests_.erase(it);
  return true;
}

const Request* Scheduler::Find(RequestId id) const {
  auto it = requests_.find(id);
  return it == requests_.end() ? nullptr : it->second.get();
}

int64_t Scheduler::BlocksFor(int64_t n_tokens) const {
  return (n_tokens + config_.block_tokens - 1) / config_.block_tokens;
}

bool Scheduler::EnsureFree(int64_t n) {
  if (pool_->n_free() < n && hooks_ != nullptr) hooks_->Evict(n - pool_->n_free());
  return pool_->n_free() >= n;
}

bool Scheduler::Grow(Request& r, int64_t n_tokens, int64_t reserve) {
  const int64_t need = BlocksFor(n_tokens) - static_cast<int64_t>(r.blocks.size());
  if (need <= 0) return true;
  if (!EnsureFree(need + reserve)) return false;
  for (int64_t i = 0; i < need; ++i) r.blocks.push_back(pool_->Allocate());
  return true;
}

// Reverse order, so that the free stack hands the same ids back in the same order next time.
void Scheduler::Release(Request& r) {
  for (auto it = r.blocks.rbegin(); it != r.blocks.rend(); ++it) pool_->Unref(*it);
  r.blocks.clear();
  r.num_computed_tokens = 0;
  r.num_cached_tokens = 0;
  r.num_blocks_reported = 0;
}

void Scheduler::Preempt(Request& r, StepPlan* plan) {
  running_.erase(std::find(running_.begin(), running_.end(), r.id));
  Release(r);
  r.state = RequestState::kWaiting;
  ++r.num_preemptions;
  waiting_.push_front(r.id);
  plan->preempted.push_back(r.id);
}

void Scheduler::Abort(RequestId id, StepPlan* plan) {
  plan->aborted.push_back(id);
  Remove(id);
}

int64_t Scheduler::ChunkFor(const Request& r, int64_t budget) const {
  const int64_t cap =
      config_.max_prefill_chunk > 0 ? config_.max_prefill_chunk : config_.max_batch_tokens;
  return std::min({r.num_tokens() - r.num_computed_tokens, cap, budget});
}

StepPlan Scheduler::Schedule() {
  StepPlan plan;
  int64_t budget = config_.max_batch_tokens;
  ScheduleRunning(&plan, &budget);
  if (plan.preempted.empty()) ScheduleWaiting(&plan, &budget);
  return plan;
}

// Two passes over the running sequences, oldest first: decodes (one token left), then the rest
// (prefill chunks). Decodes first keeps every stream's time per output token steady while a long
// prompt is being prefilled; the chunks then share what is left of the budget.
void Scheduler::ScheduleRunning(StepPlan* plan, int64_t* budget) {
  for (const bool decodes : {true, false}) {
    size_t i = 0;
    while (i < running_.size() && *budget > 0) {
      const RequestId id = running_[i];
      Request& r = *requests_.at(id);
      if ((r.num_tokens() - r.num_computed_tokens == 1) != decodes) {
        ++i;
        continue;
      }
      if (!ScheduleOne(r, i, plan, budget)) {
        // r left running_ (preempted or aborted) only from the back; otherwise skip it.
        if (i < running_.size() && running_[i] == id) ++i;
        continue;
      }
      ++i;
    }
  }
}

// Schedules running_[i] == r: allocates the blocks its next chunk needs, preempting the newest
// sequences (unscheduling them if the decode pass had scheduled them) until they fit.
bool Scheduler::ScheduleOne(Request& r, size_t i, StepPlan* plan, int64_t* budget) {
  const int64_t n = ChunkFor(r, *budget);
  if (n <= 0) return false;
  while (!Grow(r, r.num_computed_tokens + n)) {
    if (i + 1 < running_.size()) {
      const RequestId victim = running_.back();
      auto it = std::find_if(plan->seqs.begin(), plan->seqs.end(),
                             [&](const ScheduledSeq& s) { return s.id == victim; });
      if (it != plan->seqs.end()) {
        plan->n_tokens -= it->n_tokens;
        *budget += it->n_tokens;
        plan->seqs.erase(it);
      }
      Preempt(*requests_.at(victim), plan);
    } else if (i > 0) {
      Preempt(r, plan);  // r is the newest: it yields to the older ones
      return false;
    } else {
      Abort(r.id, plan);  // alone and still too big for the pool: r is gone
      return false;
    }
  }
  const bool samples = r.num_computed_tokens + n == r.num_tokens();
  plan->seqs.push_back({r.id, r.num_computed_tokens, n, samples});
  plan->n_tokens += n;
  *budget -= n;
  return true;
}

void Scheduler::ScheduleWaiting(StepPlan* plan, int64_t* budget) {
  while (!waiting_.empty() && *budget > 0 &&
         static_cast<int64_t>(running_.size()) < config_.max_running) {
    if (!Admit(*requests_.at(waiting_.front()), budget, plan)) break;
  }
}

// Returns false when the head of the queue has to wait (the caller stops admitting).
bool Scheduler::Admit(Request& r, int64_t* budget, StepPlan* plan) {
  const int64_t bt = config_.block_tokens;
  std::vector<kv::BlockId> cached;
  if (hooks_ != nullptr) cached = hooks_->MatchPrefix(r, (r.num_tokens() - 1) / bt);
  const int64_t n_cached = static_cast<int64_t>(cached.size());
  r.blocks = std::move(cached);
  r.num_computed_tokens = n_cached * bt;
  const int64_t n = ChunkFor(r, *budget);
  const bool alone = running_.empty();
  if (!Grow(r, r.num_computed_tokens + n, alone ? 0 : config_.admission_reserve_blocks)) {
    Release(r);  // the cached references taken above
    if (!alone) return false;
    Abort(r.id, plan);
    return true;
  }
  r.num_cached_tokens = n_cached * bt;
  r.num_blocks_reported = n_cached;
  if (!r.ever_admitted()) {
    r.num_cached_tokens_first = r.num_cached_tokens;
    plan->admitted.push_back(r.id);
  }
  r.state = RequestState::kRunning;
  waiting_.pop_front();
  running_.push_back(r.id);
  plan->seqs.push_back({r.id, r.num_computed_tokens, n, r.num_computed_tokens + n == r.num_tokens()});
  plan->n_tokens += n;
  *budget -= n;
  return true;
}

void Scheduler::Update(const StepPlan& plan, const StepResult& result) {
  for (const ScheduledSeq& s : plan.seqs) {
    auto it = requests_.find(s.id);
    if (it == requests_.end()) continue;
    Request& r = *it->second;
    r.num_computed_tokens = s.start_pos + s.n_tokens;
    const int64_t full = r.num_computed_tokens / config_.block_tokens;
    for (int64_t b = r.num_blocks_reported; b < full; ++b) {
      if (hooks_ != nullptr) hooks_->OnBlockFilled(r, b);
    }
    r.num_blocks_reported = std::max(r.num_blocks_reported, full);
  }
  for (const SampledToken& t : result.sampled) {
    auto it = requests_.find(t.id);
    if (it != requests_.end()) it->second->tokens.push_back(t.token);
  }
  for (RequestId id : result.finished) Remove(id);
}

}  // namespace cachet::sched
