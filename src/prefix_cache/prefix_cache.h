// PrefixCache: automatic reuse of KV blocks across requests whose prompts share a prefix, in RAM
// (blocks of the paged KV pool) and on disk (one file per block, docs/formats/kv-disk-tier.md).
//
// Model. A prompt's full 64-token blocks form a chain named by chained hashes (block_hash.h). The
// cache indexes blocks by name and stores each block's token ids, parent link and salt
// fingerprint; a hit is confirmed against all three, never on the name alone. Lookup walks the
// chain from the start, so a hit is always a prefix of whole blocks.
//
// Ownership. The cache holds exactly one BlockPool reference per block it indexes in RAM. Lookup
// adds one reference per hit block for the caller (the caller Unrefs when its sequence is done).
// Insert takes the cache's own reference on a block the engine filled.
//
// Eviction rule (RAM). A block is evictable when only the cache holds it (RefCount == 1) and it
// has no child block in the RAM index (it is a leaf of the RAM prefix tree). Evict(n) frees up to
// n evictable blocks, least recently used first, re-examining a parent as soon as its last child
// goes. So children always go before their parents, the RAM index is prefix-closed (no orphan is
// ever kept in RAM), and every RAM block is reachable by Lookup. "Used" means hit by Lookup,
// inserted, or re-inserted. With the disk tier on (and the policy spilling on eviction), an
// evicted block is copied into an in-memory write buffer on the calling (engine) thread and
// written to disk by the I/O thread; its pool reference is dropped at once (Evict waits only when
// max_pending_write_bytes of writes are already queued).
//
// Disk tier. Files live in Options::disk_dir (chosen by the operator, never from client input),
// bounded by disk_cap_bytes: files are removed leaf-first like RAM blocks (a file another file
// names as its parent stays), least recently used first, so chains shrink from their end. On Open
// the directory is scanned (headers only, validated) so a restarted engine still hits. Lookup
// reports how many blocks after the RAM hit are on disk; the engine decides load vs recompute
// (DecideLoad), and if loading, allocates destination blocks and calls StartLoad. Loads run on the
// cache's I/O thread and overlap the engine's work; Poll() returns finished loads, and the loaded
// blocks are then indexed in RAM. Every load re-validates the file (format, model, geometry, salt,
// name, parent, token ids, checksums); a bad file is deleted, counted and never served.
//
// Thread-safety. All methods are for the engine thread only (the index is unsynchronised). The
// cache owns one I/O thread that touches only its own queues (mutex-guarded), files in disk_dir,
// and — during a load — the destination blocks' bytes in KvStorage, which the engine hands over in
// StartLoad and must neither read, write, nor free until Poll() has returned that load.
// Options::notify_io_done runs on the I/O thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "kv/block_pool.h"
#include "kv/kv_storage.h"
#include "prefix_cache/block_hash.h"

