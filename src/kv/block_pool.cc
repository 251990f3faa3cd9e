#include "kv/block_pool.h"

#include <cassert>

namespace cachet::kv {

BlockPool::BlockPool(int32_t n_blocks) : refs_(n_blocks, 0) {
  free_.reserve(n_blocks);
  for (BlockId b = n_blocks - 1; b >= 0; --b) free_.push_back(b);
}

BlockId BlockPool::Allocate() {
  if (free_.empty()) return kNoBlock;
  const BlockId b = free_.back();
  free_.pop_back();
  refs_[b] = 1;
  return b;
}

void BlockPool::Ref(BlockId b) {
  assert(b >= 0 && b < n_blocks() && refs_[b] > 0);
  ++refs_[b];
}

int32_t BlockPool::Unref(BlockId b) {
  assert(b >= 0 && b < n_blocks() && refs_[b] > 0);
  if (--refs_[b] == 0) free_.push_back(b);
  return refs_[b];
}

}  // namespace cachet::kv
