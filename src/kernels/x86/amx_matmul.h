// Prefill GEMM on Intel AMX (TDPBF16PS), for the MatmulParams contract of kernels/kernels.h.
//
// Method (bf16 path, every weight type): the product is computed transposed, y^T = W x^T, so
// the weight needs no transpose: each thread dequantizes a panel of 32 weight rows to bf16
// (row-major, the A tiles), x is converted once per call to bf16 in the VNNI pair layout (the
// B tiles), and 2x2 tiles of 16x16 f32 accumulators run over K in steps of 32. The panel is
// amortized over all M rows, so this pays off for M >= ~16 (prefill, batched decode).
//
// Error: x and W are each rounded to bf16 (relative 2^-9 each), products and sums are f32, so
// |y - y_exact| <= ~2^-8 * sum_k |x_k| |w_k| plus f32 summation error.
//
// Thread-safety: reentrant. AmxMatmul splits the N panels over `pool` (nullptr = caller only)
// and must not be called from inside a pool job. Each thread loads its own tile config.
#pragma once

#if defined(__AMX_TILE__)
#include <immintrin.h>
#endif

#include <cstdint>

#include "base/thread_pool.h"
#include "kernels/kernels.h"
#include "tensor/dtype.h"

namespace cachet::kernels {

// True when cpuid reports AMX-TILE, AMX-INT8 and AMX-BF16 (plus AVX512-BF16) and the Linux
// arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) request succeeded. Computed once
// (thread-safe); the permission is process-wide, so threads created later may use tiles too.
bool AmxAvailable();

// Weight types AmxMatmul accepts: f32, f16, bf16, q8_0, q4_0, q4_k, q5_k, q6_k.
bool AmxMatmulSupported(DType w_type);

// y = x W^T (+ y if p.accumulate). Preconditions: AmxAvailable(), AmxMatmulSupported(p.w_type),
// p.k a multiple of 32 and of the weight block size, ldx >= k, ldy >= n. Any m, n >= 1.
void AmxMatmul(const MatmulParams& p, ThreadPool* pool);

namespace internal {
// The 64-byte operand of LDTILECFG (palette 1: rows and bytes per row of tiles 0..15).
struct alignas(64) TileConfig {
  uint8_t palette_id;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};
#if defined(__AMX_TILE__)  // translation units built with the AMX flags
// LDTILECFG of cfg. GCC 12 does not count the 64 bytes the instruction reads as a use of cfg
// and may drop the stores that filled it (an out-of-line copy in amx_bench lost its rows and
// colsb: SIGILL on the first tile op); the empty asm reading cfg keeps them.
inline void LoadTiles(const TileConfig& cfg) {
  asm volatile("" : : "m"(cfg));
  _tile_loadconfig(&cfg);
}
// Palette 1 with all 8 tiles 16 rows x 64 bytes.
inline void LoadTiles16x64() {
  TileConfig cfg{};
  cfg.palette_id = 1;
  for (int t = 0; t < 8; ++t) {
    cfg.rows[t] = 16;
    cfg.colsb[t] = 64;
  }
  LoadTiles(cfg);
}
#endif
// The same algorithm (same packing, tiling and per-tile f32 accumulation order) with the tile
// instructions replaced by scalar code: lets tests check packing/tiling on CPUs without AMX.
// vector_packing uses the AVX512-BF16 conversions of the real path (CPU must have them).
// Slow; for tests only.
void AmxMatmulEmulated(const MatmulParams& p, ThreadPool* pool, bool vector_packing);
// Dequantizes n values (multiple of the block size) of one row to f32. Returns false for
// unsupported types.
bool AmxDequantizeRow(DType t, const void* src, float* dst, int64_t n);
// AVX-512 decoders straight to bf16 (n a multiple of 32 and of the block size) for the types
// that have one (f16, q8_0, q4_0, q4_k, q6_k); false for others (use AmxDequantizeRow + convert).
bool AmxDequantizeRowBF16(DType t, const void* src, uint16_t* dst, int64_t n);
}  // namespace internal

}  // namespace cachet::kernels
