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
    case IsaLevel::kRef:
      return &RefKernels();
#if CACHET_KERNELS_X86
#if CACHET_KERNELS_AVX2
    case IsaLevel::kAvx2:
      return &x86::Avx2Kernels();
#endif
    case IsaLevel::kAvx512:
      return &x86::Avx512Kernels();
    case IsaLevel::kAvx512Vnni:
      return &x86::Avx512VnniKernels();
    case IsaLevel::kAmx:
      return &x86::AmxKernels();
#endif
    default:
      return nullptr;
  }
}

const KernelTable* Choose() {
  const char* env = std::getenv("CACHET_ISA");
  bool unknown = false;
  const IsaLevel level = ChooseIsa(CpuFeatures(), env, &unknown);
  if (unknown) {
    LOG_WARN << "CACHET_ISA=" << env << " is not one of ref|avx2|avx512|avx512_vnni|amx; ignored";
  }
  const KernelTable* t = TableFor(level);
  return t != nullptr ? t : &RefKernels();  // a level without a table in this build
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
