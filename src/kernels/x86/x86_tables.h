// The x86 kernel tables. Each is defined in a file compiled with its own -m flags
// (src/kernels/CMakeLists.txt) and must only be used after IsaSupported() said yes; dispatch.cc
// is the only caller.
#pragma once

#include "kernels/kernels.h"

namespace cachet::kernels::x86 {

const KernelTable& Avx2Kernels();        // AVX2 + FMA + F16C
const KernelTable& Avx512Kernels();      // AVX-512 F/BW/DQ/VL (int8 dots via vpmaddubsw)
const KernelTable& Avx512VnniKernels();  // + VNNI (vpdpbusd)
const KernelTable& AmxKernels();         // + AMX tiles for prefill-sized matmuls

}  // namespace cachet::kernels::x86