namespace cachet::prefix_cache {

enum class WritePolicy {
  kNever,         // disk tier read-only: existing files are served, nothing new is written
  kOnEvict,       // default: a block is written when evicted from RAM
  kWriteThrough,  // also written when inserted (newly computed); eviction then writes nothing
};

struct Options {
  // Names the model weights, KV dtype and layout; blocks of another fingerprint never match.
  std::string model_fingerprint;
  // Disk tier: off when disk_dir is empty. One directory per engine (not shared between
  // processes); it is created if missing.
  std::string disk_dir;
  int64_t disk_cap_bytes = int64_t{16} << 30;
  WritePolicy write_policy = WritePolicy::kOnEvict;
  // Bytes of blocks waiting for the I/O thread to write them. Beyond this, Evict waits for the
  // I/O thread (backpressure when evictions outpace the disk) rather than lose blocks.
  int64_t max_pending_write_bytes = int64_t{256} << 20;
  // fdatasync each file before renaming it into place. Off: a cache may lose recent files in a
  // crash, and a torn file fails its checksum and is deleted at load.
  bool sync_writes = false;
  // Disk read bandwidth assumed before the first measured load (bytes/s).
  double disk_read_bytes_per_s_prior = 1.0e9;
  Env* env = nullptr;  // nullptr: Env::Default()
  // Called on the I/O thread after each finished load or write, e.g. to wake the engine loop.
  // Must be cheap and thread-safe, and stay callable until the cache is destroyed (the
  // destructor finishes queued writes). May be empty.
  std::function<void()> notify_io_done;
  // Test hook: the chain step (nullptr: SHA-256, ChainNext).
  ChainNextFn chain_next = nullptr;
};

// A position in a chain: after some block (or at the root, before any). Returned by Root,
// Lookup, Insert and loads; passed to Insert as the parent of the next block.
struct ChainPos {
  BlockHash hash;    // h of the last block (h_{-1} at the root)
  uint64_t uid = 0;  // RAM index entry of that block; 0 at the root; kDeadUid when not indexed
  Digest256 salt_fp{};
  int32_t n_blocks = 0;  // blocks from the start of the chain up to and including this one
};
constexpr uint64_t kDeadUid = ~uint64_t{0};

struct LookupResult {
  std::vector<kv::BlockId> blocks;  // RAM hits, in prompt order, each Ref'd for the caller
  int64_t tokens_hit = 0;           // kBlockTokens * blocks.size()
  ChainPos pos;                     // after the last RAM hit
  // Full blocks right after the RAM hit that the disk tier has (confirmed by the index's copy of
  // their token ids); their names, in order. Empty when the disk tier is off.
  std::vector<BlockHash> disk_hashes;
  int32_t disk_blocks() const { return static_cast<int32_t>(disk_hashes.size()); }
};

struct InsertResult {
  ChainPos pos;           // the block's position: pass it as `parent` for the next block
  bool inserted = false;  // false: the name was present, or the parent is not indexed, or a
                          // collision (the existing block is kept)
  kv::BlockId cached = kv::kNoBlock;  // the block the index holds under this name, if any
};

using LoadId = uint64_t;

struct LoadDone {
  LoadId id = 0;
  int32_t n_requested = 0;
  // dest[0, n_loaded) hold valid KV and are now indexed in RAM (unless the StartLoad position
  // was dropped meanwhile, which only Clear() can do while the caller holds r.blocks).
  int32_t n_loaded = 0;
  ChainPos pos;   // after the last loaded block (the StartLoad position if none)
  Status status;  // OK when all requested blocks loaded; else why the first one failed
};

// Load-vs-recompute rule (pure): expected seconds of each, and the choice.
//   load_s      = n_blocks * (block_bytes / disk_bytes_per_s + kPerFileSeconds)
//   recompute_s = n_blocks * kBlockTokens / prefill_tokens_per_s
//   load        = load_s < recompute_s   (always true when prefill_tokens_per_s <= 0: unknown)
struct LoadDecision {
  bool load = false;
  double load_s = 0;
  double recompute_s = 0;
};
constexpr double kPerFileSeconds = 100e-6;  // open + map + validate a file, measured order
LoadDecision DecideLoad(int64_t n_blocks, int64_t block_bytes, double disk_bytes_per_s,
                        double prefill_tokens_per_s);

struct PrefixCacheStats {
  int64_t lookups = 0;
  // Per lookup, over the full blocks of the looked-up tokens: found in RAM, found only on disk
  // (after the RAM hit), found in neither.
  int64_t ram_hit_blocks = 0, ram_hit_tokens = 0;
  int64_t disk_hit_blocks = 0, disk_hit_tokens = 0;
  int64_t miss_blocks = 0, miss_tokens = 0;
  // Disk loads: blocks served from disk into RAM, and blocks that failed to load.
  int64_t disk_loaded_blocks = 0, disk_loaded_tokens = 0, disk_load_failed_blocks = 0;
  int64_t inserted_blocks = 0, insert_duplicates = 0, insert_collisions = 0,
          insert_parent_missing = 0;
  int64_t ram_evictions = 0;   // blocks whose cache reference Evict dropped
  int64_t disk_evictions = 0;  // files removed for the size cap
  int64_t disk_writes = 0, disk_write_errors = 0, disk_spills_dropped = 0;
  int64_t disk_bytes_written = 0, disk_bytes_read = 0;
  int64_t disk_corrupt_skipped = 0;  // files rejected at scan or load (deleted)
  double disk_read_bytes_per_s = 0;  // current estimate (measured loads, else the prior)
};

enum class Tier { kRam, kDisk };
struct IndexEntry {
  BlockHash hash;
  BlockHash parent;
  Tier tier;
};

class PrefixCache {
 public:
  // Opens the cache over `pool` and `storage` (both outlive it; same n_blocks). With a disk_dir,
  // creates it if needed, scans it (deleting leftover temp files and invalid or foreign block
  // files) and starts the I/O thread. Errors: InvalidArgument (empty model_fingerprint, pool and
  // storage sizes differ, cap < 0), IoError/PermissionDenied when the directory cannot be created
  // or listed.
  static Result<std::unique_ptr<PrefixCache>> Open(const Options& options, kv::BlockPool* pool,
                                                   kv::KvStorage* storage);
  // Finishes queued writes and loads, then stops the I/O thread. Does not drop the cache's pool
  // references (the pool is normally destroyed with it); call Clear() first to return them.
  ~PrefixCache();
  PrefixCache(const PrefixCache&) = delete;
  PrefixCache& operator=(const PrefixCache&) = delete;

