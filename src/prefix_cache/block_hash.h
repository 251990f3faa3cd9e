// Chained block hashes of the prefix cache.
//
// A prompt is cut into full blocks of kBlockTokens tokens. Block i is named by
//   h_i    = SHA-256(h_{i-1} || token ids of block i as int32 little-endian)
//   h_{-1} = SHA-256("cachet.prefix.root.v1" || u32 len || model fingerprint || u32 len || salt)
// so a block's name covers the model, the tenant salt and every token before and in it. Names are
// only index keys: a hit is always confirmed against the stored token ids, parent link and salt
// fingerprint (prefix_cache.h), never on the hash alone.
//
// Thread-safety: pure functions.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "prefix_cache/sha256.h"

namespace cachet::prefix_cache {

constexpr int32_t kBlockTokens = 64;
using TokenId = int32_t;

struct BlockHash {
  Digest256 bytes{};
  bool operator==(const BlockHash& o) const { return bytes == o.bytes; }
  bool operator!=(const BlockHash& o) const { return !(*this == o); }
  bool operator<(const BlockHash& o) const { return bytes < o.bytes; }
  std::string Hex() const;  // 64 lowercase hex digits
};

// Parses 64 hex digits (either case); false on anything else.
bool ParseBlockHashHex(std::string_view hex, BlockHash* out);

struct BlockHashHasher {
  size_t operator()(const BlockHash& h) const {
    size_t v;
    std::memcpy(&v, h.bytes.data(), sizeof v);
    return v;
  }
};

// h_{-1} for a model fingerprint (any bytes naming weights, KV dtype and layout) and tenant salt.
BlockHash ChainRoot(std::string_view model_fingerprint, std::string_view salt);

// h_i from h_{i-1} and the block's token ids (normally kBlockTokens of them).
BlockHash ChainNext(const BlockHash& parent, std::span<const TokenId> block_tokens);

// SHA-256("cachet.salt.v1" || salt): stored with every cached block and compared on every hit,
// so different salts never share even if block names collided.
Digest256 SaltFingerprint(std::string_view salt);

// SHA-256("cachet.model.v1" || model fingerprint): the model identity written in disk headers.
Digest256 ModelFingerprintDigest(std::string_view model_fingerprint);

// The chain step used by a cache. Tests substitute a weak function to fake collisions.
using ChainNextFn = BlockHash (*)(const BlockHash& parent, std::span<const TokenId> block_tokens);

}  // namespace cachet::prefix_cache
