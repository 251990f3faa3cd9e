// KvStorage: the bytes of the paged KV cache, one arena for all blocks.
//
// Per block and layer the storage holds `k_bytes` then `v_bytes` contiguously (block_layer_bytes
// = k_bytes + v_bytes): for GQA models K is [n_kv_heads, 64 tokens, head_dim] (head-major: one
// head's rows are contiguous) and V likewise; for
// MLA models K is [64 tokens, kv_lora_rank + rope_dim] (the compressed latent and the RoPE key)
// and v_bytes is 0; compressed-attention layouts (deepseek4) describe their entries the same way.
// The sizes come from the architecture (model::KvLayout::k_block_bytes() / v_block_bytes()), so
// this module stays below `model`. A block's layers are contiguous too (block b occupies
// [b * block_bytes(), (b+1) * block_bytes())): the disk tier copies a whole block with one call.
//
// Thread-safety: the arena is written only by the engine thread (forward passes, disk loads it
// schedules); pointers are stable for the storage's lifetime.
#pragma once

#include <cstdint>
#include <memory>

#include "base/status.h"

namespace cachet::kv {

struct KvGeometry {
  int64_t n_layer = 0;
  int64_t k_bytes = 0;  // per block and layer
  int64_t v_bytes = 0;  // per block and layer (0 for MLA)
  int64_t block_layer_bytes() const { return k_bytes + v_bytes; }
  int64_t block_bytes() const { return n_layer * block_layer_bytes(); }
};

class KvStorage {
 public:
  // Allocates n_blocks blocks (zeroed lazily by the OS). ResourceExhausted when the allocation
  // fails; InvalidArgument for a geometry with no bytes.
  static Result<std::unique_ptr<KvStorage>> Create(const KvGeometry& g, int32_t n_blocks);
  // The largest block count whose storage fits in `budget_bytes` (at least 0).
  static int32_t BlocksForBudget(const KvGeometry& g, int64_t budget_bytes);
  ~KvStorage();

  const KvGeometry& geometry() const { return g_; }
  int32_t n_blocks() const { return n_blocks_; }
  int64_t total_bytes() const { return g_.block_bytes() * n_blocks_; }

  uint8_t* Block(int32_t b) { return base_ + b * g_.block_bytes(); }
  uint8_t* K(int32_t b, int64_t layer) { return Block(b) + layer * g_.block_layer_bytes(); }
  // nullptr when the layout has no V (MLA).
  uint8_t* V(int32_t b, int64_t layer) {
    return g_.v_bytes == 0 ? nullptr : K(b, layer) + g_.k_bytes;
  }

 private:
  KvStorage(const KvGeometry& g, int32_t n_blocks, uint8_t* base)
      : g_(g), n_blocks_(n_blocks), base_(base) {}
  KvGeometry g_;
  int32_t n_blocks_;
  uint8_t* base_;
};

}  // namespace cachet::kv
