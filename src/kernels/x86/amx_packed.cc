// AMX int8 over the packed q8_0 layout; contract in amx_packed.h.
//
// Per (16 activation rows, 16 weight rows, 32-value block): one TDPBSSD of a 16x32-byte A tile
// (activation quants, re-laid so each A tile is 512 contiguous bytes) and an 8x64-byte B tile
// (the packed block, signed quants: 8 chunks of 4 values x 16 rows is exactly the
// VNNI-interleaved B layout), the 16x16 int32 result stored and folded into 16 f32
// accumulators held in registers (row m: the same convert, scale multiply and FMA as the VNNI
// kernel's lane vector; with signed weights there is no +128 offset to subtract).
// Weight tiles go in pairs (TileRows2: one A tile per block serves both, and the two products
// are independent chains for the tile unit); the B tiles of the first row group are prefetched
// kAhead blocks ahead, since tile loads from DRAM stall where vector loads would be prefetched.
// Tile registers are not renamed (a tile is rewritten only after its readers finished), so
// each block's products are stored before the next block's B tiles are loaded.
#include "kernels/x86/amx_packed.h"

// GCC 12 reports the _mm512_undefined_* placeholders inside its own conversion intrinsics as
// maybe-uninitialized once TileRows2 spills registers; a false positive of the header code.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

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
constexpr int64_t kAhead = 8;    // blocks of weights prefetched ahead of the tile loads

using kernels::internal::TileConfig;

// Tiles 0, 1: A (16 rows x 32 bytes: even, odd blocks); 2, 3: B (8 rows x 64 bytes);
// 4..7: C (16 x 16 int32).
void LoadConfig() {
  TileConfig cfg;
  std::memset(&cfg, 0, sizeof(cfg));
  cfg.palette_id = 1;
  for (int t = 0; t < 8; ++t) {
    cfg.rows[t] = t < 2 ? 16 : t < 4 ? 8 : 16;
    cfg.colsb[t] = t < 2 ? 32 : 64;
  }
  kernels::internal::LoadTiles(cfg);
}

struct RowBlock {
  const int8_t* q;    // activation quants of the 16 rows (row stride k)
  const float* xd;    // their block scales (row stride nb)
  const uint8_t* wt;  // the weight tile
  int64_t k, nb;
};

// Folds block b's int32 products c into the 16 row accumulators (the VNNI kernel's steps).
inline void Fold(const RowBlock& rb, int64_t b, const int32_t (*c)[16], __m512* f) {
  const __m512 wd = _mm512_cvtph_ps(
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rb.wt + rb.nb * kQBytes + b * kSBytes)));
#pragma GCC unroll 16
  for (int r = 0; r < 16; ++r) {
    const __m512 sc = _mm512_mul_ps(wd, _mm512_set1_ps(rb.xd[r * rb.nb + b]));
    f[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_load_si512(c[r])), sc, f[r]);
  }
}

