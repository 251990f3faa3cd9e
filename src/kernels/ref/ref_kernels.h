// The scalar reference kernels: the executable spec of every KernelTable entry (kernels.h).
//
// Straight loops over the formulas of ../shared/specs/gguf.md §6 and kernels.h, with f64
// accumulation in matmul so that they are the yardstick the SIMD variants are tested against.
// The SIMD tables reuse the entries they do not specialise (e.g. dequantize_row for rare types).
//
// Thread-safety: all functions are reentrant; those taking a ThreadPool* split work over it.
#pragma once

#include <cstdint>

#include "base/status.h"
#include "base/thread_pool.h"
#include "kernels/kernels.h"
#include "tensor/dtype.h"

namespace cachet::kernels::ref {

// Decodes n elements of a row (n a multiple of the block size). Unknown or non-numeric types
// (i8..i64, f64 are decoded too; q4_1/q5_0/... are not) produce zeros; callers check
// DTypeTraits::supported_compute first.
void DequantizeRow(DType t, const void* src, float* dst, int64_t n);
Status QuantizeRow(DType t, const float* src, void* dst, int64_t n);

void Matmul(const MatmulParams& p, ThreadPool* pool);
void RmsNorm(const float* x, int64_t x_stride, const float* w, float* y, int64_t y_stride,
             int64_t n_rows, int64_t n, float eps);
void Rope(const RopeParams& p);
void Attention(const AttentionParams& p, ThreadPool* pool);
void Swiglu(const float* gate, const float* up, float* out, int64_t n);
void Add(float* y, const float* x, int64_t n);

// One KV element (kv_type f32/f16/bf16) as f32.
inline float KvLoad(DType t, const void* row, int64_t i) {
  if (t == DType::kF32) return static_cast<const float*>(row)[i];
  if (t == DType::kBF16) return BF16ToF32(static_cast<const bf16_t*>(row)[i]);
  return F16ToF32(static_cast<const f16_t*>(row)[i]);
}

// Runs fn(begin, end) over disjoint chunks covering [0, n) on the pool (or inline when pool is
// null / n <= grain); chunks are >= grain items and claimed dynamically, so fn may be called
// several times per thread.
void ParallelRange(ThreadPool* pool, int64_t n, int64_t grain,
                   const std::function<void(int64_t, int64_t)>& fn);

}  // namespace cachet::kernels::ref
