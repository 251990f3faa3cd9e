// The AVX-512 tables (with and without VNNI) and the AMX table, which adds tile matmuls for
// prefill-sized quantized/half products on top of AVX-512 VNNI.
#include "kernels/ref/ref_kernels.h"
#include "kernels/x86/amx_matmul.h"
#include "kernels/x86/avx512_matmul.h"
#include "kernels/x86/avx512_ops.h"
#include "kernels/x86/avx512_packed.h"
#include "kernels/x86/x86_tables.h"

namespace cachet::kernels::x86 {
namespace {

constexpr int64_t kAmxMinM = 16;

// Packed q8_0 weights (avx512_packed.h) when the model packed them, else the row-major path.
void MatmulVnni(const MatmulParams& p, ThreadPool* pool) {
  if (p.w_packed != nullptr) return PackedMatmulVnni(p, pool);
  MatmulAvx512Vnni(p, pool);
}

// AMX for M >= 16 (its packing pays off from there on). f32 weights never go through AMX: its
// bf16 rounding would break the f32 accuracy contract.
void MatmulAmx(const MatmulParams& p, ThreadPool* pool) {
  if (p.m >= kAmxMinM && p.w_type != DType::kF32 && AmxMatmulSupported(p.w_type) && p.k % 32 == 0) {
    AmxMatmul(p, pool);
  } else {
    MatmulVnni(p, pool);
  }
}

}  // namespace

const KernelTable& Avx512Kernels() {
  static const KernelTable t{"avx512",  MatmulAvx512,    DequantizeRowAvx512, RmsNormAvx512,
                             ref::Rope, AttentionAvx512, SwigluAvx512,        AddAvx512};
  return t;
}

const KernelTable& Avx512VnniKernels() {
  static const KernelTable t{"avx512_vnni",   MatmulVnni,      DequantizeRowAvx512,
                             RmsNormAvx512,   ref::Rope,       AttentionAvx512,
                             SwigluAvx512,    AddAvx512,       PackedBytesVnni,
                             PackWeightVnni};
  return t;
}

const KernelTable& AmxKernels() {
  static const KernelTable t{"amx",         MatmulAmx,       DequantizeRowAvx512,
                             RmsNormAvx512, ref::Rope,       AttentionAvx512,
                             SwigluAvx512,  AddAvx512,       PackedBytesVnni,
                             PackWeightVnni};
  return t;
}

}  // namespace cachet::kernels::x86
