// AMX int8 matmul over the packed layouts of avx512_packed.h. q8_0: the AMX table's layout
// (PackWeightAmx: quants stored signed), TDPBSSD of activation and weight quants, no offset to
// remove; q4_k: whole super-blocks (amx_packed.cc). Bitwise equal to the VNNI kernels
// (PackedMatmulVnniSigned, PackedMatmulVnni over the +128 layout, packed::MatmulQ4k): each
// block's int32 dot product is exact either way, and the scales are applied with the same f32
// operations in the same order. So the AMX table may switch between them by M and stay
// batch-invariant.
//
// Preconditions: AmxAvailable() (amx_matmul.h), p.w_packed from PackWeightAmx.
// Thread-safety: reentrant; work split over weight tiles on `pool`; each thread loads its own
// tile config and releases it.
#pragma once

#include "base/thread_pool.h"
#include "kernels/kernels.h"

namespace cachet::kernels::x86 {

void PackedMatmulAmx(const MatmulParams& p, ThreadPool* pool);

}  // namespace cachet::kernels::x86
