// API keys: generation, hashing and comparison.
//
// A key is "sk-" followed by 48 base62 characters (~285 bits from getrandom). Only its SHA-256
// (hex) is stored; the plaintext is shown once, when created. Lookups go by hash, and the stored
// hash is compared in constant time. The display form keeps the first 7 and last 4 characters.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace cachet::billing {

// A fresh random key. IoError when the system's random source fails.
Result<std::string> GenerateKey();
// Lowercase hex SHA-256 of the key's bytes.
std::string HashKey(std::string_view key);
// Constant-time equality of two equal-length strings (false when lengths differ).
bool ConstantTimeEquals(std::string_view a, std::string_view b);
// "sk-abcd…wxyz" for listings and logs.
std::string KeyDisplay(std::string_view key);
// Syntactic check before any lookup: "sk-" + base62, bounded length.
bool LooksLikeKey(std::string_view key);

}  // namespace cachet::billing
