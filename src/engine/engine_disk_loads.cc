// The engine's use of the prefix cache's disk tier (ServingEngine, serving_engine.h).
//
// A new request whose prompt continues past the RAM hit with blocks the disk tier holds gets
// destination blocks and an asynchronous load (prefix_cache::PrefixCache::StartLoad) before it
// reaches the scheduler; the engine keeps stepping the other requests meanwhile. When Poll()
// returns the load, the loaded blocks are indexed in RAM, the engine drops its own references
// and hands the prompt to the scheduler, whose admission then finds them like any RAM hit.
// Blocks are never freed while the I/O thread may write them: a request cancelled during its
// load is closed at once, but its Loading record (and its references) lives until Poll returns.
#include <algorithm>

#include "engine/serving_engine.h"

namespace cachet::engine {

bool ServingEngine::TryStartLoad(Active& a, const std::vector<int32_t>& prompt) {
  if (cache_ == nullptr || !cache_->disk_enabled()) return false;
  const int64_t max_blocks = (static_cast<int64_t>(prompt.size()) - 1) / model::kKvBlockTokens;
  if (max_blocks <= 0) return false;
  prefix_cache::LookupResult res = cache_->Lookup(
      std::span<const int32_t>(prompt.data(), max_blocks * model::kKvBlockTokens),
      a.req.cache_salt);
  if (hooks_ != nullptr) hooks_->MarkCounted(a.id);  // admission's lookup will not count again
  auto unref_all = [&](const std::vector<kv::BlockId>& v) {
    for (kv::BlockId b : v) blocks_->Unref(b);
  };
  if (res.disk_blocks() == 0 ||
      !cache_->DecideLoad(res.disk_blocks(), prefill_tokens_per_s_).load) {
    unref_all(res.blocks);
    return false;
  }
  std::vector<kv::BlockId> dest;
  for (int32_t i = 0; i < res.disk_blocks(); ++i) {
    if (blocks_->n_free() == 0 && cache_->Evict(1) == 0) break;
    dest.push_back(blocks_->Allocate());
  }
  Result<prefix_cache::LoadId> id =
      dest.empty() ? Result<prefix_cache::LoadId>(Unavailable("no free block"))
                   : cache_->StartLoad(res, dest);
  if (!id.ok()) {
    unref_all(dest);
    unref_all(res.blocks);
    return false;
  }
  loads_[*id] = Loading{a.id, std::move(res.blocks), std::move(dest)};
  a.loading = true;
  return true;
}

void ServingEngine::PollLoads(bool wait_idle) {
  if (cache_ == nullptr || !cache_->disk_enabled()) return;
  std::vector<prefix_cache::LoadDone> done = wait_idle ? cache_->WaitIdle() : cache_->Poll();
  for (const prefix_cache::LoadDone& d : done) {
    auto it = loads_.find(d.id);
    if (it == loads_.end()) continue;
    Loading l = std::move(it->second);
    loads_.erase(it);
    // The cache indexed (and took its own reference on) every loaded block.
    for (kv::BlockId b : l.dest) blocks_->Unref(b);
    for (kv::BlockId b : l.ram_hits) blocks_->Unref(b);
    auto a = active_.find(l.id);
    if (a == active_.end()) continue;  // finished (cancelled, deadline) during the load
    a->second.loading = false;
    a->second.disk_tokens = int64_t{d.n_loaded} * model::kKvBlockTokens;
    sched_->Add(l.id, std::move(a->second.held_prompt));
  }
}

void ServingEngine::NotePrefillSpeed(int64_t tokens, double seconds) {
  if (tokens < 32 || seconds <= 0) return;
  const double tps = static_cast<double>(tokens) / seconds;
  prefill_tokens_per_s_ =
      prefill_tokens_per_s_ <= 0 ? tps : 0.8 * prefill_tokens_per_s_ + 0.2 * tps;
}

}  // namespace cachet::engine
