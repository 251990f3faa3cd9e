// The kernel function table: every piece of math the model code calls.
//
// What to compute is fixed here (flat parameter structs, a shape comment on every pointer); how
// is chosen at run time: Kernels() returns the table for the best instruction set this CPU has
// (cpuid; AMX only after the arch_prctl permission request succeeds). kernels/ref/ holds the
// scalar reference implementation, which is the spec; x86/ holds AVX2 / AVX-512 (VNNI, BF16) /
// AMX variants, each tested against ref with a stated error bound. A future CUDA backend adds
// a table of its own behind the same types.
//
// Conventions (../shared/specs/gguf.md §0): a weight with ne=[K, N] is a row-major N x K matrix;
// row n is RowBytes(type, K) bytes. All activations are f32, row-major.
//
// Thread-safety: every function is reentrant. Functions taking a ThreadPool* split their work
// over it (nullptr = run on the calling thread); they must not be called from inside a pool job.
//
// Accuracy of the variants (each stated in its header, each tested against ref in
// x86/simd_test.cc): f32/f16/bf16 weights are multiplied in f32 (never through bf16/AMX), so
// only the summation order differs from ref; quantized weights may be multiplied against
// activations rounded to int8 with one scale per 256 values (x86/avx512_matmul.h gives the
// bound); packed q8_0 (x86/avx512_packed.h) uses one activation scale per 32 values, and the
// AMX table's int8 tiles reproduce it bitwise (x86/amx_packed.h). Only CACHET_AMX_BF16=1 routes
// other types through AMX bf16 tiles for M >= 16 (x86/amx_matmul.h), not batch-invariant.
//
// Adding a variant: docs/howto/add-a-kernel.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/status.h"
#include "base/thread_pool.h"
#include "tensor/dtype.h"

namespace cachet::kernels {

// y = x W^T (+ y if accumulate): y[m][n] = sum_k x[m][k] * W[n][k].
struct MatmulParams {
  DType w_type;     // any type with DTypeTraits::supported_compute
  const void* w;    // [N, K] in w_type, rows of RowBytes(w_type, K) bytes, contiguous
  const float* x;   // [M, K], row stride ldx floats
  float* y;         // [M, N], row stride ldy floats
  int64_t m = 0;    // tokens (1 for single-sequence decode, 16 for batched decode, 512 prefill)
  int64_t n = 0;    // output features
  int64_t k = 0;    // input features; multiple of the block size of w_type
  int64_t ldx = 0;  // >= k
  int64_t ldy = 0;  // >= n
  bool accumulate = false;  // y += x W^T instead of y = x W^T
  // Optional: the same weight in the packed layout of the table that runs this matmul, made by
  // its pack_weight() (w stays set: tables without that layout, and row lookups, use w). A
  // table's result with w_packed is batch-invariant like without it, with that layout's bound.
  const void* w_packed = nullptr;
};

// Rotary embedding applied in place to [n_tokens, n_heads, head_dim] rows of stride
// `row_stride` floats per token (heads are contiguous, head_dim apart). Only the first n_rot
// dims of each head rotate; pair i (0 <= i < n_rot/2) rotates by angle pos * inv_freq[i], and
// the rotated values are scaled by `mscale` (YaRN magnitude; 1 otherwise). Pairing: kNorm pairs
// (2i, 2i+1) (llama, deepseek), kNeox pairs (i, i + n_rot/2) (qwen).
enum class RopeMode { kNorm, kNeox };
struct RopeParams {
  float* x;               // [n_tokens, n_heads, head_dim] with token stride row_stride
  const int32_t* pos;     // [n_tokens] absolute positions
  const float* inv_freq;  // [n_rot / 2]: all rope scaling (linear, llama3, yarn) is folded here
  int64_t n_tokens = 0;
  int64_t n_heads = 0;
  int64_t head_dim = 0;
  int64_t n_rot = 0;       // even, <= head_dim
  int64_t row_stride = 0;  // floats between tokens, >= n_heads * head_dim
  float mscale = 1.0f;
  RopeMode mode = RopeMode::kNorm;
};

// Causal attention of one sequence's query tokens over its KV cache, stored in fixed-size
// blocks (the paged KV pool). For query token t at absolute position q_pos[t], keys 0..q_pos[t]
// are visible (and < n_kv). GQA: query head h reads KV head h / (n_heads / n_kv_heads).
// out[t][h] = sum_j softmax_j(scale * q[t][h] . k[j][kvh]) v[j][kvh]   (softmax in f32).
struct AttentionParams {
  const float* q;        // [n_q, n_heads, head_dim], token stride q_stride floats
  float* out;            // [n_q, n_heads, head_dim_v], token stride out_stride floats
  const int32_t* q_pos;  // [n_q]
  const void* const*
      k_blocks;  // [ceil(n_kv / block_tokens)] each [block_tokens, n_kv_heads, head_dim]
                 // (or [n_kv_heads, block_tokens, head_dim] with head_major)
  const void* const* v_blocks;  // same, each [block_tokens, n_kv_heads, head_dim_v]
  DType kv_type = DType::kF16;  // f32, f16 or bf16
  int64_t n_q = 0;
  int64_t n_kv = 0;  // valid KV tokens (positions 0..n_kv-1)
  int64_t block_tokens = 64;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t head_dim_v = 0;
  int64_t q_stride = 0;
  int64_t out_stride = 0;
  float scale = 1.0f;
  // Elements between consecutive tokens' rows inside a block; 0 = n_kv_heads * head_dim (K) and
  // n_kv_heads * head_dim_v (V). MLA passes its latent rows as both K and V: K = the whole row
  // (r_kv + r), V = its first r_kv values, both with row stride r_kv + r.
  int64_t k_row_stride = 0;
  int64_t v_row_stride = 0;
  // Head-major blocks, [n_kv_heads, block_tokens, dim]: one head's rows are contiguous (the
  // dense models' layout, so a 16-key block of one head is one sequential read). Row strides
  // are then ignored.
  bool head_major = false;
};

// Address of token j's row for KV head kvh in paged blocks (K: dim = head_dim, V: head_dim_v).
inline const void* AttentionKvRow(const AttentionParams& p, const void* const* blocks, int64_t j,
                                  int64_t kvh, int64_t dim, bool is_v) {
  const int64_t esize = p.kv_type == DType::kF32 ? 4 : 2;
  const auto* blk = static_cast<const uint8_t*>(blocks[j / p.block_tokens]);
  if (p.head_major) return blk + ((kvh * p.block_tokens + j % p.block_tokens) * dim) * esize;
  const int64_t stride = is_v ? p.v_row_stride : p.k_row_stride;
  const int64_t row = stride > 0 ? stride : p.n_kv_heads * dim;
  return blk + ((j % p.block_tokens) * row + kvh * dim) * esize;
}

struct KernelTable {
  std::string_view isa;  // "ref", "avx2", "avx512", "avx512_vnni", "amx"

