// What this CPU and OS let the kernels use: cpuid feature bits, the OS-enabled register state
// (XCR0 via xgetbv) and, for AMX, the Linux permission request for the tile data state.
//
// Thread-safety: CpuFeatures() computes once (thread-safe static) and returns the same object.
#pragma once

#include <string_view>

namespace cachet::kernels {

struct CpuInfo {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512dq = false, avx512vl = false;
  bool avx512_vnni = false, avx512_bf16 = false;
  bool amx_tile = false, amx_int8 = false, amx_bf16 = false;
  bool os_avx = false;         // XCR0 enables YMM state
  bool os_avx512 = false;      // XCR0 enables opmask + ZMM state
  bool os_amx = false;         // XCR0 enables XTILECFG + XTILEDATA
  bool amx_permitted = false;  // arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) succeeded
};

// Detected once per process. On non-x86 builds every field is false. The AMX permission request
// is made here (once), since the tile state must be requested before the first tile instruction;
// it is process-wide, so threads started later inherit it.
const CpuInfo& CpuFeatures();

// Kernel table levels in increasing order; each includes the one before it.
enum class IsaLevel { kRef = 0, kAvx2 = 1, kAvx512 = 2, kAvx512Vnni = 3, kAmx = 4 };

// Whether `info` satisfies the requirements of `level` (the exact -m flags of its files).
bool IsaSupported(const CpuInfo& info, IsaLevel level);
std::string_view IsaName(IsaLevel level);
// "ref" | "avx2" | "avx512" | "avx512_vnni" | "amx" -> level; false for an unknown name.
bool ParseIsa(std::string_view name, IsaLevel* level);

// The level Kernels() uses: the highest level <= the cap named by `cap_env` (the CACHET_ISA
// value) that `info` supports. *unknown_cap is set when cap_env names no level (the caller
// warns). Without a cap (null, empty or unknown) the best level is used: every table is
// batch-invariant (a row's result does not depend on how many rows share the call), which the
// serving engine's determinism rests on (same tokens alone or in a batch, cached or not); the
// AMX table's int8 tiles give bitwise the VNNI kernel's results. (Its bf16 tiles, which change
// the rounding with M, run only with CACHET_AMX_BF16=1.)
IsaLevel ChooseIsa(const CpuInfo& info, const char* cap_env, bool* unknown_cap);

}  // namespace cachet::kernels
