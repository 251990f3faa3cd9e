// DiskTier: the engine-thread side of the disk tier (internal to prefix_cache): the index of
// block files (name -> parent, salt fingerprint, token ids, size), their LRU order and the size
// cap, the directory scan that rebuilds the index on open, and the bookkeeping of writes and loads
// run by the I/O thread (disk_io.h).
//
// Cap rule: after every Poll the indexed files fit in cap_bytes. Files are removed leaf-first, as
// in RAM: only a file no other indexed file names as its parent is a candidate, the least recently
// used first (by write time, then lookup hits and loads). So a chain shrinks from its end and its
// remaining prefix stays loadable, whatever order its blocks were written in — when a write is
// queued, to make room for it, and when writes complete. Queued writes may briefly add up to
// max_pending_write_bytes on top. A write larger than the cap is dropped (disk_spills_dropped).
// Backpressure: a write that would take the queued writes beyond max_pending_write_bytes first
// waits for the I/O thread to finish earlier ones (blocking the engine thread only when evictions
// outpace the disk); dropping instead would orphan the already-written children of the block.
//
// Thread-safety: engine thread only (the I/O thread is behind DiskIo's queues).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "prefix_cache/disk_io.h"
#include "prefix_cache/prefix_cache.h"

namespace cachet::prefix_cache {

class DiskTier {
 public:
  struct Config {
    Env* env = nullptr;
    std::string dir;
    Digest256 model_fp{};
    kv::KvGeometry geometry;
    int64_t cap_bytes = 0;
    int64_t max_pending_write_bytes = 0;
    bool sync_writes = false;
    double read_bytes_per_s_prior = 1e9;
    std::function<void()> notify;
    ChainNextFn chain_next = nullptr;
  };
  struct Entry {
    BlockHash parent;
    Digest256 salt_fp{};
    std::array<TokenId, kBlockTokens> tokens{};
    int64_t file_bytes = 0;
    uint64_t last_use = 0;
  };
  // What a queued write describes (the rest of the header is filled in here).
  struct BlockMeta {
    BlockHash hash;
    BlockHash parent;
    Digest256 salt_fp{};
    std::array<TokenId, kBlockTokens> tokens{};
  };

  // Creates the directory if missing, scans it (removing temp files and invalid or foreign
  // block files, counted in stats->disk_corrupt_skipped), applies the cap, starts the I/O thread.
  static Result<std::unique_ptr<DiskTier>> Open(const Config& config, PrefixCacheStats* stats);
  ~DiskTier();  // lets the I/O thread finish its queue

  const Entry* Find(const BlockHash& h) const;
  void Touch(const BlockHash& h);
  // Queues a write of the block's bytes (copied now), first waiting for the I/O thread if the
  // queued-write budget is full. False when the block is already on disk or queued, or is larger
  // than the cap (counted in disk_spills_dropped).
  bool Write(const BlockMeta& meta, const uint8_t* bytes);
  // Queues a load; its DiskLoadDone comes back from Poll with the returned id.
  uint64_t StartLoad(std::vector<DiskLoadItem> items);
  // Applies finished writes to the index and finished loads to the stats (dropping the index
  // entry of a block that failed to load), and returns the finished loads.
  std::vector<DiskLoadDone> Poll();
  void WaitIdle();

  double read_bytes_per_s() const { return read_bw_; }
  int32_t n_blocks() const { return static_cast<int32_t>(entries_.size()); }
  int64_t bytes() const { return bytes_; }
  void ExportTo(std::vector<IndexEntry>* out) const;

 private:
  DiskTier(const Config& config, PrefixCacheStats* stats) : cfg_(config), stats_(stats) {}
  Status Scan();
  // Validates a scanned file's header; Corrupt/Unsupported when it must be removed.
  Status CheckScanned(const std::string& path, const BlockHash& name, DiskBlockHeader* h);
  void AddEntry(const BlockHash& h, Entry e);
  void RemoveOldest();  // the least recently used leaf
  bool IsLeaf(const BlockHash& h) const { return n_children_.count(h) == 0; }
  void AddChildRef(const BlockHash& parent);  // an indexed file or queued write names `parent`
  void DropChildRef(const BlockHash& parent);
  void DropEntry(const BlockHash& h);
  // Takes the I/O thread's completions: applies writes to the index, keeps loads for Poll.
  void ApplyCompletions();

  struct PendingWrite {
    BlockMeta meta;
    int64_t file_bytes = 0;
  };

  const Config cfg_;
  PrefixCacheStats* const stats_;
  std::unordered_map<BlockHash, Entry, BlockHashHasher> entries_;
  // Indexed entries and queued writes per parent name (whether or not the parent is indexed).
  std::unordered_map<BlockHash, int32_t, BlockHashHasher> n_children_;
  std::map<uint64_t, BlockHash> leaves_;  // last_use -> name, entries without indexed children
  uint64_t tick_ = 0;
  int64_t bytes_ = 0;  // file bytes of entries_
  std::unordered_map<BlockHash, PendingWrite, BlockHashHasher> pending_writes_;
  int64_t pending_bytes_ = 0;
  std::unordered_map<uint64_t, std::vector<BlockHash>> pending_loads_;
  std::vector<DiskLoadDone> ready_loads_;  // taken from the I/O thread, not yet returned by Poll
  uint64_t next_load_id_ = 1;
  double read_bw_ = 0;
  bool bw_measured_ = false;
  std::unique_ptr<DiskIo> io_;
};

}  // namespace cachet::prefix_cache
