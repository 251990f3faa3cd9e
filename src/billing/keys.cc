#include "billing/keys.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <sys/random.h>

#include <cerrno>
#include <cstring>

namespace cachet::billing {
namespace {
constexpr char kBase62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr int kKeyChars = 48;
}  // namespace

Result<std::string> GenerateKey() {
  std::string out = "sk-";
  while (static_cast<int>(out.size()) < 3 + kKeyChars) {
    unsigned char buf[64];
    const ssize_t n = getrandom(buf, sizeof(buf), 0);
    if (n <= 0) return IoError(std::string("getrandom: ") + std::strerror(errno));
    for (ssize_t i = 0; i < n && static_cast<int>(out.size()) < 3 + kKeyChars; ++i) {
      if (buf[i] < 248) out += kBase62[buf[i] % 62];  // 248 = 4 * 62: no modulo bias
    }
  }
  return out;
}

std::string HashKey(std::string_view key) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), d);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * SHA256_DIGEST_LENGTH);
  for (unsigned char c : d) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string KeyDisplay(std::string_view key) {
  if (key.size() < 12) return "sk-…";
  return std::string(key.substr(0, 7)) + "…" + std::string(key.substr(key.size() - 4));
}

bool LooksLikeKey(std::string_view key) {
  if (key.size() < 8 || key.size() > 200 || key.substr(0, 3) != "sk-") return false;
  for (char c : key.substr(3)) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

}  // namespace cachet::billing