// Activation rows [m0, m0 + 16) (padded rows are zero) against weight tile `wt`; writes the
// rows below p.m of y[m][n0 .. n0 + 16). Blocks alternate between C tiles 0 and 3, so the
// tile product of block b + 1 runs while block b is folded.
void TileRows(const MatmulParams& p, const packed::Act& a, const int8_t* at, const uint8_t* wt,
              int64_t m0, int64_t n0) {
  const int64_t cols = p.n - n0;  // < 16 only in a short last tile
  const RowBlock rb{at + m0 * p.k, a.d.data() + m0 * a.nb, wt, p.k, a.nb};
  const int64_t nb = a.nb;
  __m512 f[16];
  for (int r = 0; r < 16; ++r) f[r] = _mm512_setzero_ps();
  // c[b % 4] holds block b's products; each block is folded one store later than it is stored,
  // so the fold's loads never wait for the tile store that has just been issued.
  alignas(64) int32_t c[4][16][16];
  _tile_zero(4);
  _tile_loadd(0, rb.q, 32);
  _tile_loadd(2, wt, 64);
  _tile_dpbssd(4, 0, 2);
  // The B tiles come straight from DRAM on the first row group: tile loads are not covered by
  // the hardware prefetcher as vector loads are, so fetch kAhead blocks ahead.
  const bool first = m0 % kMChunk == 0;
  for (int64_t b = 0; b < nb; b += 2) {
    if (first) {
      const uint8_t* pf = wt + (b + kAhead) * kQBytes;
      if (b + kAhead + 1 < nb) {
#pragma GCC unroll 16
        for (int l = 0; l < 16; ++l)
          _mm_prefetch(reinterpret_cast<const char*>(pf + 64 * l), _MM_HINT_T0);
      }
      if (b % 32 == 0)
        _mm_prefetch(reinterpret_cast<const char*>(wt + nb * kQBytes + (b + 32) * kSBytes),
                     _MM_HINT_T0);
    }
    if (b + 1 < nb) {
      _tile_zero(6);
      _tile_loadd(1, rb.q + 512 * (b + 1), 32);
      _tile_loadd(3, wt + (b + 1) * kQBytes, 64);
      _tile_dpbssd(6, 1, 3);
    }
    _tile_stored(4, c[b & 3], 64);
    if (b >= 1) Fold(rb, b - 1, c[(b - 1) & 3], f);
    if (b + 1 >= nb) {
      Fold(rb, b, c[b & 3], f);
      break;
    }
    if (b + 2 < nb) {
      _tile_zero(4);
      _tile_loadd(0, rb.q + 512 * (b + 2), 32);
      _tile_loadd(2, wt + (b + 2) * kQBytes, 64);
      _tile_dpbssd(4, 0, 2);
    }
    _tile_stored(6, c[(b + 1) & 3], 64);
    Fold(rb, b, c[b & 3], f);
    if (b + 2 >= nb) Fold(rb, b + 1, c[(b + 1) & 3], f);
  }
  const int rows = static_cast<int>(std::min<int64_t>(16, p.m - m0));
  for (int r = 0; r < rows; ++r) {
    packed::StoreTile(p.y + (m0 + r) * p.ldy + n0, f[r], p.accumulate, cols);
  }
}

// Two weight tiles (wt, wt + tb) against activation rows [m0, m0 + 16): one A tile per block
// serves both, and the two tiles' products give the tile unit two independent chains.
void TileRows2(const MatmulParams& p, const packed::Act& a, const int8_t* at, const uint8_t* wt,
               int64_t tb, int64_t m0, int64_t n0) {
  const RowBlock r0{at + m0 * p.k, a.d.data() + m0 * a.nb, wt, p.k, a.nb};
  RowBlock r1 = r0;
  r1.wt = wt + tb;
  const int64_t nb = a.nb;
  __m512 f0[16], f1[16];
  for (int r = 0; r < 16; ++r) f0[r] = f1[r] = _mm512_setzero_ps();
  alignas(64) int32_t c[2][2][16][16];  // [even/odd block][tile]
  const bool first = m0 % kMChunk == 0;
  auto even = [&](int64_t b) {
    _tile_zero(4);
    _tile_zero(5);
    _tile_loadd(0, r0.q + 512 * b, 32);
    _tile_loadd(2, r0.wt + b * kQBytes, 64);
    _tile_dpbssd(4, 0, 2);
    _tile_loadd(3, r1.wt + b * kQBytes, 64);
    _tile_dpbssd(5, 0, 3);
  };
  auto odd = [&](int64_t b) {
    _tile_zero(6);
    _tile_zero(7);
    _tile_loadd(1, r0.q + 512 * b, 32);
    _tile_loadd(2, r0.wt + b * kQBytes, 64);
    _tile_dpbssd(6, 1, 2);
    _tile_loadd(3, r1.wt + b * kQBytes, 64);
    _tile_dpbssd(7, 1, 3);
  };
  even(0);
  for (int64_t b = 0; b < nb; b += 2) {
    if (first && b + kAhead + 1 < nb) {
      for (const uint8_t* w : {r0.wt, r1.wt}) {
        const uint8_t* pf = w + (b + kAhead) * kQBytes;
#pragma GCC unroll 16
        for (int l = 0; l < 16; ++l)
          _mm_prefetch(reinterpret_cast<const char*>(pf + 64 * l), _MM_HINT_T0);
      }
    }
    _tile_stored(4, c[0][0], 64);
    _tile_stored(5, c[0][1], 64);
    if (b + 1 < nb) odd(b + 1);
    Fold(r0, b, c[0][0], f0);
    Fold(r1, b, c[0][1], f1);
    if (b + 1 >= nb) break;
    _tile_stored(6, c[1][0], 64);
    _tile_stored(7, c[1][1], 64);
    if (b + 2 < nb) even(b + 2);
    Fold(r0, b + 1, c[1][0], f0);
    Fold(r1, b + 1, c[1][1], f1);
  }
  const int rows = static_cast<int>(std::min<int64_t>(16, p.m - m0));
  for (int r = 0; r < rows; ++r) {
    packed::StoreTile(p.y + (m0 + r) * p.ldy + n0, f0[r], p.accumulate, 16);
    packed::StoreTile(p.y + (m0 + r) * p.ldy + n0 + 16, f1[r], p.accumulate, p.n - n0 - 16);
  }
}

