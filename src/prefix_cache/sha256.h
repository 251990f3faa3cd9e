// SHA-256 (FIPS 180-4), written here so the prefix cache needs no crypto dependency. Used for the
// chained block hashes and fingerprints; tested against the FIPS 180-4 vectors and Python hashlib.
//
// Thread-safety: a Sha256 object is single-threaded; the free function is reentrant.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace cachet::prefix_cache {

using Digest256 = std::array<uint8_t, 32>;

// Incremental hashing: Update() any number of times, then Final() once (the object is then spent;
// Reset() makes it reusable).
class Sha256 {
 public:
  Sha256() { Reset(); }
  void Reset();
  void Update(const void* data, size_t n);
  void Update(std::string_view s) { Update(s.data(), s.size()); }
  Digest256 Final();

 private:
  void Compress(const uint8_t* block);  // one 64-byte block
  uint32_t h_[8];
  uint8_t buf_[64];
  size_t buf_len_ = 0;
  uint64_t total_bytes_ = 0;
};

Digest256 Sha256Of(const void* data, size_t n);
inline Digest256 Sha256Of(std::string_view s) { return Sha256Of(s.data(), s.size()); }

}  // namespace cachet::prefix_cache
