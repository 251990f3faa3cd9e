// The disk tier's file format, version 1 (specified in docs/formats/kv-disk-tier.md): one file per
// KV block, `<64 hex digits of the block hash>.kvb`, a fixed 512-byte little-endian header then
// the block's bytes exactly as KvStorage::Block() holds them. Parsed as hostile input: every
// field is checked before use, and a file is served only if both CRC-32Cs (header, payload), the
// model fingerprint, the KV geometry and the expected name, parent, salt and token ids match.
//
// Thread-safety: pure functions.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"
#include "kv/kv_storage.h"
#include "prefix_cache/block_hash.h"

namespace cachet::prefix_cache {

constexpr char kDiskMagic[8] = {'C', 'A', 'C', 'H', 'E', 'T', 'K', 'V'};
// 2: GQA blocks are head-major (kv_storage.h); version-1 files hold token-major blocks.
constexpr uint32_t kDiskFormatVersion = 2;
constexpr size_t kDiskHeaderBytes = 512;
constexpr std::string_view kDiskFileSuffix = ".kvb";
constexpr std::string_view kDiskTempSuffix = ".tmp";

struct DiskBlockHeader {
  uint32_t block_tokens = kBlockTokens;
  kv::KvGeometry geometry;
  int64_t payload_bytes = 0;  // == geometry.block_bytes()
  int64_t write_time_us = 0;  // wall clock when written: orders files for the cap after restart
  Digest256 model_fp{};       // ModelFingerprintDigest()
  Digest256 salt_fp{};        // SaltFingerprint()
  BlockHash hash;
  BlockHash parent;
  std::array<TokenId, kBlockTokens> tokens{};
  uint32_t payload_crc = 0;  // CRC-32C of the payload
};

// The 512 header bytes (header CRC filled in).
std::string EncodeDiskHeader(const DiskBlockHeader& h);

// Parses and validates a header on its own: size, magic, version, header_bytes, header CRC,
// reserved bytes zero, block_tokens == 64, non-negative geometry with payload_bytes ==
// block_bytes(). Corrupt on any mismatch (the message names the field); Unsupported for another
// format version.
Status DecodeDiskHeader(const uint8_t* p, size_t n, DiskBlockHeader* out);

// Checks that a valid header belongs to this cache: model fingerprint and geometry. Corrupt
// ("foreign") otherwise.
Status CheckDiskHeaderCompatible(const DiskBlockHeader& h, const Digest256& model_fp,
                                 const kv::KvGeometry& g);

// "<hex>.kvb"; and the reverse (false for any other name).
std::string DiskFileName(const BlockHash& h);
bool ParseDiskFileName(std::string_view name, BlockHash* out);

}  // namespace cachet::prefix_cache
