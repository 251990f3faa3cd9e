// AVX-512 matmuls for the MatmulParams contract (kernels.h); declared here for the tables, the
// AMX dispatcher and the tests.
//
// Quantized weights (q8_0, q4_0, q4_k, q5_k, q6_k): the activation rows are quantized once per
// call to int8 with one f32 scale per 256 values (and the sum of each 16 quants), then every
// weight group of 256 values is decoded once to 4 vectors of unsigned 8-bit quants, a per-lane
// f32 scale and a per-16-values offset (the block min, or the zero point of signed formats),
// and dotted with all M activation rows (vpdpbusd with VNNI, vpmaddubsw + vpmaddwd without).
// So M rows cost one pass over the weights: batched decode and prefill reuse each weight load.
// Error vs exact: the weight math is exact in integers; the activation rounding to 8 bits adds
// |dy| <= sum_k |w_k| * d_x/2 (d_x = max|x| / 127 over each 256 values), ~0.4% of sum |w x|.
//
// f32 / f16 / bf16 weights: plain f32 FMAs (no activation rounding); error is f32 summation
// order only. Other types (mxfp4): rows dequantized to f32, then the same f32 path.
//
// Thread-safety: reentrant; work split over N on `pool`.
#pragma once

#include "base/thread_pool.h"
#include "kernels/kernels.h"

namespace cachet::kernels::x86 {

void MatmulAvx512(const MatmulParams& p, ThreadPool* pool);
void MatmulAvx512Vnni(const MatmulParams& p, ThreadPool* pool);

}  // namespace cachet::kernels::x86
