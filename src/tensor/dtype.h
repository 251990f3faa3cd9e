// Tensor element types: ggml type ids as stored in GGUF files, their block layouts, and scalar
// conversions between f32 and the 16-bit float formats. No math beyond that lives here.
//
// Block layouts follow ../shared/specs/gguf.md §6 byte for byte (static_asserts below), so files
// made by the wider GGUF ecosystem load unchanged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace cachet {

// ggml_type ids (gguf.md §6). Only ids we name here are accepted by the loader.
enum class DType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kI8 = 24,
  kI16 = 25,
  kI32 = 26,
  kI64 = 27,
  kF64 = 28,
  kBF16 = 30,
  kMXFP4 = 39,
};

struct DTypeTraits {
  DType type;
  std::string_view name;   // "q4_k"
  int64_t block_size;      // elements per block
  int64_t block_bytes;     // bytes per block
  bool supported_compute;  // kernels can consume it as a weight
};

// Traits for a known type id, or nullopt for ids the loader must reject.
std::optional<DTypeTraits> GetDTypeTraits(uint32_t type_id);
const DTypeTraits& Traits(DType t);  // t must be a known type
std::string_view DTypeName(DType t);
// Parses "f32", "q4_k", ... (lower case); nullopt if unknown.
std::optional<DType> DTypeFromName(std::string_view name);

// Bytes for one row of `n` elements; n must be a multiple of the block size (checked by callers
// via RowSizeChecked).
inline int64_t RowBytes(DType t, int64_t n) {
  const auto& tr = Traits(t);
  return n / tr.block_size * tr.block_bytes;
}

// ---- 16-bit floats -------------------------------------------------------------------------

using f16_t = uint16_t;   // IEEE binary16 bits
using bf16_t = uint16_t;  // upper half of an IEEE binary32

float F16ToF32(f16_t h);  // exact, subnormals/inf/nan included
f16_t F32ToF16(float f);  // round to nearest even

inline float BF16ToF32(bf16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
inline bf16_t F32ToBF16(float f) {  // round to nearest even; NaN stays NaN
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<bf16_t>((bits >> 16) | 0x40);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<bf16_t>(bits >> 16);
}

// ---- Block layouts (gguf.md §6) ------------------------------------------------------------

constexpr int kQK8_0 = 32;
constexpr int kQK4_0 = 32;
constexpr int kQK_K = 256;
constexpr int kKScaleBytes = 12;

struct BlockQ8_0 {
  f16_t d;
  int8_t qs[kQK8_0];
};
static_assert(sizeof(BlockQ8_0) == 34);

struct BlockQ4_0 {
  f16_t d;
  uint8_t qs[kQK4_0 / 2];  // low nibbles: values 0..15, high nibbles: values 16..31
};
static_assert(sizeof(BlockQ4_0) == 18);

struct BlockQ4_K {
  f16_t d;
  f16_t dmin;
  uint8_t scales[kKScaleBytes];
  uint8_t qs[kQK_K / 2];
};
static_assert(sizeof(BlockQ4_K) == 144);

struct BlockQ5_K {
  f16_t d;
  f16_t dmin;
  uint8_t scales[kKScaleBytes];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};
static_assert(sizeof(BlockQ5_K) == 176);

struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  f16_t d;
};
static_assert(sizeof(BlockQ6_K) == 210);

struct BlockMXFP4 {
  uint8_t e;
  uint8_t qs[16];
};
static_assert(sizeof(BlockMXFP4) == 17);

// Activation-side block for integer dot products with K-quants: 256 int8 values, an f32 scale,
// and sums of each 16-value group (used to apply the mins). Never stored in files.
struct BlockQ8_K {
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];
};
static_assert(sizeof(BlockQ8_K) == 292);

// Unpacks the 6-bit scale/min pairs shared by Q4_K and Q5_K (gguf.md §6.5).
inline void UnpackKScales(const uint8_t* b, uint8_t sc[8], uint8_t m[8]) {
  for (int s = 0; s < 4; ++s) {
    sc[s] = b[s] & 63;
    m[s] = b[s + 4] & 63;
  }
  for (int s = 4; s < 8; ++s) {
    sc[s] = (b[s + 4] & 0x0F) | ((b[s - 4] >> 6) << 4);
    m[s] = (b[s + 4] >> 4) | ((b[s] >> 6) << 4);
  }
}

}  // namespace cachet