  // The chain position before a prompt's first block for this tenant salt.
  ChainPos Root(std::string_view salt) const;

  // The longest run of consecutive full blocks of `tokens`, from the start, cached in RAM (each
  // Ref'd for the caller), plus the following run the disk tier has. Touches the hit blocks (LRU).
  // An engine that must compute at least one token to get logits passes tokens[0, n-1).
  // count_stats = false leaves the hit/miss counters alone, for a second lookup of the same
  // request (e.g. one before a disk load and one at admission) so each request counts once.
  LookupResult Lookup(std::span<const TokenId> tokens, std::string_view salt,
                      bool count_stats = true);

  // Indexes block `b`, which the engine filled with the KV of `block_tokens` (exactly
  // kBlockTokens ids) following `parent`. The cache takes its own reference on success. Keeps
  // the existing block when the name is present (inserted=false, cached = that block). Refuses
  // (inserted=false, pos.uid = kDeadUid, so later blocks of this chain are refused too) when
  // `parent` is no longer indexed or the name collides with different contents. Never fails
  // otherwise; InvalidArgument for a wrong token count, a block id out of range or unused, or a
  // block already cached under another name (one name per block, so eviction can free it).
  Result<InsertResult> Insert(const ChainPos& parent, std::span<const TokenId> block_tokens,
                              kv::BlockId b);

  // Convenience: inserts the full blocks of `tokens` (blocks[i] holds tokens [64 i, 64 i + 64);
  // blocks.size() may be smaller than the number of full blocks), from the root of `salt`.
  // Returns the position after the last block processed.
  Result<ChainPos> InsertBlocks(std::string_view salt, std::span<const TokenId> tokens,
                                std::span<const kv::BlockId> blocks);

  // Frees up to n evictable RAM blocks (see the eviction rule above), spilling them to disk per
  // policy. Returns how many pool blocks became free (those whose last reference was the cache's).
  int32_t Evict(int32_t n);

  // Drops every RAM entry and its reference (disk files stay). For shutdown and tests.
  void Clear();

  // The rule above with the measured disk bandwidth.
  LoadDecision DecideLoad(int64_t n_blocks, double prefill_tokens_per_s) const;

  // Starts loading the first dest.size() blocks of r.disk_hashes into `dest` (blocks the caller
  // allocated; it keeps its references and must not touch their bytes until Poll returns this
  // load). `r` must come from Lookup on this cache, and the caller must still hold r.blocks.
  // Errors: Unsupported (no disk tier), InvalidArgument (empty dest, more blocks than
  // r.disk_hashes, a dest block unused or repeated).
  Result<LoadId> StartLoad(const LookupResult& r, std::span<const kv::BlockId> dest);

  // Finished loads since the last call (never blocks). Also applies finished writes to the disk
  // index. Loaded blocks are indexed in RAM (the cache takes its reference; a name indexed
  // meanwhile keeps the existing block) before they are returned.
  std::vector<LoadDone> Poll();
  // Waits until the I/O thread has nothing queued or running, then Poll(), then waits for the
  // file removals that Poll queued (shutdown, tests, benchmarks).
  std::vector<LoadDone> WaitIdle();

  // Every indexed block, one row per tier holding it: the seam for a cache-aware router.
  std::vector<IndexEntry> ExportIndex() const;

  const PrefixCacheStats& stats() const;
  int32_t n_ram_blocks() const;
  int32_t n_disk_blocks() const;
  int64_t disk_bytes() const;  // bytes of indexed files (headers included)
  bool disk_enabled() const;

  class Impl;

 private:
  explicit PrefixCache(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cachet::prefix_cache
