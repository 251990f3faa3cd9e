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
// grow as CacheBytes() states, which tests check against allocated_bytes().
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
  DType type = DType::kF16;     // f16 or f32

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
};

class Ds4Cache final : public SequenceState {
 public:
  // Allocates the fixed part. ResourceExhausted when that fails.
  static Result<std::unique_ptr<Ds4Cache>> Create(const Ds4CacheDims& dims);

  int64_t n_tokens() const override { return n_tokens_; }
  int64_t allocated_bytes() const override;
  void set_n_tokens(int64_t n) { n_tokens_ = n; }
  // Ensures entry chunks for positions < n_tokens. ResourceExhausted on allocation failure.
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
  explicit Ds4Cache(const Ds4CacheDims& d) : d_(d) {}
  int64_t RawRowBytes() const { return d_.head_dim * d_.elem_bytes(); }
  int64_t ChunkBytes(int64_t ratio) const;

  Ds4CacheDims d_;
  int64_t n_tokens_ = 0;
  int64_t reserved_ = 0;  // positions covered by entry chunks
  std::vector<std::unique_ptr<uint8_t[]>> raw_;
  std::vector<std::unique_ptr<float[]>> main_state_, idx_state_;
  std::vector<std::vector<std::unique_ptr<uint8_t[]>>> chunks_;  // [layer][chunk]
};

}  // namespace cachet::model