// ---- q4_k (layout and arithmetic in avx512_packed.h, packed::MatmulQ4k) ----
//
// The 6-bit scale is split, sc = 8 * s1 + s0 (s0, s1 <= 7), so q * s0 and q * s1 fit a byte
// (<= 105): per tile and super-block the quants are expanded once into two int8 B operands
// (q * s0 and q * s1, 4 chunks of 64 values each), then per 16 activation rows and chunk two
// TDPBSUD accumulate whole super-blocks, isum = C0 + 8 * C1 exactly (|C| <= 256 * 127 * 105).
// The per-super-block f32 step is the VNNI kernel's (Q4kFold), hence bitwise equal rows.

// Tiles (all 16 x 64 bytes, internal::LoadTiles16x64): 0, 1: A (alternating chunks); 2, 3: B
// (the s0 and s1 parts); 4, 5 and 6, 7: C0, C1 of even and odd super-blocks.

constexpr int64_t kQ4kAhead = 2;  // super-blocks of weights prefetched ahead (best of 1..4)
constexpr int64_t kQ4kExpBytes = 8192;  // expanded bytes per tile and super-block (4 x 2 x 1 KiB)

// Expands super-block sb of tile `wt` into out (8 KiB): chunk c, part h at (c * 2 + h) * 1024,
// a 16 x 64-byte B tile (rows 0..7: sub-block 2c, rows 8..15: sub-block 2c + 1,
// VNNI-interleaved as in the packed layout; part 0 holds q * s0, part 1 q * s1).
inline void ExpandQ4kChunk(const uint8_t* wt, int64_t nsb, int64_t sb, int c, uint8_t* out) {
  const __m512i m4 = _mm512_set1_epi8(0x0F), seven = _mm512_set1_epi16(7);
  // Byte r of a 16-byte row of scales to both 16-bit halves of dword r (zero high bytes):
  // 128-bit lane L holds rows 4L .. 4L + 3.
  const __m512i spread = _mm512_set_epi8(
      -1, 15, -1, 15, -1, 14, -1, 14, -1, 13, -1, 13, -1, 12, -1, 12,  //
      -1, 11, -1, 11, -1, 10, -1, 10, -1, 9, -1, 9, -1, 8, -1, 8,      //
      -1, 7, -1, 7, -1, 6, -1, 6, -1, 5, -1, 5, -1, 4, -1, 4,          //
      -1, 3, -1, 3, -1, 2, -1, 2, -1, 1, -1, 1, -1, 0, -1, 0);
  const uint8_t* meta = packed::Q4kMeta(wt, nsb, sb);
  __m512i s0[2], s1[2];  // per sub-block, dword r: that part of row r's scale in both halves
  for (int j = 0; j < 2; ++j) {
    const __m512i sc = _mm512_shuffle_epi8(
        _mm512_broadcast_i32x4(
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(meta + 64 + 16 * (2 * c + j)))),
        spread);
    s0[j] = _mm512_and_si512(sc, seven);
    s1[j] = _mm512_srli_epi16(sc, 3);
  }
  const uint8_t* qb = wt + sb * packed::kQ4kSbQBytes + c * 512;
  uint8_t* o = out + c * 2048;
