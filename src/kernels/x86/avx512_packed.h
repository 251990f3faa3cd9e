// Packed q8_0 weights for AVX-512 VNNI (KernelTable::pack_weight / MatmulParams::w_packed).
//
// Layout ("q8_0 x16"): the N rows are cut into tiles of 16; tile j holds, for each 32-value
// block b, 512 bytes of quants interleaved for vpdpbusd (chunk t = 0..7 at b*512 + 64t: row r's
// values 32b+4t..32b+4t+3 at bytes 4r..4r+3, stored as q + 128, unsigned; the AMX table's
// variant, PackWeightAmx, stores q itself), then the tile's
// f16 scales (block b at nb*512 + 32b, row r at 2r). Same bytes per weight as q8_0 (34 per 32).
// Needs K % 32 == 0 (PackedBytes returns 0 otherwise); when N is not a multiple of 16 the last
// tile's missing rows are zero and their outputs are never stored.
//
// The matmul quantizes each activation row to int8 with one scale per 32 values
// (d = max|x|/127, round to nearest even), forms each block's exact int32 dot product with one
// vpdpbusd per 4 values of 16 rows, and accumulates y = sum_b (isum_b * (w_d_b * x_d_b)) in
// f32, one fused multiply-add per block in block order. Every row m takes the same sequence
// of operations whatever M is and however rows are grouped or split over threads, so the result
// is bitwise batch-invariant (and identical for M = 1 decode, 16-row batches and prefill).
// Error vs exact: |dy| <= sum_b d_x,b/2 * sum_{k in b} |w_k| (activation rounding) plus f32
// accumulation (~1e-6 relative).
//
// Thread-safety: reentrant; work split over tiles on `pool`.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/x86/avx512_math.h"

