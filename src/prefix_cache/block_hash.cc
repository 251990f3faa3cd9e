#include "prefix_cache/block_hash.h"

namespace cachet::prefix_cache {
namespace {

void UpdateLenPrefixed(Sha256& s, std::string_view bytes) {
  const uint32_t n = static_cast<uint32_t>(bytes.size());
  const uint8_t le[4] = {static_cast<uint8_t>(n), static_cast<uint8_t>(n >> 8),
                         static_cast<uint8_t>(n >> 16), static_cast<uint8_t>(n >> 24)};
  s.Update(le, 4);
  s.Update(bytes);
}

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string BlockHash::Hex() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(64, '0');
  for (size_t i = 0; i < 32; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 15];
  }
  return out;
}

bool ParseBlockHashHex(std::string_view hex, BlockHash* out) {
  if (hex.size() != 64) return false;
  for (size_t i = 0; i < 32; ++i) {
    const int hi = HexVal(hex[2 * i]), lo = HexVal(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out->bytes[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return true;
}

BlockHash ChainRoot(std::string_view model_fingerprint, std::string_view salt) {
  Sha256 s;
  s.Update("cachet.prefix.root.v1");
  UpdateLenPrefixed(s, model_fingerprint);
  UpdateLenPrefixed(s, salt);
  return BlockHash{s.Final()};
}

BlockHash ChainNext(const BlockHash& parent, std::span<const TokenId> block_tokens) {
  Sha256 s;
  s.Update(parent.bytes.data(), parent.bytes.size());
  uint8_t buf[4 * kBlockTokens];
  size_t i = 0;
  while (i < block_tokens.size()) {
    size_t n = 0;
    for (; n < static_cast<size_t>(kBlockTokens) && i < block_tokens.size(); ++n, ++i) {
      const uint32_t v = static_cast<uint32_t>(block_tokens[i]);
      buf[4 * n] = static_cast<uint8_t>(v);
      buf[4 * n + 1] = static_cast<uint8_t>(v >> 8);
      buf[4 * n + 2] = static_cast<uint8_t>(v >> 16);
      buf[4 * n + 3] = static_cast<uint8_t>(v >> 24);
    }
    s.Update(buf, 4 * n);
  }
  return BlockHash{s.Final()};
}

Digest256 SaltFingerprint(std::string_view salt) {
  Sha256 s;
  s.Update("cachet.salt.v1");
  s.Update(salt);
  return s.Final();
}

Digest256 ModelFingerprintDigest(std::string_view model_fingerprint) {
  Sha256 s;
  s.Update("cachet.model.v1");
  s.Update(model_fingerprint);
  return s.Final();
}

}  // namespace cachet::prefix_cache