#pragma GCC unroll 8
  for (int t = 0; t < 8; ++t) {
    const __m512i v = _mm512_loadu_si512(qb + 64 * t);
    const __m512i l = _mm512_and_si512(v, m4), h = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
    _mm512_store_si512(o + 64 * t, _mm512_mullo_epi16(l, s0[0]));
    _mm512_store_si512(o + 64 * t + 512, _mm512_mullo_epi16(h, s0[1]));
    _mm512_store_si512(o + 64 * t + 1024, _mm512_mullo_epi16(l, s1[0]));
    _mm512_store_si512(o + 64 * t + 1536, _mm512_mullo_epi16(h, s1[1]));
  }
}

void ExpandQ4k(const uint8_t* wt, int64_t nsb, int64_t sb, uint8_t* out) {
  for (int c = 0; c < 4; ++c) ExpandQ4kChunk(wt, nsb, sb, c, out);
}

// Folds rows [r0, r0 + R) of super-block sb's C0, C1 (c0, c1) into the row accumulators.
template <int R = 16>
inline void FoldQ4k(const packed::Act256& a, int64_t m0, const uint8_t* meta, int64_t sb,
                    const int32_t (*c0)[16], const int32_t (*c1)[16], __m512* f, int r0 = 0) {
  const __m512 d = packed::HalfToF32(meta), dmin = packed::HalfToF32(meta + 32);
  __m512i mp[4];
  packed::MinPairs(meta, mp);
  const int64_t nsb = a.nsb;
#pragma GCC unroll 16
  for (int r = r0; r < r0 + R; ++r) {
    const __m512i isum =
        _mm512_add_epi32(_mm512_load_si512(c0[r]), _mm512_slli_epi32(_mm512_load_si512(c1[r]), 3));
    const int64_t row = m0 + r;
    f[r] = packed::Q4kFold(f[r], isum, mp, a.bsum.data() + (row * nsb + sb) * 8, d, dmin,
                           a.d[row * nsb + sb]);
  }
}

