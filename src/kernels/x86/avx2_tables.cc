// The AVX2 table.
#include "kernels/ref/ref_kernels.h"
#include "kernels/x86/avx2_kernels.h"
#include "kernels/x86/x86_tables.h"

namespace cachet::kernels::x86 {

const KernelTable& Avx2Kernels() {
  static const KernelTable t{"avx2",    MatmulAvx2,    DequantizeRowAvx2, RmsNormAvx2,
                             ref::Rope, AttentionAvx2, SwigluAvx2,        AddAvx2};
  return t;
}

}  // namespace cachet::kernels::x86
