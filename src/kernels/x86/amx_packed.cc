// AMX int8 over the packed q8_0 layout; contract in amx_packed.h.
//
// Per (16 activation rows, 16 weight rows, 32-value block): one TDPBSUD of a 16x32-byte A tile
// (activation quants, straight from the row-major buffer) and an 8x64-byte B tile (the packed
// block: 8 chunks of 4 values x 16 rows is exactly the VNNI-interleaved B layout), the 16x16
// int32 result stored and folded into 16 f32 accumulators held in registers (row m: the same
// subtract, convert, scale multiply and FMA as the VNNI kernel's lane vector).
#include "kernels/x86/amx_packed.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/ref/ref_kernels.h"
#include "kernels/x86/amx_matmul.h"
#include "kernels/x86/avx512_packed.h"

namespace cachet::kernels::x86 {
namespace {

using packed::kQBytes;
using packed::kSBytes;
using packed::kTile;
constexpr int64_t kMChunk = 64;  // activation rows kept in L2 while the tiles pass over them

using kernels::internal::TileConfig;

// Tiles 0, 3: C (16 x 16 int32, even and odd blocks); 1, 4: A (16 rows x 32 bytes);
// 2, 5: B (8 rows x 64 bytes).
void LoadConfig() {
  TileConfig cfg;
  std::memset(&cfg, 0, sizeof(cfg));
  cfg.palette_id = 1;
  for (int t : {0, 3}) {
    cfg.rows[t] = 16;
    cfg.colsb[t] = 64;
  }
  for (int t : {1, 4}) {
    cfg.rows[t] = 16;
    cfg.colsb[t] = 32;
  }
  for (int t : {2, 5}) {
    cfg.rows[t] = 8;
    cfg.colsb[t] = 64;
  }
  _tile_loadconfig(&cfg);
}

struct RowBlock {
  const int8_t* q;     // activation quants of the 16 rows (row stride k)
  const float* xd;     // their block scales (row stride nb)
  const int32_t* xs;   // their 128 * block sums (row stride nb)
  const uint8_t* wt;   // the weight tile
  int64_t k, nb;
};

// Folds block b's int32 products c into the 16 row accumulators (the VNNI kernel's steps).
inline void Fold(const RowBlock& rb, int64_t b, const int32_t (*c)[16], __m512* f) {
  const __m512 wd = _mm512_cvtph_ps(_mm256_loadu_si256(
      reinterpret_cast<const __m256i*>(rb.wt + rb.nb * kQBytes + b * kSBytes)));
#pragma GCC unroll 16
  for (int r = 0; r < 16; ++r) {
    const __m512 sc = _mm512_mul_ps(wd, _mm512_set1_ps(rb.xd[r * rb.nb + b]));
    const __m512i is =
        _mm512_sub_epi32(_mm512_load_si512(c[r]), _mm512_set1_epi32(rb.xs[r * rb.nb + b]));
    f[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is), sc, f[r]);
  }
}

// Activation rows [m0, m0 + 16) (padded rows are zero) against weight tile `wt`; writes the
// rows below p.m of y[m][n0 .. n0 + 16). Blocks alternate between C tiles 0 and 3, so the
// tile product of block b + 1 runs while block b is folded.
void TileRows(const MatmulParams& p, const packed::Act& a, const uint8_t* wt, int64_t m0,
              int64_t n0) {
  const int64_t cols = p.n - n0;  // < 16 only in a short last tile
  const RowBlock rb{a.q.data() + m0 * p.k, a.d.data() + m0 * a.nb, a.s128.data() + m0 * a.nb,
                    wt, p.k, a.nb};
  const int64_t nb = a.nb;
  __m512 f[16];
  for (int r = 0; r < 16; ++r) f[r] = _mm512_setzero_ps();
  alignas(64) int32_t c[16][16];
  _tile_zero(0);
  _tile_loadd(1, rb.q, rb.k);
  _tile_loadd(2, wt, 64);
  _tile_dpbsud(0, 1, 2);
  for (int64_t b = 0; b < nb; b += 2) {
    if (b + 1 < nb) {
      _tile_zero(3);
      _tile_loadd(4, rb.q + 32 * (b + 1), rb.k);
      _tile_loadd(5, wt + (b + 1) * kQBytes, 64);
      _tile_dpbsud(3, 4, 5);
    }
    _tile_stored(0, c, 64);
    Fold(rb, b, c, f);
    if (b + 1 >= nb) break;
    if (b + 2 < nb) {
      _tile_zero(0);
      _tile_loadd(1, rb.q + 32 * (b + 2), rb.k);
      _tile_loadd(2, wt + (b + 2) * kQBytes, 64);
      _tile_dpbsud(0, 1, 2);
    }
    _tile_stored(3, c, 64);
    Fold(rb, b + 1, c, f);
  }
  const int rows = static_cast<int>(std::min<int64_t>(16, p.m - m0));
  for (int r = 0; r < rows; ++r) {
    packed::StoreTile(p.y + (m0 + r) * p.ldy + n0, f[r], p.accumulate, cols);
  }
}

}  // namespace

void PackedMatmulAmx(const MatmulParams& p, ThreadPool* pool) {
  thread_local packed::Act act_buf;  // the caller's; jobs reach it through the pointer
  packed::Act* const a = &act_buf;
  packed::QuantizeAct(p, 16, a, pool);
  const int64_t nb = p.k / 32, tiles = (p.n + kTile - 1) / kTile, tb = nb * (kQBytes + kSBytes);
  const uint8_t* wp = static_cast<const uint8_t*>(p.w_packed);
  ref::ParallelRange(pool, tiles, 1, [&, a](int64_t j0, int64_t j1) {
    LoadConfig();
    for (int64_t mc = 0; mc < p.m; mc += kMChunk) {
      const int64_t mend = std::min(p.m, mc + kMChunk);
      for (int64_t j = j0; j < j1; ++j) {
        for (int64_t m0 = mc; m0 < mend; m0 += 16) TileRows(p, *a, wp + j * tb, m0, j * kTile);
      }
    }
    _tile_release();
  });
}

}  // namespace cachet::kernels::x86