// NG groups of 16 activation rows from m0 against tiles [j0, j1), as one pipeline of (tile,
// super-block, row group) steps: the next super-block (the next tile's first after the last) is
// expanded (into the other of 2 L1-resident buffers) while this one's products run, and the
// previous step's products are folded meanwhile, a chunk of each at a time; a tile's outputs
// are stored once its last step is folded. The expanded form (4x the packed bytes) never leaves
// L1, and one expansion serves all NG row groups (prefill). Issued as whole blocks (all of a
// super-block's tile products, then all of the vector work), the tile and the vector work took
// the sum of their times, not the larger (tile loads and vector stores do not overlap here):
// with the interleaving, M = 16 went from 6.1x to ~8x of M = 1 (docs/benchmarks.md).
template <int NG>
void TileRowsQ4k(const MatmulParams& p, const packed::Act256& a, const int8_t* at,
                 const uint8_t* wp, int64_t tb, int64_t j0, int64_t j1, int64_t m0) {
  // Two slots: this step's (read by its tile loads) and the next one's (being written).
  // Program order keeps a slot's next overwrite behind those loads; a third slot only took L1
  // from the A tiles.
  alignas(64) uint8_t ring[2][kQ4kExpBytes];
  const int64_t nsb = a.nsb;
  __m512 f[NG][16];
  for (int g = 0; g < NG; ++g)
    for (int r = 0; r < 16; ++r) f[g][r] = _mm512_setzero_ps();
  alignas(64) int32_t c[2][16][16];
  auto tile = [&](int64_t j) { return wp + j * tb; };
  auto meta = [&](int64_t j, int64_t sb) {
    return packed::Q4kMeta(tile(j), nsb, sb);
  };
  // Writes tile j's rows of y from the accumulators and clears them for the next tile.
  auto store = [&](int64_t j) {
    for (int g = 0; g < NG; ++g) {
      const int rows = static_cast<int>(std::clamp<int64_t>(p.m - m0 - 16 * g, 0, 16));
      for (int r = 0; r < rows; ++r) {
        packed::StoreTile(p.y + (m0 + 16 * g + r) * p.ldy + 16 * j, f[g][r], p.accumulate,
                          p.n - 16 * j);
      }
      for (int r = 0; r < 16; ++r) f[g][r] = _mm512_setzero_ps();
    }
  };
  // Chunk CH of super-block sb, row group g, into C tiles (C0, C1); A alternates 0 and 1.
#define CACHET_Q4K_CHUNK(C0, C1, AT, CH)                                \
  do {                                                                \
    _tile_loadd(AT, x + 1024 * (CH), 64);                              \
    _tile_loadd(2, e + 2048 * (CH), 64);                               \
    _tile_dpbsud(C0, AT, 2);                                           \
    _tile_loadd(3, e + 2048 * (CH) + 1024, 64);                        \
    _tile_dpbsud(C1, AT, 3);                                           \
  } while (0)
  // All four chunks of one (super-block, row group) pair, each followed by a quarter of the
  // vector work (vec), into C tiles (C0, C1), then the products stored for the next pair's fold.
#define CACHET_Q4K_PAIR(C0, C1)        \
  do {                                 \
    _tile_zero(C0);                    \
    _tile_zero(C1);                    \
    CACHET_Q4K_CHUNK(C0, C1, 0, 0);    \
    vec(0);                            \
    CACHET_Q4K_CHUNK(C0, C1, 1, 1);    \
    vec(1);                            \
    CACHET_Q4K_CHUNK(C0, C1, 0, 2);    \
    vec(2);                            \
    CACHET_Q4K_CHUNK(C0, C1, 1, 3);    \
    vec(3);                            \
    _tile_stored(C0, c[0], 64);        \
    _tile_stored(C1, c[1], 64);        \
  } while (0)
  ExpandQ4k(tile(j0), nsb, 0, ring[0]);
  int64_t prev_j = -1, prev_sb = 0;
  int prev_g = 0;
  int64_t step = 0;  // super-blocks expanded before this one
  const bool first = m0 % kMChunk == 0;
  for (int64_t j = j0; j < j1; ++j) {
    const uint8_t* const wt = tile(j);
    for (int64_t sb = 0; sb < nsb; ++sb, ++step) {
      // The weights stream from DRAM on the first row chunk: the quants and meta of super-block
      // sb + kQ4kAhead (into the next tile past the last) are fetched a quarter at a time, next
      // to each chunk's expansion.
      const uint8_t* pq = nullptr;
      const uint8_t* pm = nullptr;
      if (first) {
        int64_t ps = sb + kQ4kAhead;
        const uint8_t* pw = wt;
        if (ps >= nsb) {
          ps -= nsb;
          pw += tb;
        }
        pq = pw + ps * packed::kQ4kSbQBytes;
        pm = packed::Q4kMeta(pw, nsb, ps);
      }
      // The next super-block to expand: this tile's next, else the next tile's first.
      const uint8_t* const nw = sb + 1 < nsb ? wt : j + 1 < j1 ? tile(j + 1) : nullptr;
      const int64_t nsb_next = sb + 1 < nsb ? sb + 1 : 0;
      const uint8_t* const e = ring[step % 2];
      uint8_t* const next = ring[(step + 1) % 2];
      for (int g = 0; g < NG; ++g) {
        const int8_t* const x = at + (m0 + 16 * g) * p.k + 4096 * sb;
        const int64_t fold_j = prev_j;
        auto vec = [&](int ch) {
          if (g == 0 && pq != nullptr) {
#pragma GCC unroll 8
            for (int l = 0; l < 8; ++l)
              _mm_prefetch(reinterpret_cast<const char*>(pq + 512 * ch + 64 * l), _MM_HINT_T0);
            if (ch < 3) _mm_prefetch(reinterpret_cast<const char*>(pm + 128 * ch), _MM_HINT_T0);
            if (ch < 2)
              _mm_prefetch(reinterpret_cast<const char*>(pm + 128 * ch + 64), _MM_HINT_T0);
          }
          if (g == 0 && nw != nullptr) ExpandQ4kChunk(nw, nsb, nsb_next, ch, next);
          if (fold_j >= 0) {
            FoldQ4k<4>(a, m0 + 16 * prev_g, meta(fold_j, prev_sb), prev_sb, c[0], c[1],
                       f[prev_g], 4 * ch);
          }
        };
        // Consecutive pairs alternate between C tiles (4, 5) and (6, 7), so one pair's products
        // are stored while the next pair's run.
        if ((step * NG + g) % 2 == 0) {
          CACHET_Q4K_PAIR(4, 5);
        } else {
          CACHET_Q4K_PAIR(6, 7);
        }
        if (fold_j >= 0 && fold_j != j) store(fold_j);  // its last step was just folded
        prev_j = j;
        prev_sb = sb;
        prev_g = g;
      }
    }
  }
#undef CACHET_Q4K_PAIR
#undef CACHET_Q4K_CHUNK
  FoldQ4k(a, m0 + 16 * prev_g, meta(prev_j, prev_sb), prev_sb, c[0], c[1], f[prev_g]);
  store(prev_j);
}

