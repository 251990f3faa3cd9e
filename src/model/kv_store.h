// KV cache layout and a simple per-sequence store of 64-token blocks.
//
// KvLayout is a property of the architecture: what one token stores per layer. GQA models store
// K and V per KV head (k_dim = n_kv_heads * head_dim floats, v_dim likewise); MLA models (later)
// store one latent + rope vector (v_dim = 0). The serving engine's block pool allocates by
// bytes_per_block_layer(); SequenceKv is the standalone store used by `cachet run`, `cachet
// logits` and tests.
//
// Block addressing, shared with Forward (model.h): a sequence's cache is n_blocks blocks per
// layer; K block b of layer l is k_blocks[l * n_blocks + b], [n_kv_heads, block_tokens, head_dim]
// in `type` (head-major: a head's rows are contiguous); V likewise. Token at position p lives in
// block p / block_tokens, row p % block_tokens of each head.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "base/status.h"
#include "tensor/dtype.h"

namespace cachet::model {

constexpr int64_t kKvBlockTokens = 64;

struct KvLayout {
  int64_t n_layer = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim_k = 0;
  int64_t head_dim_v = 0;    // 0: no separate V (MLA)
  DType type = DType::kF16;  // f32, f16 or bf16
  int64_t block_tokens = kKvBlockTokens;

  int64_t k_dim() const { return n_kv_heads * head_dim_k; }
  int64_t v_dim() const { return n_kv_heads * head_dim_v; }
  int64_t elem_bytes() const { return type == DType::kF32 ? 4 : 2; }
  int64_t bytes_per_token_layer() const { return (k_dim() + v_dim()) * elem_bytes(); }
  int64_t bytes_per_token() const { return bytes_per_token_layer() * n_layer; }
  int64_t k_block_bytes() const { return block_tokens * k_dim() * elem_bytes(); }
  int64_t v_block_bytes() const { return block_tokens * v_dim() * elem_bytes(); }
};

// One sequence's KV cache: grows by whole blocks. Not thread-safe; owned by one sequence.
class SequenceKv {
 public:
  explicit SequenceKv(const KvLayout& layout) : layout_(layout) {}

  // Ensures room for n_tokens positions (0..n_tokens-1). ResourceExhausted if allocation fails.
  Status Reserve(int64_t n_tokens);
  // Forgets positions >= n_tokens (keeps memory). Used to roll back or reuse the sequence.
  void Truncate(int64_t n_tokens) {
    if (n_tokens < n_tokens_) n_tokens_ = n_tokens;
  }
  // Number of valid positions; the caller advances it after a successful Forward.
  int64_t n_tokens() const { return n_tokens_; }
  void set_n_tokens(int64_t n) { n_tokens_ = n; }

  int64_t n_blocks() const { return n_blocks_; }
  void* const* k_blocks() const { return k_ptrs_.data(); }  // [n_layer * n_blocks]
  void* const* v_blocks() const { return v_ptrs_.data(); }
  const KvLayout& layout() const { return layout_; }

 private:
  KvLayout layout_;
  int64_t n_tokens_ = 0;
  int64_t n_blocks_ = 0;
  std::vector<std::unique_ptr<uint8_t[]>> storage_;  // one allocation per (block, layer)
  std::vector<void*> k_ptrs_, v_ptrs_;
};

}  // namespace cachet::model
