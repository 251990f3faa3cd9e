// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of the disk tier's files.
// Uses the SSE4.2 crc32 instruction when the CPU has it (chosen once at run time) and a
// table-driven fallback otherwise; both give identical results (tested against RFC 3720 vectors).
//
// Thread-safety: reentrant.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cachet::prefix_cache {

// Extends `crc` (the value returned for the bytes before; 0 to start) over data[0, n).
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t n);
inline uint32_t Crc32c(const void* data, size_t n) { return Crc32cExtend(0, data, n); }

// The portable implementation (for tests comparing it with the hardware path).
uint32_t Crc32cExtendPortable(uint32_t crc, const void* data, size_t n);

}  // namespace cachet::prefix_cache