namespace cachet::kernels::x86 {

// Bytes of the packed form of an [n, k] weight of type t, or 0 when t/n/k has none.
size_t PackedBytesVnni(DType t, int64_t n, int64_t k);
// Writes the packed form of w into dst (PackedBytesVnni bytes; 64-byte alignment preferred).
void PackWeightVnni(DType t, const void* w, int64_t n, int64_t k, void* dst, ThreadPool* pool);
// y = x W^T using p.w_packed (must be PackWeightVnni's output for p.w_type, p.n, p.k).
void PackedMatmulVnni(const MatmulParams& p, ThreadPool* pool);
// The AMX table's layout: the same, except that q8_0 quants are stored as they are (signed), so
// the AMX tiles multiply signed by signed with no offset to remove (amx_packed.h);
// PackedMatmulVnniSigned is the VNNI kernel over it (bitwise the same rows as the other two).
void PackWeightAmx(DType t, const void* w, int64_t n, int64_t k, void* dst, ThreadPool* pool);
void PackedMatmulVnniSigned(const MatmulParams& p, ThreadPool* pool);

// Shared with the AMX int8 kernel over the same layout (amx_packed.h), which must produce
// bitwise the same results.
namespace packed {
constexpr int64_t kTile = 16;     // weight rows per tile
constexpr int64_t kQBytes = 512;  // quant bytes per tile and 32-value block
constexpr int64_t kSBytes = 32;   // f16 scale bytes per tile and block
struct Act {
  int64_t nb = 0;
  std::vector<int8_t> q;      // [rows, nb * 32] (or tiled, see QuantizeAct)
  std::vector<float> d;       // [rows, nb] scale of each 32 values
  std::vector<int32_t> s128;  // [rows, nb] 128 * sum of the block's quants (+128 weight offset)
};
// Quantizes the p.m rows of p.x into a; rows up to a multiple of row_pad are zero. tiled: q in
// the AMX A-tile layout instead of row-major (rows in groups of 16; in group g, the 32-byte
// block c of row r at g * 16 * k + c * 512 + r * 32).
void QuantizeAct(const MatmulParams& p, int64_t row_pad, Act* a, ThreadPool* pool,
                 bool tiled = false);

// Activations for q4_k: one scale per 256 values (the super-block), as llama.cpp's q8_K.
struct Act256 {
  int64_t nsb = 0;
  std::vector<int8_t> q;      // [rows, nsb * 256] (or tiled, see QuantizeAct256)
  std::vector<float> d;       // [rows, nsb] max|x| / 127 of each 256 values
  std::vector<int16_t> bsum;  // [rows, nsb * 8] sum of each 32 quants
};
// tiled: q in the AMX A-tile layout instead of row-major (rows in groups of 16; in group g, the
// 64-byte block c of row r at g * 16 * k + c * 1024 + r * 64).
void QuantizeAct256(const MatmulParams& p, int64_t row_pad, Act256* a, ThreadPool* pool,
                    bool tiled = false);

// y[0 .. cols) (+)= the first min(cols, 16) lanes of f (cols < 16 only in the last tile of a
// weight whose rows are not a multiple of 16).
inline void StoreTile(float* y, __m512 f, bool accumulate, int64_t cols) {
  const __mmask16 m = Mask(cols);
  _mm512_mask_storeu_ps(y, m, accumulate ? _mm512_add_ps(_mm512_maskz_loadu_ps(m, y), f) : f);
}

// The 4 activation bytes at p broadcast to every int32 lane (vpdpbusd's signed operand).
inline __m512i Bcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

// Calls K<nt, mt>::Run(args...) for the (nt, mt) that ForTileBlocks hands out: nt 1..2 with
// mt 1..6, or nt 3..4 with mt 1. K is a class template wrapping a kernel instantiation.
template <template <int, int> class K, typename... Args>
void RunBlock(int nt, int mt, Args&&... args) {
  auto rows = [&]<int NT>() {
    switch (mt) {
      case 1:
        return K<NT, 1>::Run(args...);
      case 2:
        return K<NT, 2>::Run(args...);
      case 3:
        return K<NT, 3>::Run(args...);
      case 4:
        return K<NT, 4>::Run(args...);
      case 5:
        return K<NT, 5>::Run(args...);
      default:
        return K<NT, 6>::Run(args...);
    }
  };
  switch (nt) {
    case 1:
      return rows.template operator()<1>();
    case 2:
      return rows.template operator()<2>();
    case 3:
      return K<3, 1>::Run(args...);
    default:
      return K<4, 1>::Run(args...);
  }
}

// The register-blocking schedule of the VNNI kernels: tiles in groups of 4 for M <= 2 (four
// independent chains for decode), else 2 against up to 6 rows at a time; activation rows in
// chunks of 64 so their quants stay in L2 while the tiles pass. Calls run(ntile, mt, j0, m0)
// for tiles [j0, j0 + ntile) and rows [m0, m0 + mt), split over `pool` by tile groups.
template <int MaxRows = 6, typename Run>
void ForTileBlocks(const MatmulParams& p, ThreadPool* pool, Run run) {
  constexpr int64_t kMChunk = 64;
  const int64_t tiles = (p.n + kTile - 1) / kTile, nt = p.m <= 2 ? 4 : 2;
  const int64_t units = (tiles + nt - 1) / nt;
  ref::ParallelRange(pool, units, 1, [&](int64_t u0, int64_t u1) {
    for (int64_t mc = 0; mc < p.m; mc += kMChunk) {
      const int64_t mend = std::min(p.m, mc + kMChunk);
      for (int64_t u = u0; u < u1; ++u) {
        const int64_t j0 = u * nt;
        const int ntile = static_cast<int>(std::min(nt, tiles - j0));
        const int64_t mt_max = ntile > 2 ? 1 : MaxRows;
        for (int64_t m0 = mc; m0 < mend; m0 += mt_max) {
          run(ntile, static_cast<int>(std::min(mt_max, mend - m0)), j0, m0);
        }
      }
    }
  });
}

// q4_k ("q4_k x16", avx512_packed_q4k.cc): per tile of 16 rows, for each 256-value super-block
// sb: 2048 bytes of quants (sub-block pair c = 0..3, chunk t = 0..7 at sb*2048 + c*512 + 64t:
// row r's 4 bytes at 4r, low nibbles = sub-block 2c values 4t..4t+3, high nibbles = sub-block
// 2c+1), then after all super-blocks, per sb 320 bytes: d[16], dmin[16] (f16), sc[8][16] (the
// 6-bit scales, u8, sub-block j at 64 + 16j + r) and the 6-bit minimums in pairs (at 192 + 32i
// + 2r: m[2i][r], m[2i+1][r]). 2,368 bytes per 16 x 256 (q4_k: 2,304).
// Arithmetic, per super-block sb, with the activations of Act256 (x = xd * xq):
//   isum = sum_j sc_j * sum_{k in j} q_k xq_k,  imin = sum_j m_j * bsum_j   (exact int32)
//   y = fma(cvt(isum), d * xd, y);  y = fnmadd(cvt(imin), dmin * xd, y)     (f32, sb in order)
// The integers are exact however they are formed (VNNI per sub-block, AMX tiles of whole
// super-blocks), so every kernel and every M give bitwise the same rows.
// Error vs exact: |dy| <= sum_sb xd_sb / 2 * sum_{k in sb} |w_k| plus f32 rounding.
size_t Q4kBytes(int64_t n, int64_t k);
void PackQ4k(const void* w, int64_t n, int64_t k, void* dst, ThreadPool* pool);
void MatmulQ4k(const MatmulParams& p, ThreadPool* pool);
constexpr int64_t kQ4kSbQBytes = 2048;  // quant bytes per tile and super-block
constexpr int64_t kQ4kSbMBytes = 320;   // d, dmin, sc, m per tile and super-block
inline int64_t Q4kTileBytes(int64_t nsb) { return nsb * (kQ4kSbQBytes + kQ4kSbMBytes); }
// Super-block sb's meta (d, dmin, sc, m) in a tile of nsb super-blocks: after all its quants.
template <typename Byte>  // uint8_t or const uint8_t
inline Byte* Q4kMeta(Byte* tile, int64_t nsb, int64_t sb) {
  return tile + nsb * kQ4kSbQBytes + sb * kQ4kSbMBytes;
}

// The per-super-block f32 step shared by the VNNI and AMX q4_k kernels (see above); meta is
// the tile's 320 bytes of super-block sb, mpair its 4 minimum-pair vectors (MinPairs).
inline void MinPairs(const uint8_t* meta, __m512i mp[4]) {
  for (int i = 0; i < 4; ++i) {
    mp[i] = _mm512_cvtepu8_epi16(
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(meta + 192 + 32 * i)));
  }
}
inline __m512 Q4kFold(__m512 f, __m512i isum, const __m512i mp[4], const int16_t* bsum, __m512 d,
                      __m512 dmin, float xd) {
  __m512i imin = _mm512_setzero_si512();
  for (int i = 0; i < 4; ++i) {
    int32_t pair;
    std::memcpy(&pair, bsum + 2 * i, 4);
    imin = _mm512_dpwssd_epi32(imin, mp[i], _mm512_set1_epi32(pair));
  }
  const __m512 xv = _mm512_set1_ps(xd);
  f = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(d, xv), f);
  return _mm512_fnmadd_ps(_mm512_cvtepi32_ps(imin), _mm512_mul_ps(dmin, xv), f);
}
inline __m512 HalfToF32(const uint8_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
}  // namespace packed

}  // namespace cachet::kernels::x86
