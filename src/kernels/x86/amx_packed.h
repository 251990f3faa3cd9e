// AMX int8 matmul over the packed q8_0 layout of avx512_packed.h (TDPBSUD on the raw quants:
// activations signed, weights stored +128 unsigned), bitwise equal to PackedMatmulVnni: each
// 32-value block's int32 dot product is exact either way, and the block scales are applied with
// the same f32 operations in the same order. So the AMX table may switch between the two by M
// and stay batch-invariant.
//
// Preconditions: AmxAvailable() (amx_matmul.h), p.w_packed from PackWeightVnni.
// Thread-safety: reentrant; work split over weight tiles on `pool`; each thread loads its own
// tile config and releases it.
#pragma once

#include "base/thread_pool.h"
#include "kernels/kernels.h"

namespace cachet::kernels::x86 {

void PackedMatmulAmx(const MatmulParams& p, ThreadPool* pool);

}  // namespace cachet::kernels::x86
