#include "prefix_cache/disk_format.h"

#include <cstring>

#include "prefix_cache/crc32c.h"

namespace cachet::prefix_cache {
namespace {

// Field offsets (docs/formats/kv-disk-tier.md).
constexpr size_t kOffVersion = 8, kOffHeaderBytes = 12, kOffBlockTokens = 16, kOffFlags = 20;
constexpr size_t kOffNLayer = 24, kOffKBytes = 32, kOffVBytes = 40, kOffPayloadBytes = 48;
constexpr size_t kOffWriteTime = 56, kOffModelFp = 64, kOffSaltFp = 96, kOffHash = 128;
constexpr size_t kOffParent = 160, kOffTokens = 192, kOffPayloadCrc = 448, kOffReserved = 452;
constexpr size_t kOffHeaderCrc = 508;
static_assert(kOffTokens + 4 * kBlockTokens == kOffPayloadCrc);
static_assert(kOffHeaderCrc + 4 == kDiskHeaderBytes);

void Put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void Put64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t Get32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{p[i]} << (8 * i);
  return v;
}
uint64_t Get64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{p[i]} << (8 * i);
  return v;
}

}  // namespace

std::string EncodeDiskHeader(const DiskBlockHeader& h) {
  std::string out(kDiskHeaderBytes, '\0');
  uint8_t* p = reinterpret_cast<uint8_t*>(out.data());
  std::memcpy(p, kDiskMagic, 8);
  Put32(p + kOffVersion, kDiskFormatVersion);
  Put32(p + kOffHeaderBytes, static_cast<uint32_t>(kDiskHeaderBytes));
  Put32(p + kOffBlockTokens, h.block_tokens);
  Put32(p + kOffFlags, 0);
  Put64(p + kOffNLayer, static_cast<uint64_t>(h.geometry.n_layer));
  Put64(p + kOffKBytes, static_cast<uint64_t>(h.geometry.k_bytes));
  Put64(p + kOffVBytes, static_cast<uint64_t>(h.geometry.v_bytes));
  Put64(p + kOffPayloadBytes, static_cast<uint64_t>(h.payload_bytes));
  Put64(p + kOffWriteTime, static_cast<uint64_t>(h.write_time_us));
  std::memcpy(p + kOffModelFp, h.model_fp.data(), 32);
  std::memcpy(p + kOffSaltFp, h.salt_fp.data(), 32);
  std::memcpy(p + kOffHash, h.hash.bytes.data(), 32);
  std::memcpy(p + kOffParent, h.parent.bytes.data(), 32);
  for (int i = 0; i < kBlockTokens; ++i) {
    Put32(p + kOffTokens + 4 * i, static_cast<uint32_t>(h.tokens[i]));
  }
  Put32(p + kOffPayloadCrc, h.payload_crc);
  Put32(p + kOffHeaderCrc, Crc32c(p, kOffHeaderCrc));
  return out;
}

Status DecodeDiskHeader(const uint8_t* p, size_t n, DiskBlockHeader* out) {
  if (n < kDiskHeaderBytes) return Corrupt("disk block: truncated header");
  if (std::memcmp(p, kDiskMagic, 8) != 0) return Corrupt("disk block: bad magic");
  if (Get32(p + kOffHeaderCrc) != Crc32c(p, kOffHeaderCrc)) {
    return Corrupt("disk block: header checksum mismatch");
  }
  const uint32_t version = Get32(p + kOffVersion);
  if (version != kDiskFormatVersion) {
    return Unsupported("disk block: format version " + std::to_string(version));
  }
  if (Get32(p + kOffHeaderBytes) != kDiskHeaderBytes) {
    return Corrupt("disk block: header_bytes");
  }
  if (Get32(p + kOffFlags) != 0) return Corrupt("disk block: unknown flags");
  for (size_t i = kOffReserved; i < kOffHeaderCrc; ++i) {
    if (p[i] != 0) return Corrupt("disk block: reserved bytes not zero");
  }
  DiskBlockHeader h;
  h.block_tokens = Get32(p + kOffBlockTokens);
  if (h.block_tokens != static_cast<uint32_t>(kBlockTokens)) {
    return Corrupt("disk block: block_tokens");
  }
  h.geometry.n_layer = static_cast<int64_t>(Get64(p + kOffNLayer));
  h.geometry.k_bytes = static_cast<int64_t>(Get64(p + kOffKBytes));
  h.geometry.v_bytes = static_cast<int64_t>(Get64(p + kOffVBytes));
  h.payload_bytes = static_cast<int64_t>(Get64(p + kOffPayloadBytes));
  constexpr int64_t kMaxField = int64_t{1} << 40;  // keeps the products below from overflowing
  const auto& g = h.geometry;
  if (g.n_layer <= 0 || g.n_layer > (1 << 20) || g.k_bytes < 0 || g.k_bytes > kMaxField ||
      g.v_bytes < 0 || g.v_bytes > kMaxField || h.payload_bytes <= 0 ||
      h.payload_bytes != g.block_bytes()) {
    return Corrupt("disk block: geometry or payload_bytes");
  }
  h.write_time_us = static_cast<int64_t>(Get64(p + kOffWriteTime));
  std::memcpy(h.model_fp.data(), p + kOffModelFp, 32);
  std::memcpy(h.salt_fp.data(), p + kOffSaltFp, 32);
  std::memcpy(h.hash.bytes.data(), p + kOffHash, 32);
  std::memcpy(h.parent.bytes.data(), p + kOffParent, 32);
  for (int i = 0; i < kBlockTokens; ++i) {
    h.tokens[i] = static_cast<TokenId>(Get32(p + kOffTokens + 4 * i));
  }
  h.payload_crc = Get32(p + kOffPayloadCrc);
  *out = h;
  return Status::Ok();
}

Status CheckDiskHeaderCompatible(const DiskBlockHeader& h, const Digest256& model_fp,
                                 const kv::KvGeometry& g) {
  if (h.model_fp != model_fp) return Corrupt("disk block: foreign model fingerprint");
  if (h.geometry.n_layer != g.n_layer || h.geometry.k_bytes != g.k_bytes ||
      h.geometry.v_bytes != g.v_bytes) {
    return Corrupt("disk block: foreign KV geometry");
  }
  return Status::Ok();
}

std::string DiskFileName(const BlockHash& h) { return h.Hex() + std::string(kDiskFileSuffix); }

bool ParseDiskFileName(std::string_view name, BlockHash* out) {
  if (name.size() != 64 + kDiskFileSuffix.size()) return false;
  if (name.substr(64) != kDiskFileSuffix) return false;
  return ParseBlockHashHex(name.substr(0, 64), out);
}

}  // namespace cachet::prefix_cache