  void (*matmul)(const MatmulParams& p, ThreadPool* pool);
  // Decode n elements (a multiple of the block size) of a row in any known type to f32.
  void (*dequantize_row)(DType t, const void* src, float* dst, int64_t n);
  // y[r] = x[r] / sqrt(mean(x[r]^2) + eps) * w   for rows r < n_rows of n floats (strides in
  // floats). May run in place: y == x (with y_stride == x_stride) is allowed.
  void (*rms_norm)(const float* x, int64_t x_stride, const float* w, float* y, int64_t y_stride,
                   int64_t n_rows, int64_t n, float eps);
  void (*rope)(const RopeParams& p);
  void (*attention)(const AttentionParams& p, ThreadPool* pool);
  // out[i] = silu(gate[i]) * up[i], silu(x) = x / (1 + exp(-x)). May run in place: out == gate
  // (or out == up) is allowed.
  void (*swiglu)(const float* gate, const float* up, float* out, int64_t n);
  // y[i] += x[i].
  void (*add)(float* y, const float* x, int64_t n);
  // Optional packed weight layouts (nullptr when the table has none). packed_bytes: bytes of
  // the packed form of an [n, k] weight of type t, or 0 when this table has none for that type
  // and shape. pack_weight: writes it into dst (packed_bytes long, 64-byte aligned); pass dst as
  // MatmulParams::w_packed to this same table's matmul. Packing costs one pass over the weight.
  // Layouts are row-group-major (see PackedRows below for slices of rows).
  size_t (*packed_bytes)(DType t, int64_t n, int64_t k) = nullptr;
  void (*pack_weight)(DType t, const void* w, int64_t n, int64_t k, void* dst,
                      ThreadPool* pool) = nullptr;
};

// The table for this CPU's best ISA (computed once, thread-safe). CACHET_ISA=ref|avx2|avx512|
// avx512_vnni|amx in the environment caps the choice (for tests and benchmarks): the best table
// at or below that level which this CPU runs; an unknown value is ignored with a warning.
const KernelTable& Kernels();
// The table for a named ISA, or nullptr if this CPU cannot run it.
const KernelTable* KernelsFor(std::string_view isa);
// The scalar reference table (always available).
const KernelTable& RefKernels();

// Rows [row0, row0 + rows) of a weight packed by kt.pack_weight, as a packed weight of its own
// (for MatmulParams::w_packed with n = rows), or nullptr when row0 does not start one of the
// layout's row groups (then use the unpacked rows). Layouts are row-group-major: the packed
// form of rows [0, r) is a prefix of packed_bytes(t, r, k) bytes rounded to whole groups.
const void* PackedRows(const KernelTable& kt, DType t, const void* packed, int64_t k, int64_t row0);

// Quantize n floats (a multiple of the block size) into one row of type t: f32, f16, bf16, q8_0,
// q4_0, q4_k, q5_k, q6_k, mxfp4. Used by the GGUF writer; round-to-nearest with the per-block
// scale search of the reference quantizers (ref/quantize.cc). Returns InvalidArgument for an n
// that is not a multiple of the block size or a type it cannot write. dst must hold
// RowBytes(t, n) bytes.
Status QuantizeRow(DType t, const float* src, void* dst, int64_t n);

}  // namespace cachet::kernels
