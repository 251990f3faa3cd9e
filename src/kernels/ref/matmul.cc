// Reference matmul: dequantize each weight row to f32, dot in f64.
#include <algorithm>
#include <atomic>
#include <vector>

#include "kernels/ref/ref_kernels.h"

namespace cachet::kernels::ref {

void ParallelRange(ThreadPool* pool, int64_t n, int64_t grain,
                   const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  if (pool == nullptr || pool->size() == 1 || n <= grain) {
    fn(0, n);
    return;
  }
  // Chunks are handed out dynamically (about 8 per thread) rather than split evenly up front:
  // on a shared machine a preempted thread then costs its current chunk, not half the work.
  const int64_t chunk = std::max<int64_t>(grain, n / (8 * pool->size()));
  std::atomic<int64_t> next{0};
  pool->Run([&](int, int) {
    for (;;) {
      const int64_t b = next.fetch_add(chunk, std::memory_order_relaxed);
      if (b >= n) return;
      fn(b, std::min(n, b + chunk));
    }
  });
}

void Matmul(const MatmulParams& p, ThreadPool* pool) {
  const int64_t row_bytes = RowBytes(p.w_type, p.k);
  ParallelRange(pool, p.n, 16, [&](int64_t n0, int64_t n1) {
    std::vector<float> w(p.k);
    for (int64_t n = n0; n < n1; ++n) {
      DequantizeRow(p.w_type, static_cast<const uint8_t*>(p.w) + n * row_bytes, w.data(), p.k);
      for (int64_t m = 0; m < p.m; ++m) {
        const float* x = p.x + m * p.ldx;
        double s = 0;
        for (int64_t k = 0; k < p.k; ++k) s += static_cast<double>(w[k]) * x[k];
        float& y = p.y[m * p.ldy + n];
        y = p.accumulate ? static_cast<float>(y + s) : static_cast<float>(s);
      }
    }
  });
}

}  // namespace cachet::kernels::ref
