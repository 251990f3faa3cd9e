// AMX GEMM benchmark: GFLOP/s of AmxMatmul at prefill shapes of Llama-3.2-1B, a peak probe
// of TDPBF16PS / TDPBSSD on tiles already in registers (the ceiling to compare against), and an
// overlap probe: whether tile loads + products run alongside zmm stores (they do not on the
// project's machines, which is why the packed AMX kernels interleave the two in small pieces).
//
// Usage: amx_bench [threads=1] [m=512] [reps=3]. Prints one line per measurement.
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/x86/amx_matmul.h"

namespace cachet::kernels {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Four independent accumulators fed by two A and two B tiles: 4 x 16*16*32*2 flops per step
// for bf16 (k = 32 bf16 per 64-byte row), 4 x 16*16*64*2 ops for int8.
template <bool kInt8>
double PeakProbe(int64_t iters) {
  internal::LoadTiles16x64();
  alignas(64) static uint8_t buf[1024];
  for (int i = 0; i < 1024; ++i) buf[i] = static_cast<uint8_t>(i % 7 ? 0x3c : 0);
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  _tile_loadd(4, buf, 64);
  _tile_loadd(5, buf, 64);
  _tile_loadd(6, buf, 64);
  _tile_loadd(7, buf, 64);
  const double t0 = Now();
  for (int64_t i = 0; i < iters; ++i) {
    if constexpr (kInt8) {
      _tile_dpbssd(0, 4, 6);
      _tile_dpbssd(1, 4, 7);
      _tile_dpbssd(2, 5, 6);
      _tile_dpbssd(3, 5, 7);
    } else {
      _tile_dpbf16ps(0, 4, 6);
      _tile_dpbf16ps(1, 4, 7);
      _tile_dpbf16ps(2, 5, 6);
      _tile_dpbf16ps(3, 5, 7);
    }
  }
  const double dt = Now() - t0;
  alignas(64) static float out[256];
  _tile_stored(0, out, 64);
  _tile_release();
  const double ops = 4.0 * iters * 16 * 16 * (kInt8 ? 64 : 32) * 2;
  return ops / dt / 1e9;
}

// ns per iteration of: 12 tile loads + 8 TDPBSUD (an AMX q4_k super-block's tile work), 64
// zmm stores to another buffer (half of its expansion's), and both in one loop. Overlapping
// units give max(a, b) for both; the sum means they take turns.
void OverlapProbe(int64_t iters) {
  internal::LoadTiles16x64();
  alignas(4096) static int8_t buf[16384];
  std::memset(buf, 1, sizeof(buf));
  auto run = [&](bool tiles, bool stores) {
    __m512i v = _mm512_set1_epi32(3);
    const double t0 = Now();
    for (int64_t i = 0; i < iters; ++i) {
      if (tiles) {
        for (int c = 0; c < 4; ++c) {
          _tile_loadd(0, buf + 1024 * c, 64);
          _tile_loadd(2, buf + 4096 + 2048 * c, 64);
          _tile_dpbsud(4, 0, 2);
          _tile_loadd(3, buf + 5120 + 2048 * c, 64);
          _tile_dpbsud(5, 0, 3);
        }
      }
      if (stores) {
        for (int k = 0; k < 64; ++k) _mm512_store_si512(buf + 12288 + 64 * (k & 31), v);
        v = _mm512_add_epi32(v, _mm512_set1_epi32(1));
      }
    }
    return (Now() - t0) / static_cast<double>(iters) * 1e9;
  };
  const double a = run(true, false), b = run(false, true), ab = run(true, true);
  _tile_release();
  std::printf("overlap 12 tile loads + 8 products: %.1f ns, 64 zmm stores: %.1f ns, both: %.1f ns "
              "(max %.1f, sum %.1f)\n", a, b, ab, std::max(a, b), a + b);
}

std::vector<uint8_t> RandomWeight(DType t, int64_t n, int64_t k) {
  std::vector<uint8_t> w(static_cast<size_t>(RowBytes(t, k) * n));
  std::mt19937 rng(1);
  for (auto& b : w) b = static_cast<uint8_t>(rng());
  const int64_t bs = Traits(t).block_bytes;
  const size_t d_off = t == DType::kQ6_K ? 208 : 0;  // keep scales finite and small
  if (t != DType::kF32 && t != DType::kF16 && t != DType::kBF16) {
    for (size_t i = 0; i + bs <= w.size(); i += bs) {
      f16_t h = F32ToF16(0.001f);
      std::memcpy(w.data() + i + d_off, &h, 2);
      if (t == DType::kQ4_K) std::memcpy(w.data() + i + 2, &h, 2);
    }
  }
  return w;
}

void BenchGemm(DType t, int64_t m, int64_t n, int64_t k, ThreadPool* pool, int reps) {
  std::vector<uint8_t> w = RandomWeight(t, n, k);
  std::vector<float> x(static_cast<size_t>(m * k), 0.5f), y(static_cast<size_t>(m * n));
  MatmulParams p{t, w.data(), x.data(), y.data(), m, n, k, k, n, false};
  AmxMatmul(p, pool);  // warm-up
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const double t0 = Now();
    AmxMatmul(p, pool);
    best = std::min(best, Now() - t0);
  }
  std::printf("gemm %-5s M=%ld N=%ld K=%ld threads=%d: %.2f ms, %.1f GFLOP/s\n",
              std::string(DTypeName(t)).c_str(), static_cast<long>(m), static_cast<long>(n),
              static_cast<long>(k), pool ? pool->size() : 1, best * 1e3,
              2.0 * m * n * k / best / 1e9);
}

}  // namespace
}  // namespace cachet::kernels

int main(int argc, char** argv) {
  using namespace cachet::kernels;
  const int threads = argc > 1 ? std::atoi(argv[1]) : 1;
  const int64_t m = argc > 2 ? std::atoll(argv[2]) : 512;
  const int reps = argc > 3 ? std::atoi(argv[3]) : 3;
  if (!AmxAvailable()) {
    std::printf("AMX not available on this CPU/kernel\n");
    return 0;
  }
  std::printf("peak TDPBF16PS 1 thread: %.1f GFLOP/s\n", PeakProbe<false>(20000000));
  std::printf("peak TDPBSSD   1 thread: %.1f GOP/s\n", PeakProbe<true>(20000000));
  OverlapProbe(2000000);
  cachet::ThreadPool pool(threads);
  const struct { int64_t n, k; } shapes[] = {{2048, 2048}, {8192, 2048}, {2048, 8192}};
  for (cachet::DType t :
       {cachet::DType::kQ8_0, cachet::DType::kQ4_K, cachet::DType::kF16, cachet::DType::kBF16}) {
    for (const auto& s : shapes) BenchGemm(t, m, s.n, s.k, &pool, reps);
  }
  return 0;
}
