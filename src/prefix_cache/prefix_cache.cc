#include "prefix_cache/prefix_cache.h"

#include <algorithm>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "prefix_cache/disk_tier.h"

namespace cachet::prefix_cache {
namespace {

using Tokens = std::array<TokenId, kBlockTokens>;

bool SameTokens(const Tokens& a, std::span<const TokenId> b) {
  return b.size() == a.size() && std::equal(a.begin(), a.end(), b.begin());
}

Tokens ToArray(std::span<const TokenId> t) {
  Tokens a{};
  std::copy(t.begin(), t.end(), a.begin());
  return a;
}

}  // namespace

LoadDecision DecideLoad(int64_t n_blocks, int64_t block_bytes, double disk_bytes_per_s,
                        double prefill_tokens_per_s) {
  LoadDecision d;
  const double n = static_cast<double>(n_blocks);
  const double bw = disk_bytes_per_s > 0 ? disk_bytes_per_s : 1.0;
  d.load_s = n * (static_cast<double>(block_bytes) / bw + kPerFileSeconds);
  if (prefill_tokens_per_s <= 0) {
    d.recompute_s = 0;
    d.load = n_blocks > 0;
    return d;
  }
  d.recompute_s = n * kBlockTokens / prefill_tokens_per_s;
  d.load = n_blocks > 0 && d.load_s < d.recompute_s;
  return d;
}

class PrefixCache::Impl {
 public:
  struct Entry {
    uint64_t uid = 0;
    BlockHash parent_hash;
    uint64_t parent_uid = 0;  // 0: a chain's first block
    Digest256 salt_fp{};
    Tokens tokens{};
    kv::BlockId block = kv::kNoBlock;
    int32_t n_children = 0;  // children indexed in RAM
    int32_t n_blocks = 0;    // position in the chain (1 for the first block)
    uint64_t last_use = 0;
  };
  struct PendingLoad {
    ChainPos start;
    std::vector<kv::BlockId> dest;
    std::vector<Tokens> tokens;
  };

  Impl(const Options& o, kv::BlockPool* pool, kv::KvStorage* storage)
      : opts_(o),
        pool_(pool),
        storage_(storage),
        next_(o.chain_next != nullptr ? o.chain_next : &ChainNext),
        indexed_(static_cast<size_t>(pool->n_blocks()), false) {
    stats_.disk_read_bytes_per_s = o.disk_read_bytes_per_s_prior;
  }

  ChainPos Root(std::string_view salt) const {
    ChainPos p;
    p.hash = ChainRoot(opts_.model_fingerprint, salt);
    p.salt_fp = SaltFingerprint(salt);
    return p;
  }

  LookupResult Lookup(std::span<const TokenId> tokens, std::string_view salt, bool count_stats);
  Result<InsertResult> Insert(const ChainPos& parent, std::span<const TokenId> block_tokens,
                              kv::BlockId b);
  int32_t Evict(int32_t n);
  void Clear();
  Result<LoadId> StartLoad(const LookupResult& r, std::span<const kv::BlockId> dest);
  std::vector<LoadDone> Poll();

  void Touch(const BlockHash& h, Entry& e) {
    if (e.n_children == 0) leaves_.erase(e.last_use);
    e.last_use = ++tick_;
    if (e.n_children == 0) leaves_.emplace(e.last_use, h);
  }
  // The live entry a ChainPos points at (nullptr when evicted, or at the root).
  Entry* Resolve(const ChainPos& p) {
    if (p.uid == 0 || p.uid == kDeadUid) return nullptr;
    auto it = ram_.find(p.hash);
    return it != ram_.end() && it->second.uid == p.uid ? &it->second : nullptr;
  }
  void Spill(const BlockHash& h, const Entry& e) {
    if (!disk_ || opts_.write_policy == WritePolicy::kNever) return;
    DiskTier::BlockMeta m{h, e.parent_hash, e.salt_fp, e.tokens};
    disk_->Write(m, storage_->Block(e.block));
  }
  void RemoveEntry(std::unordered_map<BlockHash, Entry, BlockHashHasher>::iterator it);
  void SyncStats() {
    if (disk_) stats_.disk_read_bytes_per_s = disk_->read_bytes_per_s();
  }

