#include "kernels/cpu_features.h"

#include <cstdint>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#define CACHET_X86 1
#endif

namespace cachet::kernels {
namespace {

#ifdef CACHET_X86
uint64_t ReadXcr0() {
  uint32_t eax, edx;
  // xgetbv(0) as raw asm so that this file needs no -mxsave.
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}

bool RequestAmxPermission() {
#if defined(__linux__)
  constexpr long kArchReqXcompPerm = 0x1023;
  constexpr long kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
}

CpuInfo Detect() {
  CpuInfo c;
  unsigned a, b, cx, d;
  if (!__get_cpuid(1, &a, &b, &cx, &d)) return c;
  const bool osxsave = (cx >> 27) & 1, avx = (cx >> 28) & 1;
  c.fma = (cx >> 12) & 1;
  c.f16c = (cx >> 29) & 1;
  if (!osxsave || !avx) return c;
  const uint64_t xcr0 = ReadXcr0();
  c.os_avx = (xcr0 & 0x6) == 0x6;
  c.os_avx512 = c.os_avx && (xcr0 & 0xE0) == 0xE0;
  c.os_amx = (xcr0 & 0x60000) == 0x60000;
  if (__get_cpuid_max(0, nullptr) < 7) return c;
  __cpuid_count(7, 0, a, b, cx, d);
  c.avx2 = (b >> 5) & 1;
  c.avx512f = (b >> 16) & 1;
  c.avx512dq = (b >> 17) & 1;
  c.avx512bw = (b >> 30) & 1;
  c.avx512vl = (b >> 31) & 1;
  c.avx512_vnni = (cx >> 11) & 1;
  c.amx_bf16 = (d >> 22) & 1;
  c.amx_tile = (d >> 24) & 1;
  c.amx_int8 = (d >> 25) & 1;
  const unsigned max_sub = a;
  if (max_sub >= 1) {
    __cpuid_count(7, 1, a, b, cx, d);
    c.avx512_bf16 = (a >> 5) & 1;
  }
  if (c.amx_tile && c.os_amx) c.amx_permitted = RequestAmxPermission();
  return c;
}
#else
CpuInfo Detect() { return CpuInfo{}; }
#endif

constexpr std::string_view kNames[] = {"ref", "avx2", "avx512", "avx512_vnni", "amx"};

}  // namespace

const CpuInfo& CpuFeatures() {
  static const CpuInfo info = Detect();
  return info;
}

bool IsaSupported(const CpuInfo& c, IsaLevel level) {
  switch (level) {
    case IsaLevel::kRef:
      return true;
    case IsaLevel::kAvx2:
      return c.os_avx && c.avx2 && c.fma && c.f16c;
    case IsaLevel::kAvx512:
      return IsaSupported(c, IsaLevel::kAvx2) && c.os_avx512 && c.avx512f && c.avx512bw &&
             c.avx512dq && c.avx512vl;
    case IsaLevel::kAvx512Vnni:
      return IsaSupported(c, IsaLevel::kAvx512) && c.avx512_vnni;
    case IsaLevel::kAmx:
      return IsaSupported(c, IsaLevel::kAvx512Vnni) && c.avx512_bf16 && c.amx_tile && c.amx_int8 &&
             c.amx_bf16 && c.os_amx && c.amx_permitted;
  }
  return false;
}

std::string_view IsaName(IsaLevel level) { return kNames[static_cast<int>(level)]; }

IsaLevel ChooseIsa(const CpuInfo& info, const char* cap_env, bool* unknown_cap) {
  *unknown_cap = false;
  IsaLevel cap = IsaLevel::kAmx;  // every table is batch-invariant (cpu_features.h)
  if (cap_env != nullptr && *cap_env != '\0' && !ParseIsa(cap_env, &cap)) {
    *unknown_cap = true;
    cap = IsaLevel::kAmx;
  }
  for (int l = static_cast<int>(cap); l > 0; --l) {
    if (IsaSupported(info, static_cast<IsaLevel>(l))) return static_cast<IsaLevel>(l);
  }
  return IsaLevel::kRef;
}

bool ParseIsa(std::string_view name, IsaLevel* level) {
  for (int i = 0; i < 5; ++i) {
    if (kNames[i] == name) {
      *level = static_cast<IsaLevel>(i);
      return true;
    }
  }
  return false;
}

}  // namespace cachet::kernels
