// PrefixCacheHooks: the scheduler's KvCacheHooks over prefix_cache::PrefixCache.
//
// MatchPrefix is a RAM Lookup of the request's first max_blocks blocks under its salt (the hit
// blocks come Ref'd for the sequence); OnBlockFilled inserts the block after the request's chain
// position, which each Lookup/Insert advances; Evict is the cache's leaf-first LRU eviction.
// Only RAM is consulted here: disk-tier blocks are loaded before a request reaches the
// scheduler (engine_disk_loads.cc), so at admission they are RAM hits like any other.
//
// Thread-safety: none; the engine thread only (as the cache itself).
#pragma once

#include <string>
#include <unordered_map>

#include "prefix_cache/prefix_cache.h"
#include "sched/scheduler.h"

namespace cachet::engine {

class PrefixCacheHooks final : public sched::KvCacheHooks {
 public:
  explicit PrefixCacheHooks(prefix_cache::PrefixCache* cache) : cache_(cache) {}

  // Registers a request's tenant salt before it is scheduled; Forget when it is done.
  void Track(sched::RequestId id, std::string salt);
  void Forget(sched::RequestId id) { chains_.erase(id); }
  // The request's prompt was already looked up with stats counted (before a disk load): later
  // lookups of it leave the cache's hit/miss counters alone, so each request counts once.
  void MarkCounted(sched::RequestId id) {
    if (auto it = chains_.find(id); it != chains_.end()) it->second.counted = true;
  }

  std::vector<kv::BlockId> MatchPrefix(const sched::Request& r, int64_t max_blocks) override;
  int64_t Evict(int64_t n) override;
  void OnBlockFilled(const sched::Request& r, int64_t index) override;

 private:
  struct Chain {
    std::string salt;
    prefix_cache::ChainPos pos;  // after the request's last matched or inserted block
    bool counted = false;        // a lookup of this request has updated the cache's stats
  };
  prefix_cache::PrefixCache* cache_;
  std::unordered_map<sched::RequestId, Chain> chains_;
};

}  // namespace cachet::engine