  Options opts_;
  kv::BlockPool* pool_;
  kv::KvStorage* storage_;
  ChainNextFn next_;
  std::vector<bool> indexed_;  // by block id: the block is some entry's (one name per block)
  std::unordered_map<BlockHash, Entry, BlockHashHasher> ram_;
  std::map<uint64_t, BlockHash> leaves_;  // last_use -> name, entries with n_children == 0
  uint64_t tick_ = 0;
  uint64_t next_uid_ = 1;
  PrefixCacheStats stats_;  // before disk_, which points at it
  std::unique_ptr<DiskTier> disk_;
  std::unordered_map<LoadId, PendingLoad> loads_;
};

LookupResult PrefixCache::Impl::Lookup(std::span<const TokenId> tokens, std::string_view salt,
                                       bool count_stats) {
  LookupResult r;
  r.pos = Root(salt);
  const size_t n_full = tokens.size() / kBlockTokens;
  size_t i = 0;
  BlockHash h;
  bool have_h = false;  // h is block i's name (computed by the RAM walk that stopped there)
  for (; i < n_full; ++i) {
    const auto blk = tokens.subspan(i * kBlockTokens, kBlockTokens);
    h = next_(r.pos.hash, blk);
    have_h = true;
    auto it = ram_.find(h);
    if (it == ram_.end()) break;
    Entry& e = it->second;
    // Confirmation: the name alone proves nothing (a collision, or another salt).
    if (e.parent_uid != r.pos.uid || e.parent_hash != r.pos.hash || e.salt_fp != r.pos.salt_fp ||
        !SameTokens(e.tokens, blk)) {
      break;
    }
    Touch(h, e);
    pool_->Ref(e.block);
    r.blocks.push_back(e.block);
    r.pos = ChainPos{h, e.uid, r.pos.salt_fp, e.n_blocks};
    have_h = false;
  }
  r.tokens_hit = static_cast<int64_t>(r.blocks.size()) * kBlockTokens;
  if (disk_) {
    BlockHash prev = r.pos.hash;
    for (; i < n_full; ++i) {
      const auto blk = tokens.subspan(i * kBlockTokens, kBlockTokens);
      if (!have_h) h = next_(prev, blk);
      have_h = false;
      const DiskTier::Entry* d = disk_->Find(h);
      if (d == nullptr || d->parent != prev || d->salt_fp != r.pos.salt_fp ||
          !SameTokens(d->tokens, blk)) {
        break;
      }
      disk_->Touch(h);
      r.disk_hashes.push_back(h);
      prev = h;
    }
  }
  if (!count_stats) return r;
  ++stats_.lookups;
  const int64_t n_ram = static_cast<int64_t>(r.blocks.size());
  const int64_t n_disk = r.disk_blocks();
  stats_.ram_hit_blocks += n_ram;
  stats_.disk_hit_blocks += n_disk;
  stats_.miss_blocks += static_cast<int64_t>(n_full) - n_ram - n_disk;
  stats_.ram_hit_tokens = stats_.ram_hit_blocks * kBlockTokens;
  stats_.disk_hit_tokens = stats_.disk_hit_blocks * kBlockTokens;
  stats_.miss_tokens = stats_.miss_blocks * kBlockTokens;
  return r;
}

Result<InsertResult> PrefixCache::Impl::Insert(const ChainPos& parent,
                                               std::span<const TokenId> block_tokens,
                                               kv::BlockId b) {
  if (block_tokens.size() != static_cast<size_t>(kBlockTokens)) {
    return InvalidArgument("prefix cache insert: " + std::to_string(block_tokens.size()) +
                           " tokens, want " + std::to_string(kBlockTokens));
  }
  if (b < 0 || b >= pool_->n_blocks() || pool_->RefCount(b) <= 0) {
    return InvalidArgument("prefix cache insert: block " + std::to_string(b) + " not in use");
  }
  InsertResult res;
  const BlockHash h = next_(parent.hash, block_tokens);
  res.pos = ChainPos{h, kDeadUid, parent.salt_fp, parent.n_blocks + 1};
  Entry* p = Resolve(parent);
  if (parent.uid != 0 && p == nullptr) {  // parent evicted (or never indexed): refuse the chain
    ++stats_.insert_parent_missing;
    return res;
  }
  auto it = ram_.find(h);
  if (it != ram_.end()) {
    Entry& e = it->second;
    if (e.parent_uid == parent.uid && e.parent_hash == parent.hash && e.salt_fp == parent.salt_fp &&
        SameTokens(e.tokens, block_tokens)) {
      ++stats_.insert_duplicates;
      Touch(h, e);
      res.pos.uid = e.uid;
      res.cached = e.block;
    } else {
      ++stats_.insert_collisions;
    }
    return res;
  }
  if (indexed_[static_cast<size_t>(b)]) {
    return InvalidArgument("prefix cache insert: block " + std::to_string(b) +
                           " is already cached under another name");
  }
  indexed_[static_cast<size_t>(b)] = true;
  Entry e;
  e.uid = next_uid_++;
  e.parent_hash = parent.hash;
  e.parent_uid = parent.uid;
  e.salt_fp = parent.salt_fp;
  e.tokens = ToArray(block_tokens);
  e.block = b;
  e.n_blocks = parent.n_blocks + 1;
  if (p != nullptr && p->n_children++ == 0) leaves_.erase(p->last_use);
  pool_->Ref(b);
  Entry& stored = ram_.emplace(h, e).first->second;
  stored.last_use = ++tick_;
  leaves_.emplace(stored.last_use, h);
  ++stats_.inserted_blocks;
  res.pos.uid = stored.uid;
  res.inserted = true;
  res.cached = b;
  if (disk_ && opts_.write_policy == WritePolicy::kWriteThrough) Spill(h, stored);
  return res;
}

void PrefixCache::Impl::RemoveEntry(
    std::unordered_map<BlockHash, Entry, BlockHashHasher>::iterator it) {
  Entry& e = it->second;
  if (e.n_children == 0) leaves_.erase(e.last_use);
  if (e.parent_uid != 0) {
    auto pit = ram_.find(e.parent_hash);
    if (pit != ram_.end() && pit->second.uid == e.parent_uid && --pit->second.n_children == 0) {
      leaves_.emplace(pit->second.last_use, pit->first);
    }
  }
  indexed_[static_cast<size_t>(e.block)] = false;
  pool_->Unref(e.block);
  ram_.erase(it);
}

// Leaf-first LRU (see the header): walk leaves oldest first, skipping blocks a sequence still
// holds. Evicting a leaf can make its parent a leaf with an older last_use than the walk's
// position; the walk then steps back to it, so the order stays least-recently-used first.
int32_t PrefixCache::Impl::Evict(int32_t n) {
  int32_t freed = 0;
  auto it = leaves_.begin();
  while (freed < n && it != leaves_.end()) {
    const BlockHash h = it->second;
    auto eit = ram_.find(h);
    if (pool_->RefCount(eit->second.block) != 1) {
      ++it;
      continue;
    }
    const uint64_t parent_uid = eit->second.parent_uid;
    const BlockHash parent_hash = eit->second.parent_hash;
    Spill(h, eit->second);
    const uint64_t key = it->first;
    RemoveEntry(eit);  // erases `it` from leaves_, may add the parent
    ++freed;
    ++stats_.ram_evictions;
    it = leaves_.upper_bound(key);
    if (parent_uid != 0) {
      auto pit = ram_.find(parent_hash);
      if (pit != ram_.end() && pit->second.n_children == 0 && pit->second.last_use < key) {
        it = leaves_.find(pit->second.last_use);
      }
    }
  }
  return freed;
}

void PrefixCache::Impl::Clear() {
  for (auto& [h, e] : ram_) pool_->Unref(e.block);
  ram_.clear();
  std::fill(indexed_.begin(), indexed_.end(), false);
  leaves_.clear();
}

Result<LoadId> PrefixCache::Impl::StartLoad(const LookupResult& r,
                                            std::span<const kv::BlockId> dest) {
  if (!disk_) return Unsupported("prefix cache: no disk tier");
  if (dest.empty() || dest.size() > r.disk_hashes.size()) {
    return InvalidArgument("prefix cache load: " + std::to_string(dest.size()) +
                           " destination blocks for " + std::to_string(r.disk_hashes.size()) +
                           " disk blocks");
  }
  std::unordered_set<kv::BlockId> seen;
  for (kv::BlockId b : dest) {
    if (b < 0 || b >= pool_->n_blocks() || pool_->RefCount(b) <= 0 || !seen.insert(b).second) {
      return InvalidArgument("prefix cache load: destination block " + std::to_string(b) +
                             " unused or repeated");
    }
  }
  PendingLoad pl;
  pl.start = r.pos;
  std::vector<DiskLoadItem> items;
  BlockHash prev = r.pos.hash;
  for (size_t j = 0; j < dest.size(); ++j) {
    const DiskTier::Entry* d = disk_->Find(r.disk_hashes[j]);
    if (d == nullptr || d->parent != prev) break;  // removed since Lookup: load what is left
    DiskLoadItem item;
    item.hash = r.disk_hashes[j];
    item.parent = prev;
    item.salt_fp = r.pos.salt_fp;
    item.tokens = d->tokens;
    item.dest = storage_->Block(dest[j]);
    items.push_back(item);
    pl.tokens.push_back(d->tokens);
    prev = item.hash;
  }
  pl.dest.assign(dest.begin(), dest.end());
  const LoadId id = disk_->StartLoad(std::move(items));
  loads_.emplace(id, std::move(pl));
  return id;
}

std::vector<LoadDone> PrefixCache::Impl::Poll() {
  std::vector<LoadDone> out;
  if (!disk_) return out;
  for (const DiskLoadDone& d : disk_->Poll()) {
    auto it = loads_.find(d.id);
    if (it == loads_.end()) continue;
    PendingLoad pl = std::move(it->second);
    loads_.erase(it);
    LoadDone done;
    done.id = d.id;
    done.n_requested = static_cast<int32_t>(pl.dest.size());
    done.n_loaded = d.n_ok;
    done.status = d.n_ok == done.n_requested ? Status::Ok() : d.status;
    if (done.status.ok() && d.n_ok < done.n_requested) {
      done.status = NotFound("disk block removed before the load started");
    }
    ChainPos pos = pl.start;
    for (int32_t k = 0; k < d.n_ok; ++k) {
      auto ins = Insert(pos, pl.tokens[k], pl.dest[k]);
      pos = ins.ok() ? ins->pos : ChainPos{};
    }
    done.pos = pos;
    stats_.disk_loaded_blocks += d.n_ok;
    stats_.disk_loaded_tokens = stats_.disk_loaded_blocks * kBlockTokens;
    stats_.disk_load_failed_blocks += done.n_requested - d.n_ok;
    out.push_back(std::move(done));
  }
  SyncStats();
  return out;
}

// ---- PrefixCache: thin forwarding to Impl ----

Result<std::unique_ptr<PrefixCache>> PrefixCache::Open(const Options& options, kv::BlockPool* pool,
                                                       kv::KvStorage* storage) {
  if (options.model_fingerprint.empty()) {
    return InvalidArgument("prefix cache: empty model fingerprint");
  }
  if (pool == nullptr || storage == nullptr || pool->n_blocks() != storage->n_blocks()) {
    return InvalidArgument("prefix cache: block pool and KV storage sizes differ");
  }
  if (options.disk_cap_bytes < 0 || options.max_pending_write_bytes < 0) {
    return InvalidArgument("prefix cache: negative disk limits");
  }
  auto impl = std::make_unique<Impl>(options, pool, storage);
  if (!options.disk_dir.empty()) {
    DiskTier::Config c;
    c.env = options.env != nullptr ? options.env : Env::Default();
    c.dir = options.disk_dir;
    c.model_fp = ModelFingerprintDigest(options.model_fingerprint);
    c.geometry = storage->geometry();
    c.cap_bytes = options.disk_cap_bytes;
    c.max_pending_write_bytes = options.max_pending_write_bytes;
    c.sync_writes = options.sync_writes;
    c.read_bytes_per_s_prior = options.disk_read_bytes_per_s_prior;
    c.notify = options.notify_io_done;
    c.chain_next = options.chain_next;
    CACHET_ASSIGN_OR_RETURN(impl->disk_, DiskTier::Open(c, &impl->stats_));
    impl->SyncStats();
  }
  return std::unique_ptr<PrefixCache>(new PrefixCache(std::move(impl)));
}

PrefixCache::PrefixCache(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PrefixCache::~PrefixCache() = default;

ChainPos PrefixCache::Root(std::string_view salt) const { return impl_->Root(salt); }

LookupResult PrefixCache::Lookup(std::span<const TokenId> tokens, std::string_view salt,
                                 bool count_stats) {
  return impl_->Lookup(tokens, salt, count_stats);
}

Result<InsertResult> PrefixCache::Insert(const ChainPos& parent,
                                         std::span<const TokenId> block_tokens, kv::BlockId b) {
  return impl_->Insert(parent, block_tokens, b);
}

Result<ChainPos> PrefixCache::InsertBlocks(std::string_view salt, std::span<const TokenId> tokens,
                                           std::span<const kv::BlockId> blocks) {
  ChainPos pos = Root(salt);
  const size_t n = std::min(blocks.size(), tokens.size() / kBlockTokens);
  for (size_t i = 0; i < n; ++i) {
    CACHET_ASSIGN_OR_RETURN(InsertResult r,
                            Insert(pos, tokens.subspan(i * kBlockTokens, kBlockTokens), blocks[i]));
    pos = r.pos;
  }
  return pos;
}

int32_t PrefixCache::Evict(int32_t n) { return impl_->Evict(n); }
void PrefixCache::Clear() { impl_->Clear(); }

LoadDecision PrefixCache::DecideLoad(int64_t n_blocks, double prefill_tokens_per_s) const {
  const double bw =
      impl_->disk_ ? impl_->disk_->read_bytes_per_s() : impl_->opts_.disk_read_bytes_per_s_prior;
  return prefix_cache::DecideLoad(n_blocks, impl_->storage_->geometry().block_bytes(), bw,
                                  prefill_tokens_per_s);
}

Result<LoadId> PrefixCache::StartLoad(const LookupResult& r, std::span<const kv::BlockId> dest) {
  return impl_->StartLoad(r, dest);
}

std::vector<LoadDone> PrefixCache::Poll() { return impl_->Poll(); }

std::vector<LoadDone> PrefixCache::WaitIdle() {
  if (!impl_->disk_) return {};
  impl_->disk_->WaitIdle();
  std::vector<LoadDone> out = impl_->Poll();
  impl_->disk_->WaitIdle();  // file removals the Poll queued for the cap
  return out;
}

std::vector<IndexEntry> PrefixCache::ExportIndex() const {
  std::vector<IndexEntry> out;
  for (const auto& [h, e] : impl_->ram_) out.push_back(IndexEntry{h, e.parent_hash, Tier::kRam});
  if (impl_->disk_) impl_->disk_->ExportTo(&out);
  return out;
}

const PrefixCacheStats& PrefixCache::stats() const { return impl_->stats_; }
int32_t PrefixCache::n_ram_blocks() const { return static_cast<int32_t>(impl_->ram_.size()); }
int32_t PrefixCache::n_disk_blocks() const { return impl_->disk_ ? impl_->disk_->n_blocks() : 0; }
int64_t PrefixCache::disk_bytes() const { return impl_->disk_ ? impl_->disk_->bytes() : 0; }
bool PrefixCache::disk_enabled() const { return impl_->disk_ != nullptr; }

}  // namespace cachet::prefix_cache
