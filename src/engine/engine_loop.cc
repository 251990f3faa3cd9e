// The engine thread's step loop (ServingEngine, serving_engine.h).
#include <algorithm>

#include "engine/serving_engine.h"
#include "model/sequence_runner.h"

namespace cachet::engine {

void ServingEngine::Loop() {
  for (;;) {
    std::deque<std::pair<GenerateRequest, std::shared_ptr<RequestChannel>>> incoming;
    bool stopping;
    Clock::time_point grace;
    {
      std::lock_guard<std::mutex> lock(inbox_->mu);
      incoming.swap(inbox_->pending);
      inbox_->wake = false;
      stopping = inbox_->stop;
      grace = inbox_->grace_deadline;
    }
    for (auto& [req, ch] : incoming) Accept(std::move(req), std::move(ch));
    PollLoads(/*wait_idle=*/false);
    const Clock::time_point now = Clock::now();
    ApplyControls(now);
    if (stopping && (active_.empty() || now >= grace)) break;
    sched::StepPlan plan = sched_->Schedule();
    HandlePlan(plan);
    if (plan.empty()) {
      PublishStats();
      WaitForWork(stopping ? grace : Clock::now() + std::chrono::milliseconds(50), stopping);
      continue;
    }
    RunStep(plan);
    PublishStats();
  }
  std::vector<sched::RequestId> ids;
  for (const auto& [id, a] : active_) ids.push_back(id);
  for (sched::RequestId id : ids) {
    Finish(id, FinishReason::kCancelled, Status::Ok(), /*drop_undelivered=*/false);
  }
  PollLoads(/*wait_idle=*/true);
  SpillCache();
  PublishStats();
}

// With a disk tier, every cached block goes to disk at shutdown (Evict spills what it frees), so
// the next process starts warm. The cache's destructor finishes the queued writes.
void ServingEngine::SpillCache() {
  if (cache_ == nullptr || !cache_->disk_enabled()) return;
  cache_->Evict(blocks_->n_blocks());
}

// Sleeps until a submission, a control change, finished disk I/O, a stop request (unless already
// stopping, which would make this spin) or `until`.
void ServingEngine::WaitForWork(Clock::time_point until, bool stopping) {
  std::unique_lock<std::mutex> lock(inbox_->mu);
  inbox_->cv.wait_until(lock, until, [&] {
    return inbox_->wake || (inbox_->stop && !stopping) || !inbox_->pending.empty();
  });
}

void ServingEngine::Accept(GenerateRequest req, std::shared_ptr<RequestChannel> ch) {
  const sched::RequestId id = next_id_++;
  Active& a = active_[id];
  a.id = id;
  a.ch = std::move(ch);
  a.prompt_tokens = static_cast<int64_t>(req.prompt.size());
  a.usage.prompt_tokens = a.prompt_tokens;
  const uint64_t seed = req.sampling.has_seed ? req.sampling.seed : NextSeed();
  a.picker = std::make_unique<TokenPicker>(req.sampling, seed, req.constraint, info_.n_vocab);
  if (hooks_ != nullptr) hooks_->Track(id, req.cache_salt);
  std::vector<int32_t> prompt = std::move(req.prompt);
  a.req = std::move(req);
  a.req.prompt.clear();
  if (TryStartLoad(a, prompt)) {
    a.held_prompt = std::move(prompt);
  } else {
    sched_->Add(id, std::move(prompt));
  }
}

void ServingEngine::ApplyControls(Clock::time_point now) {
  std::vector<Finishing> done;
  for (const auto& [id, a] : active_) {
    switch (a.ch->control()) {
      case Control::kCancel:
      case Control::kDropped:
        done.push_back({id, FinishReason::kCancelled, Status::Ok()});
        continue;
      case Control::kFinish:
        done.push_back({id, FinishReason::kStop, Status::Ok()});
        continue;
      case Control::kNone:
        break;
    }
    if (!a.admitted && now > a.req.queue_deadline) {
      done.push_back({id, FinishReason::kError,
                      DeadlineExceeded("request " + a.req.request_id +
                                       " waited in the queue past its deadline")});
    }
  }
  for (auto& f : done) {
    const bool by_finish = active_.at(f.id).ch->control() == Control::kFinish;
    Finish(f.id, f.reason, std::move(f.error), by_finish);
  }
}

void ServingEngine::HandlePlan(const sched::StepPlan& plan) {
  stat_preemptions_.fetch_add(static_cast<int64_t>(plan.preempted.size()));
  for (sched::RequestId id : plan.admitted) {
    Active& a = active_.at(id);
    a.admitted = true;
    queued_.fetch_sub(1);
    const int64_t cached = sched_->Find(id)->num_cached_tokens_first;
    a.usage.prompt_cached_tokens = cached;
    const int64_t disk = std::min(cached, a.disk_tokens);
    stat_hit_disk_.fetch_add(disk);
    stat_hit_ram_.fetch_add(cached - disk);
    stat_miss_.fetch_add(a.prompt_tokens - cached);
  }
  for (sched::RequestId id : plan.aborted) {
    const bool any = !active_.at(id).generated.empty();
    // A prompt larger than the whole pool is an error; a generation that outgrew it stops there.
    Finish(id, any ? FinishReason::kLength : FinishReason::kError,
           any ? Status::Ok()
               : ResourceExhausted("the request needs more KV memory than the engine has"),
           false);
  }
}

void ServingEngine::RunStep(const sched::StepPlan& plan) {
  const int64_t n_layer = model_->kv_layout().n_layer;
  const size_t n = plan.seqs.size();
  batch_.resize(n);
  if (k_ptrs_.size() < n) {
    k_ptrs_.resize(n);
    v_ptrs_.resize(n);
  }
  std::vector<sched::RequestId> no_state;
  for (size_t i = 0; i < n; ++i) {
    const sched::ScheduledSeq& s = plan.seqs[i];
    const sched::Request* r = sched_->Find(s.id);
    model::SequenceState* state = nullptr;
    if (stateful_) {
      Active& a = active_.at(s.id);
      if (s.start_pos == 0 || a.state == nullptr) {  // new, or recomputed after preemption
        auto st = model::NewPagedSequenceState(*model_);
        if (st.ok()) {
          a.state = std::move(st).value();
        } else {
          a.state.reset();
          no_state.push_back(s.id);
        }
      }
      state = a.state.get();
    }
    const int64_t nb = static_cast<int64_t>(r->blocks.size());
    k_ptrs_[i].resize(n_layer * nb);
    v_ptrs_[i].resize(n_layer * nb);
    for (int64_t l = 0; l < n_layer; ++l) {
      for (int64_t b = 0; b < nb; ++b) {
        k_ptrs_[i][l * nb + b] = storage_->K(r->blocks[b], l);
        v_ptrs_[i][l * nb + b] = storage_->V(r->blocks[b], l);
      }
    }
    batch_[i] = model::SeqBatch{.tokens = r->tokens.data() + s.start_pos,
                                .n_tokens = s.n_tokens,
                                .start_pos = s.start_pos,
                                .k_blocks = k_ptrs_[i].data(),
                                .v_blocks = v_ptrs_[i].data(),
                                .n_blocks = nb,
                                .all_logits = false,
                                .state = state};
  }
  if (!no_state.empty()) {  // out of memory for a sequence's state: fail the step's requests
    for (const auto& s : plan.seqs) {
      Finish(s.id, FinishReason::kError,
             ResourceExhausted("no memory for a sequence's state"), false);
    }
    return;
  }
  const Clock::time_point t0 = Clock::now();
  Result<const float*> logits = model_->Forward(batch_, pool_.get());
  NotePrefillSpeed(plan.n_tokens, std::chrono::duration<double>(Clock::now() - t0).count());
  if (!logits.ok()) {
    for (const auto& s : plan.seqs) {
      Finish(s.id, FinishReason::kError, Internal(logits.status().ToString()), false);
    }
    return;
  }
  sched::StepResult result;
  std::vector<Finishing> finishing;
  const Clock::time_point now = Clock::now();
  for (size_t i = 0; i < n; ++i) {
    if (!plan.seqs[i].samples) continue;
    PickToken(active_.at(plan.seqs[i].id), *logits + i * info_.n_vocab, now, &result, &finishing);
  }
  sched_->Update(plan, result);
  for (auto& f : finishing) Finish(f.id, f.reason, std::move(f.error), false);
}

void ServingEngine::PickToken(Active& a, const float* logits, Clock::time_point now,
                              sched::StepResult* result, std::vector<Finishing>* finishing) {
  GeneratedToken t;
  auto finish = [&](FinishReason reason) {
    result->finished.push_back(a.id);
    finishing->push_back({a.id, reason, Status::Ok()});
  };
  if (!a.picker->Pick(logits, a.generated, &t)) return finish(FinishReason::kStop);
  ++a.usage.completion_tokens;  // stop ids count: the model generated them
  const auto& stops = a.req.stop_ids;
  if (std::find(stops.begin(), stops.end(), t.id) != stops.end()) {
    return finish(FinishReason::kStop);
  }
  a.generated.push_back(t.id);
  if (a.first_token_time == Clock::time_point{}) a.first_token_time = now;
  std::vector<GeneratedToken> toks;
  toks.push_back(std::move(t));
  a.ch->Push(std::move(toks), a.usage, a.first_token_time);
  const int64_t n_generated = static_cast<int64_t>(a.generated.size());
  if (a.picker->constraint_done()) return finish(FinishReason::kStop);
  if (a.usage.completion_tokens >= a.req.max_tokens) return finish(FinishReason::kLength);
  if (a.prompt_tokens + n_generated >= info_.n_ctx) return finish(FinishReason::kLength);
  result->sampled.push_back({a.id, a.generated.back()});
}

void ServingEngine::Finish(sched::RequestId id, FinishReason reason, Status error,
                           bool drop_undelivered) {
  auto it = active_.find(id);
  if (it == active_.end()) return;
  Active& a = it->second;
  sched_->Remove(id);
  if (hooks_ != nullptr) hooks_->Forget(id);
  if (!a.admitted) queued_.fetch_sub(1);
  a.ch->Close(reason, a.usage, std::move(error), drop_undelivered);
  active_.erase(it);
}

void ServingEngine::PublishStats() {
  stat_running_.store(sched_->n_running());
  stat_blocks_used_.store(blocks_->n_used());
  if (cache_ == nullptr) return;
  const prefix_cache::PrefixCacheStats& cs = cache_->stats();
  stat_cache_ram_.store(cache_->n_ram_blocks());
  stat_cache_disk_.store(cache_->n_disk_blocks());
  stat_evictions_.store(cs.ram_evictions);
  stat_disk_read_.store(cs.disk_bytes_read);
  stat_disk_written_.store(cs.disk_bytes_written);
}

}  // namespace cachet::engine
