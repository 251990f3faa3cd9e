// Ds4Cache: one sequence's deepseek4 cache, exactly what V4 keeps (deepseek.md C.11), never
// full K/V per token:
//   every layer      raw ring: the last n_swa kv vectors (D values, cache type), slot p % n_swa
//   CSA (ratio 4)    main entries (D) and indexer entries (d_I) per completed 4-token block;
//                    compressor state: 2R = 8 rows of (a, z) for main (2D + 2D f32) and indexer
//                    (2 d_I + 2 d_I f32), row p % 8 (the previous block's A-halves live there)
//   HCA (ratio 128)  one main entry (D) per completed 128-token block; state: 128 rows of
//                    (a, z) (D + D f32), row p % 128
// Entries are stored in chunks sized like the engine's 64-token blocks: a CSA chunk holds the
// 16 entries (main + indexer) of 64 positions; an HCA chunk holds one entry per 128 positions
// (a 64-token block holds half an HCA entry, so the chunk spans two blocks). Bytes therefore
// grow as EntryBytes() states, which tests check against allocated_bytes().
//
// Paged mode (Create(dims, /*paged=*/true)): the entries live in the engine's 64-token pool
// blocks instead (PagedLayout below), bound for one step with BindBlocks(); the object then
// holds only the window rings and compressor states.
//
// Not thread-safe; owned by one sequence. Stored entry / raw values are rounded to the cache
// type (f16 default, or f32); compressor state is f32.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "model/sequence_state.h"
#include "tensor/dtype.h"

namespace cachet::model {

struct Ds4CacheDims {
  std::vector<int64_t> ratios;  // per layer: 0, 4 or 128
  int64_t head_dim = 0;         // D
  int64_t indexer_dim = 0;      // d_I (CSA layers)
  int64_t n_swa = 0;
  DType type = DType::kF16;  // f16 or f32

  int64_t elem_bytes() const { return type == DType::kF32 ? 4 : 2; }
  // Positions one entry chunk of a layer with this ratio covers (0 for SWA layers).
  static int64_t ChunkTokens(int64_t ratio) { return ratio == 4 ? 64 : ratio == 128 ? 128 : 0; }
  // Width of one compressor-state row (a then z, f32 values) and the ring's row count.
  int64_t StateWidth(int64_t ratio, int64_t W) const { return (ratio == 4 ? 4 : 2) * W; }
  static int64_t StateRows(int64_t ratio) { return ratio == 4 ? 8 : ratio; }
  // Fixed bytes per sequence: rings and compressor states.
  int64_t FixedBytes() const;
  // Bytes of the entry chunks covering n_tokens positions.
  int64_t EntryBytes(int64_t n_tokens) const;
  // Amortised entry bytes per token: sum over CSA (D + d_I) / 4 and HCA D / 128, x elem bytes.
  double BytesPerToken() const;

  // Paged layout: one pool block of 64 positions holds, per compressed layer in order, CSA: the
  // 16 main entries (16 x D) then the 16 indexer entries (16 x d_I) of those positions; HCA: one
  // entry slot of D values, used by odd blocks (entry b completes in block 2b + 1, so a block's
  // bytes are final once its 64 positions are processed; even blocks leave it unused). Values
  // per token of a block: sum_CSA (D + d_I) / 4 + sum_HCA D / 64. False when those are not
  // whole numbers (D % 64 or (D + d_I) % 4).
  bool PagedFits() const;
  int64_t PagedValuesPerToken() const;
  // Byte offset of layer l's area inside a block (compressed layers only).
  int64_t PagedLayerOffset(int64_t l) const;
};

class Ds4Cache final : public SequenceState {
 public:
  // Allocates the fixed part. ResourceExhausted when that fails.
  // paged: entries in bound pool blocks (PagedFits() must hold), else owned chunks.
  static Result<std::unique_ptr<Ds4Cache>> Create(const Ds4CacheDims& dims, bool paged = false);
  bool paged() const { return paged_; }
  // Paged mode: the sequence's blocks for this step (blocks[i] = block i, PagedValuesPerToken()
  // x 64 values each, covering every position to be processed); Unbind after the step.
  void BindBlocks(void* const* blocks, int64_t n_blocks) {
    blocks_ = blocks;
    n_blocks_ = n_blocks;
  }
  void UnbindBlocks() { BindBlocks(nullptr, 0); }

  int64_t n_tokens() const override { return n_tokens_; }
  int64_t allocated_bytes() const override;
  void set_n_tokens(int64_t n) { n_tokens_ = n; }
  // Ensures entry chunks for positions < n_tokens (no-op when paged). ResourceExhausted on
  // allocation failure.
  Status Reserve(int64_t n_tokens);
  const Ds4CacheDims& dims() const { return d_; }

  // Raw ring row of position p (layer l): D values in the cache type.
  uint8_t* Raw(int64_t l, int64_t p) { return raw_[l].get() + (p % d_.n_swa) * RawRowBytes(); }
  // Compressor state row of position p: main or indexer ([a (kappa W) ; z (kappa W)] f32).
  float* MainState(int64_t l, int64_t p);
  float* IndexerState(int64_t l, int64_t p);
  // Compressed entry b (main: D values; indexer: d_I values) in the cache type. The chunk
  // holding b must be reserved (b * ratio < reserved positions).
  uint8_t* MainEntry(int64_t l, int64_t b);
  uint8_t* IndexerEntry(int64_t l, int64_t b);

 private:
  Ds4Cache(const Ds4CacheDims& d, bool paged) : d_(d), paged_(paged) {}
  uint8_t* PagedEntry(int64_t l, int64_t b, bool indexer) const;
  int64_t RawRowBytes() const { return d_.head_dim * d_.elem_bytes(); }
  int64_t ChunkBytes(int64_t ratio) const;

  Ds4CacheDims d_;
  bool paged_ = false;
  void* const* blocks_ = nullptr;
  int64_t n_blocks_ = 0;
  std::vector<int64_t> layer_off_;  // paged: byte offset of each layer's area in a block
  int64_t n_tokens_ = 0;
  int64_t reserved_ = 0;  // positions covered by entry chunks
  std::vector<std::unique_ptr<uint8_t[]>> raw_;
  std::vector<std::unique_ptr<float[]>> main_state_, idx_state_;
  std::vector<std::vector<std::unique_ptr<uint8_t[]>>> chunks_;  // [layer][chunk]
};

}  // namespace cachet::model
