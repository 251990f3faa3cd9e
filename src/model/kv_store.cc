#include "model/kv_store.h"

#include <new>

namespace cachet::model {

Status SequenceKv::Reserve(int64_t n_tokens) {
  const int64_t need = (n_tokens + layout_.block_tokens - 1) / layout_.block_tokens;
  if (need <= n_blocks_) return Status::Ok();
  const int64_t kb = layout_.k_block_bytes(), vb = layout_.v_block_bytes();
  std::vector<void*> k(layout_.n_layer * need), v(layout_.n_layer * need);
  for (int64_t l = 0; l < layout_.n_layer; ++l) {
    for (int64_t b = 0; b < n_blocks_; ++b) {
      k[l * need + b] = k_ptrs_[l * n_blocks_ + b];
      v[l * need + b] = v_ptrs_[l * n_blocks_ + b];
    }
    for (int64_t b = n_blocks_; b < need; ++b) {
      auto* mem = new (std::nothrow) uint8_t[kb + vb];
      if (mem == nullptr) return ResourceExhausted("KV cache allocation failed");
      storage_.emplace_back(mem);
      k[l * need + b] = mem;
      v[l * need + b] = vb > 0 ? mem + kb : nullptr;
    }
  }
  k_ptrs_ = std::move(k);
  v_ptrs_ = std::move(v);
  n_blocks_ = need;
  return Status::Ok();
}

}  // namespace cachet::model
