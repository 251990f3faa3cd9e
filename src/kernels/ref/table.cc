// The reference KernelTable and the public QuantizeRow (the reference quantizers are the only
// ones: quantizing is done when writing files, not on the hot path).
#include "kernels/ref/ref_kernels.h"

namespace cachet::kernels {

const KernelTable& RefKernels() {
  static const KernelTable table{"ref",     ref::Matmul,    ref::DequantizeRow, ref::RmsNorm,
                                 ref::Rope, ref::Attention, ref::Swiglu,        ref::Add};
  return table;
}

Status QuantizeRow(DType t, const float* src, void* dst, int64_t n) {
  return ref::QuantizeRow(t, src, dst, n);
}

}  // namespace cachet::kernels
