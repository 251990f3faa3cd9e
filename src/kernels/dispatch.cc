// Kernels() / KernelsFor(): pick a table by what the CPU can run, capped by CACHET_ISA.
#include <cstdlib>
#include <string>

#include "base/log.h"
#include "kernels/cpu_features.h"
#include "kernels/kernels.h"
#if CACHET_KERNELS_X86
#include "kernels/x86/x86_tables.h"
#endif

namespace cachet::kernels {
namespace {

const KernelTable* TableFor(IsaLevel level) {
  if (!IsaSupported(CpuFeatures(), level)) return nullptr;
  switch (level) {
    case IsaLevel::kRef: return &RefKernels();
#if CACHET_KERNELS_X86
#if CACHET_KERNELS_AVX2
    case IsaLevel::kAvx2: return &x86::Avx2Kernels();
#endif
    case IsaLevel::kAvx512: return &x86::Avx512Kernels();
    case IsaLevel::kAvx512Vnni: return &x86::Avx512VnniKernels();
    case IsaLevel::kAmx: return &x86::AmxKernels();
#endif
    default: return nullptr;
  }
}

const KernelTable* Choose() {
  IsaLevel cap = IsaLevel::kAmx;
  if (const char* env = std::getenv("CACHET_ISA"); env != nullptr && *env != '\0') {
    if (!ParseIsa(env, &cap)) {
      LOG_WARN << "CACHET_ISA=" << env << " is not one of ref|avx2|avx512|avx512_vnni|amx; ignored";
      cap = IsaLevel::kAmx;
    }
  }
  for (int l = static_cast<int>(cap); l >= 0; --l) {
    if (const KernelTable* t = TableFor(static_cast<IsaLevel>(l))) return t;
  }
  return &RefKernels();
}

}  // namespace

const KernelTable& Kernels() {
  static const KernelTable* const table = Choose();  // thread-safe static initialisation
  return *table;
}

const KernelTable* KernelsFor(std::string_view isa) {
  IsaLevel level;
  if (!ParseIsa(isa, &level)) return nullptr;
  return TableFor(level);
}

}  // namespace cachet::kernels
