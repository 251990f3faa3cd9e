// AMX bf16 GEMM: see amx_matmul.h for the method and error bound.
//
// Layouts (all bf16, u16 elements):
//   weight panel wp: kPanelN rows of K values, row-major (A tiles: 16 rows x 32 k, stride 2K B).
//   packed x xp: per m-tile mt (16 rows) and k-block kb (32 values), one 1 KiB B tile in VNNI
//     order: xp[((mt * n_kb + kb) * 16 + kp) * 32 + m * 2 + h] = x[16 mt + m][32 kb + 2 kp + h].
//   TDPBF16PS then gives C[n][m] += sum_k W[n][k] x[m][k], i.e. a 16x16 tile of y^T.
#include "kernels/x86/amx_matmul.h"

#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

namespace cachet::kernels {
namespace {

constexpr int kTile = 16;                // tile rows (m or n)
constexpr int kKB = 32;                  // k per tile step (bf16 pairs x 16)
constexpr int kPanelN = 32;              // weight rows per panel (2 A tiles)
constexpr int kBlockM = 32;              // x rows per step (2 B tiles)
constexpr int kTileElems = kTile * kKB;  // u16 elements per tile

struct AlignedFree {
  void operator()(void* p) const { std::free(p); }
};
using U16Buf = std::unique_ptr<uint16_t[], AlignedFree>;

// Grow-only scratch buffer: a fresh allocation per call of these sizes (>= 128 KiB) is an mmap
// plus page faults every call, which showed up as ~15% of batched-decode time.
struct Scratch {
  U16Buf buf;
  int64_t cap = 0;
  uint16_t* Get(int64_t n);
};

U16Buf AllocU16(int64_t n) {
  size_t bytes = (static_cast<size_t>(n) * 2 + 63) / 64 * 64;
  return U16Buf(static_cast<uint16_t*>(std::aligned_alloc(64, bytes)));
}

uint16_t* Scratch::Get(int64_t n) {
  if (n > cap) {
    buf = AllocU16(n);
    cap = n;
  }
  return buf.get();
}

// ---- conversion / packing ------------------------------------------------------------------

// dst[i] = bf16(src[i]); n a multiple of 32.
void RowToBF16(const float* src, uint16_t* dst, int64_t n, bool vec) {
  if (!vec) {
    for (int64_t i = 0; i < n; ++i) dst[i] = F32ToBF16(src[i]);
    return;
  }
  for (int64_t i = 0; i < n; i += 32) {
    __m512 lo = _mm512_loadu_ps(src + i), hi = _mm512_loadu_ps(src + i + 16);
    __m512bh v = _mm512_cvtne2ps_pbh(hi, lo);
    _mm512_storeu_si512(dst + i, reinterpret_cast<__m512i>(v));
  }
}

// Packs m-tiles [mt0, mt1) of x into xp (rows m >= p.m are zero).
void PackX(const MatmulParams& p, uint16_t* xp, int64_t mt0, int64_t mt1, bool vec) {
  const int64_t n_kb = p.k / kKB;
  alignas(64) static constexpr int32_t kScatter[16] = {0,   16,  32,  48,  64,  80,  96,  112,
                                                       128, 144, 160, 176, 192, 208, 224, 240};
  for (int64_t mt = mt0; mt < mt1; ++mt) {
    uint16_t* tiles = xp + mt * n_kb * kTileElems;
    for (int r = 0; r < kTile; ++r) {
      const int64_t m = mt * kTile + r;
      for (int64_t kb = 0; kb < n_kb; ++kb) {
        uint16_t* t = tiles + kb * kTileElems + r * 2;  // column r of the tile, pair kp at +32 kp
        if (m >= p.m) {
          for (int kp = 0; kp < kKB / 2; ++kp) t[kp * 32] = t[kp * 32 + 1] = 0;
          continue;
        }
        const float* xs = p.x + m * p.ldx + kb * kKB;
        if (vec) {
          __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(xs + 16), _mm512_loadu_ps(xs));
          const __m512i idx = _mm512_load_si512(kScatter);  // pair kp -> dword 16 kp
          _mm512_i32scatter_epi32(t, idx, reinterpret_cast<__m512i>(v), 4);
        } else {
          for (int k = 0; k < kKB; ++k) t[(k / 2) * 32 + (k & 1)] = F32ToBF16(xs[k]);
        }
      }
    }
  }
}

// Dequantizes weight rows [n0, n0 + kPanelN) into wp (rows >= n are zero).
void PackPanel(const MatmulParams& p, int64_t n0, float* row, uint16_t* wp, bool vec) {
  const int64_t row_bytes = RowBytes(p.w_type, p.k);
  const auto* w = static_cast<const uint8_t*>(p.w);
  for (int r = 0; r < kPanelN; ++r) {
    uint16_t* dst = wp + r * p.k;
    if (n0 + r >= p.n) {
      std::memset(dst, 0, static_cast<size_t>(p.k) * 2);
      continue;
    }
    if (p.w_type == DType::kBF16) {
      std::memcpy(dst, w + (n0 + r) * row_bytes, static_cast<size_t>(p.k) * 2);
      continue;
    }
    const uint8_t* src = w + (n0 + r) * row_bytes;
    if (vec && internal::AmxDequantizeRowBF16(p.w_type, src, dst, p.k)) continue;
    internal::AmxDequantizeRow(p.w_type, src, row, p.k);
    RowToBF16(row, dst, p.k, vec);
  }
}

// ---- tile compute --------------------------------------------------------------------------

using internal::TileConfig;

// c[4][16][16] = C tiles (n-tile i, m-tile j at c[2 i + j]) for the 32x32 block.
void BlockAmx(const uint16_t* wp, int64_t k, const uint16_t* xp0, const uint16_t* xp1, float* c) {
  const int64_t n_kb = k / kKB, stride = k * 2;
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (int64_t kb = 0; kb < n_kb; ++kb) {
    _tile_loadd(4, wp + kb * kKB, stride);
    _tile_loadd(5, wp + kTile * k + kb * kKB, stride);
    _tile_loadd(6, xp0 + kb * kTileElems, 64);
    _tile_loadd(7, xp1 + kb * kTileElems, 64);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  _tile_stored(0, c, 64);
  _tile_stored(1, c + 256, 64);
  _tile_stored(2, c + 512, 64);
  _tile_stored(3, c + 768, 64);
}

// Scalar model of BlockAmx (TDPBF16PS semantics: per pair, f32 products summed into C).
void BlockEmulated(const uint16_t* wp, int64_t k, const uint16_t* xp0, const uint16_t* xp1,
                   float* c) {
  const int64_t n_kb = k / kKB;
  std::memset(c, 0, 4 * 256 * sizeof(float));
  for (int64_t kb = 0; kb < n_kb; ++kb) {
    for (int i = 0; i < 2; ++i) {
      for (int j = 0; j < 2; ++j) {
        const uint16_t* b = (j ? xp1 : xp0) + kb * kTileElems;
        float* ct = c + (2 * i + j) * 256;
        for (int n = 0; n < kTile; ++n) {
          const uint16_t* a = wp + (i * kTile + n) * k + kb * kKB;
          for (int m = 0; m < kTile; ++m) {
            float acc = ct[n * kTile + m];
            for (int kp = 0; kp < kKB / 2; ++kp) {
              acc += BF16ToF32(a[2 * kp]) * BF16ToF32(b[kp * 32 + 2 * m]) +
                     BF16ToF32(a[2 * kp + 1]) * BF16ToF32(b[kp * 32 + 2 * m + 1]);
            }
            ct[n * kTile + m] = acc;
          }
        }
      }
    }
  }
}

// y[m0 + m][n0 + n] (+)= c[n][m] for the in-range part of the 32x32 block.
void StoreBlock(const MatmulParams& p, int64_t m0, int64_t n0, const float* c) {
  const int mm = static_cast<int>(std::min<int64_t>(kBlockM, p.m - m0));
  const int nn = static_cast<int>(std::min<int64_t>(kPanelN, p.n - n0));
  for (int m = 0; m < mm; ++m) {
    float* y = p.y + (m0 + m) * p.ldy + n0;
    const float* cm = c + (m / kTile) * 256 + (m % kTile);
    for (int n = 0; n < nn; ++n) {
      const float v = cm[(n / kTile) * 512 + (n % kTile) * kTile];
      y[n] = p.accumulate ? y[n] + v : v;
    }
  }
}

// amx: tile instructions (else the scalar model); vec: AVX512-BF16 packing (else scalar).
void Run(const MatmulParams& p, ThreadPool* pool, bool amx, bool vec) {
  const int64_t n_mt = (p.m + kBlockM - 1) / kBlockM * 2;  // m-tiles, even
  const int64_t n_panels = (p.n + kPanelN - 1) / kPanelN;
  const int64_t n_kb = p.k / kKB;
  thread_local Scratch xp_buf;  // the caller's; jobs use the pointer below, not the thread_local
  uint16_t* const xp = xp_buf.Get(n_mt * n_kb * kTileElems);
  const int nth = pool ? pool->size() : 1;
  auto pack_x = [&](int ith, int nt) { PackX(p, xp, n_mt * ith / nt, n_mt * (ith + 1) / nt, vec); };
  auto compute = [&](int ith, int nt) {
    const int64_t pa = n_panels * ith / nt, pb = n_panels * (ith + 1) / nt;
    if (pa >= pb) return;
    if (amx) internal::LoadTiles16x64();
    thread_local Scratch wp_buf;  // per thread: each packs its own weight panels
    uint16_t* const wp = wp_buf.Get(kPanelN * p.k);
    thread_local std::vector<float> row;
    row.resize(static_cast<size_t>(p.k));
    alignas(64) float c[4 * 256];
    for (int64_t pi = pa; pi < pb; ++pi) {
      PackPanel(p, pi * kPanelN, row.data(), wp, vec);
      for (int64_t mt = 0; mt < n_mt; mt += 2) {
        const uint16_t* x0 = xp + mt * n_kb * kTileElems;
        const uint16_t* x1 = x0 + n_kb * kTileElems;
        if (amx) {
          BlockAmx(wp, p.k, x0, x1, c);
        } else {
          BlockEmulated(wp, p.k, x0, x1, c);
        }
        StoreBlock(p, mt * kTile, pi * kPanelN, c);
      }
    }
    if (amx) _tile_release();
  };
  if (pool != nullptr && nth > 1) {
    pool->Run(pack_x);
    pool->Run(compute);
  } else {
    pack_x(0, 1);
    compute(0, 1);
  }
}

bool DetectAmx() {
  // cpuid leaf 7 subleaf 0: EDX bit 22 AMX-BF16, 24 AMX-TILE, 25 AMX-INT8; leaf 7 subleaf 1
  // EAX bit 5 AVX512-BF16 (used for the conversions).
  unsigned a, b, c, d;
  __asm__("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0), "c"(0));
  if (a < 7) return false;
  __asm__("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(7), "c"(0));
  const bool tiles = ((d >> 22) & 1) && ((d >> 24) & 1) && ((d >> 25) & 1);
  const bool avx512 = ((b >> 16) & 1) && ((b >> 30) & 1);  // AVX512F, AVX512BW
  __asm__("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(7), "c"(1));
  const bool bf16 = (a >> 5) & 1;
  if (!tiles || !avx512 || !bf16) return false;
  constexpr long kArchReqXcompPerm = 0x1023;
  constexpr long kXFeatureXTileData = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXFeatureXTileData) == 0;
}

}  // namespace

bool AmxAvailable() {
  static const bool available = DetectAmx();
  return available;
}

bool AmxMatmulSupported(DType w_type) {
  switch (w_type) {
    case DType::kF32:
    case DType::kF16:
    case DType::kBF16:
    case DType::kQ8_0:
    case DType::kQ4_0:
    case DType::kQ4_K:
    case DType::kQ5_K:
    case DType::kQ6_K:
      return true;
    default:
      return false;
  }
}

void AmxMatmul(const MatmulParams& p, ThreadPool* pool) {
  if (p.m <= 0 || p.n <= 0) return;
  Run(p, pool, /*amx=*/true, /*vec=*/true);
}

namespace internal {
void AmxMatmulEmulated(const MatmulParams& p, ThreadPool* pool, bool vector_packing) {
  if (p.m <= 0 || p.n <= 0) return;
  Run(p, pool, /*amx=*/false, vector_packing);
}
}  // namespace internal

}  // namespace cachet::kernels