void PackedMatmulAmxQ4k(const MatmulParams& p, ThreadPool* pool) {
  thread_local packed::Act256 act_buf;  // the caller's; jobs reach it through the pointer
  packed::Act256* const a = &act_buf;
  packed::QuantizeAct256(p, 16, a, pool, /*tiled=*/true);
  const int8_t* at = a->q.data();
  const int64_t nsb = p.k / 256, tiles = (p.n + kTile - 1) / kTile;
  const int64_t tb = packed::Q4kTileBytes(nsb);
  const uint8_t* wp = static_cast<const uint8_t*>(p.w_packed);
  ref::ParallelRange(pool, tiles, 1, [&, a](int64_t j0, int64_t j1) {
    kernels::internal::LoadTiles16x64();
    // Row chunks of up to 64 (4 groups of 16) share each expansion.
    for (int64_t mc = 0; mc < p.m; mc += kMChunk) {
      switch ((std::min(p.m, mc + kMChunk) - mc + 15) / 16) {
        case 1:
          TileRowsQ4k<1>(p, *a, at, wp, tb, j0, j1, mc);
          break;
        case 2:
          TileRowsQ4k<2>(p, *a, at, wp, tb, j0, j1, mc);
          break;
        case 3:
          TileRowsQ4k<3>(p, *a, at, wp, tb, j0, j1, mc);
          break;
        default:
          TileRowsQ4k<4>(p, *a, at, wp, tb, j0, j1, mc);
          break;
      }
    }
    _tile_release();
  });
}

}  // namespace

void PackedMatmulAmx(const MatmulParams& p, ThreadPool* pool) {
  if (p.w_type == DType::kQ4_K) return PackedMatmulAmxQ4k(p, pool);
  thread_local packed::Act act_buf;  // the caller's; jobs reach it through the pointer
  packed::Act* const a = &act_buf;
  // The quants in the A-tile layout: loaded from a row-major buffer (row stride k, a power of
  // two here) an A tile's 16 rows fell in 1-2 L1 sets, where the streaming weights evicted them.
  packed::QuantizeAct(p, 16, a, pool, /*tiled=*/true);
  const int8_t* at = a->q.data();
  const int64_t nb = p.k / 32, tiles = (p.n + kTile - 1) / kTile, tb = nb * (kQBytes + kSBytes);
  const uint8_t* wp = static_cast<const uint8_t*>(p.w_packed);
  const int64_t units = (tiles + 1) / 2;  // pairs of weight tiles
  ref::ParallelRange(pool, units, 1, [&, a](int64_t u0, int64_t u1) {
    LoadConfig();
    for (int64_t mc = 0; mc < p.m; mc += kMChunk) {
      const int64_t mend = std::min(p.m, mc + kMChunk);
      for (int64_t u = u0; u < u1; ++u) {
        const int64_t j = 2 * u;
        for (int64_t m0 = mc; m0 < mend; m0 += 16) {
          if (j + 1 < tiles) {
            TileRows2(p, *a, at, wp + j * tb, tb, m0, j * kTile);
          } else {
            TileRows(p, *a, at, wp + j * tb, m0, j * kTile);
          }
        }
      }
    }
    _tile_release();
  });
}

}  // namespace cachet::kernels::x86
