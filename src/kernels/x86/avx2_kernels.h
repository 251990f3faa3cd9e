// AVX2 + FMA + F16C kernels (same contracts as kernels.h). The matmul follows the method and
// error bound of avx512_matmul.h on 256-bit vectors; the element-wise kernels and attention
// follow avx512_ops.h (f32 sums, polynomial exp).
#pragma once

#include "base/thread_pool.h"
#include "kernels/kernels.h"

namespace cachet::kernels::x86 {

void MatmulAvx2(const MatmulParams& p, ThreadPool* pool);
void DequantizeRowAvx2(DType t, const void* src, float* dst, int64_t n);
void RmsNormAvx2(const float* x, int64_t x_stride, const float* w, float* y, int64_t y_stride,
                 int64_t n_rows, int64_t n, float eps);
void AttentionAvx2(const AttentionParams& p, ThreadPool* pool);
void SwigluAvx2(const float* gate, const float* up, float* out, int64_t n);
void AddAvx2(float* y, const float* x, int64_t n);

}  // namespace cachet::kernels::x86
