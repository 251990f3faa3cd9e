// BlockPool: bookkeeping of the paged KV cache's fixed-size blocks (64 tokens each): which blocks
// are free and how many holders each used block has. No KV bytes live here (kv_storage.h).
//
// Holders are sequences (one reference per sequence whose block table contains the block) and the
// prefix cache (one reference per block it indexes). A block returns to the free list when its last
// reference is dropped; the prefix cache evicts a cached block by dropping its own reference once
// it is the only holder (RefCount(b) == 1).
//
// Thread-safety: none. Owned by the engine thread (docs/architecture.md).
#pragma once

#include <cstdint>
#include <vector>

namespace cachet::kv {

using BlockId = int32_t;
constexpr BlockId kNoBlock = -1;

class BlockPool {
 public:
  explicit BlockPool(int32_t n_blocks);

  // Takes a free block and gives it one reference; kNoBlock when none is free (the caller may
  // then ask the prefix cache to evict, or preempt a sequence). Lowest free id first, so tests
  // can predict block ids.
  BlockId Allocate();
  // Adds a reference to a used block.
  void Ref(BlockId b);
  // Drops a reference; at zero the block is free again. Returns the remaining count.
  int32_t Unref(BlockId b);

  int32_t RefCount(BlockId b) const { return refs_[b]; }
  int32_t n_blocks() const { return static_cast<int32_t>(refs_.size()); }
  int32_t n_free() const { return static_cast<int32_t>(free_.size()); }
  int32_t n_used() const { return n_blocks() - n_free(); }

 private:
  std::vector<int32_t> refs_;
  std::vector<BlockId> free_;  // a stack, highest id at the bottom: Allocate pops the lowest id
};

}  // namespace cachet::kv
