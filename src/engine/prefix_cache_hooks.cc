#include "engine/prefix_cache_hooks.h"

#include <algorithm>

namespace cachet::engine {

void PrefixCacheHooks::Track(sched::RequestId id, std::string salt) {
  Chain& c = chains_[id];
  c.pos = cache_->Root(salt);
  c.salt = std::move(salt);
}

std::vector<kv::BlockId> PrefixCacheHooks::MatchPrefix(const sched::Request& r,
                                                       int64_t max_blocks) {
  auto it = chains_.find(r.id);
  if (it == chains_.end()) return {};
  Chain& c = it->second;
  const int64_t n = std::min<int64_t>(max_blocks * prefix_cache::kBlockTokens, r.num_tokens());
  if (n <= 0) {
    c.pos = cache_->Root(c.salt);
    return {};
  }
  prefix_cache::LookupResult res = cache_->Lookup(
      std::span<const int32_t>(r.tokens.data(), static_cast<size_t>(n)), c.salt, !c.counted);
  c.counted = true;
  c.pos = res.pos;
  return std::move(res.blocks);
}

int64_t PrefixCacheHooks::Evict(int64_t n) {
  return cache_->Evict(static_cast<int32_t>(std::min<int64_t>(n, INT32_MAX)));
}

void PrefixCacheHooks::OnBlockFilled(const sched::Request& r, int64_t index) {
  auto it = chains_.find(r.id);
  if (it == chains_.end()) return;
  Chain& c = it->second;
  // Blocks arrive in order from the position the last MatchPrefix left; anything else (a chain
  // the cache refused earlier) is simply not cached.
  if (c.pos.n_blocks != index || c.pos.uid == prefix_cache::kDeadUid) return;
  const auto begin = r.tokens.begin() + index * prefix_cache::kBlockTokens;
  std::span<const int32_t> block(&*begin, prefix_cache::kBlockTokens);
  auto res = cache_->Insert(c.pos, block, r.blocks[index]);
  if (res.ok()) c.pos = res->pos;
}

}  // namespace cachet::engine
