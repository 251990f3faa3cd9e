// AVX-512 element-wise kernels and paged attention (same contracts as kernels.h).
//
// Error vs ref: rms_norm and attention accumulate in f32 instead of f64 (relative ~1e-6 for
// rows of a few thousand); swiglu's exp is a degree-6 polynomial after range reduction
// (relative error < 3e-7, i.e. a few ulp); add is exact. rms_norm and swiglu may run in place
// (y == x, out == gate).
#pragma once

#include "base/thread_pool.h"
#include "kernels/kernels.h"

namespace cachet::kernels::x86 {

void DequantizeRowAvx512(DType t, const void* src, float* dst, int64_t n);
void RmsNormAvx512(const float* x, int64_t x_stride, const float* w, float* y, int64_t y_stride,
                   int64_t n_rows, int64_t n, float eps);
void AttentionAvx512(const AttentionParams& p, ThreadPool* pool);
void SwigluAvx512(const float* gate, const float* up, float* out, int64_t n);
void AddAvx512(float* y, const float* x, int64_t n);

}  // namespace cachet::kernels::x86
