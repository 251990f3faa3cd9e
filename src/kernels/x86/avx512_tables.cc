// The AVX-512 tables (with and without VNNI) and the AMX table, which adds tile matmuls for
// prefill-sized quantized/half products on top of AVX-512 VNNI.
#include <cstdlib>
#include <cstring>

#include "kernels/ref/ref_kernels.h"
#include "kernels/x86/amx_matmul.h"
#include "kernels/x86/amx_packed.h"
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

constexpr int64_t kAmxPackedMinM = 8;

// CACHET_AMX_BF16=1: unpacked quantized and half weights go through bf16 tiles at M >= 16
// (faster prefill of types without a packed layout, but the rounding then depends on M).
bool AmxBf16() {
  static const bool on = [] {
    const char* v = std::getenv("CACHET_AMX_BF16");
    return v != nullptr && std::strcmp(v, "1") == 0;
  }();
  return on;
}

// Packed q8_0 and q4_k: AMX int8 tiles from M >= 8, the VNNI kernel below; both give bitwise the
// same rows (amx_packed.h), so the table stays batch-invariant. Unpacked weights: the VNNI path (or
// bf16 tiles with CACHET_AMX_BF16=1). f32 weights never go through AMX: bf16 rounding would
// break the f32 accuracy contract.
void MatmulAmx(const MatmulParams& p, ThreadPool* pool) {
  if (p.w_packed != nullptr) {
    if (p.m >= kAmxPackedMinM && (p.w_type == DType::kQ8_0 || p.w_type == DType::kQ4_K)) {
      return PackedMatmulAmx(p, pool);
    }
    return PackedMatmulVnniSigned(p, pool);
  }
  if (AmxBf16() && p.m >= kAmxMinM && p.w_type != DType::kF32 && AmxMatmulSupported(p.w_type) &&
      p.k % 32 == 0) {
    AmxMatmul(p, pool);
  } else {
    MatmulAvx512Vnni(p, pool);
  }
}

}  // namespace

const KernelTable& Avx512Kernels() {
  static const KernelTable t{"avx512",  MatmulAvx512,    DequantizeRowAvx512, RmsNormAvx512,
                             ref::Rope, AttentionAvx512, SwigluAvx512,        AddAvx512};
  return t;
}

const KernelTable& Avx512VnniKernels() {
  static const KernelTable t{"avx512_vnni",   MatmulVnni,      DequantizeRowAvx512, RmsNormAvx512,
                             ref::Rope,       AttentionAvx512, SwigluAvx512,        AddAvx512,
                             PackedBytesVnni, PackWeightVnni};
  return t;
}

const KernelTable& AmxKernels() {
  static const KernelTable t{"amx",           MatmulAmx,       DequantizeRowAvx512, RmsNormAvx512,
                             ref::Rope,       AttentionAvx512, SwigluAvx512,        AddAvx512,
                             PackedBytesVnni, PackWeightAmx};
  return t;
}

}  // namespace cachet::kernels::x86
