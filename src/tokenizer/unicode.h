// Unicode helpers for the tokenizer: UTF-8 decoding that never fails, general-category classes
// from generated tables (Python unicodedata's Unicode version), and NFC normalization.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tokenizer/unicode_tables.h"

namespace cachet::tok {

// Category bits of CodepointFlags (a code point has at most one of kCatL..kCatM).
inline constexpr uint8_t kCatL = 1;    // \p{L}
inline constexpr uint8_t kCatN = 2;    // \p{N}
inline constexpr uint8_t kCatP = 4;    // \p{P}
inline constexpr uint8_t kCatS = 8;    // \p{S}
inline constexpr uint8_t kCatM = 16;   // \p{M}
inline constexpr uint8_t kCatWs = 32;  // White_Space (regex \s)
inline constexpr uint8_t kCatNfc =
    64;  // has a decomposition, composes with a predecessor, ccc != 0
inline constexpr uint8_t kCatNfcCheck = 128;  // NFC_Quick_Check is not Yes, or ccc != 0

inline uint8_t CodepointFlags(uint32_t cp) {
  if (cp >= 0x110000) return 0;
  return unicode_data::kFlagStage2[unicode_data::kFlagStage1[cp >> 8]][cp & 255];
}

// Decodes one code point at s[i] and returns its byte length (1..4). Invalid or truncated
// sequences decode as one byte with *cp = 0xFFFFFFFF (a value of no category).
inline int DecodeUtf8(std::string_view s, size_t i, uint32_t* cp) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + i;
  size_t left = s.size() - i;
  unsigned char c = p[0];
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  int len;
  uint32_t v, min;
  if ((c & 0xE0) == 0xC0) {
    len = 2, v = c & 0x1F, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3, v = c & 0x0F, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4, v = c & 0x07, min = 0x10000;
  } else {
    *cp = 0xFFFFFFFF;
    return 1;
  }
  if (left < static_cast<size_t>(len)) {
    *cp = 0xFFFFFFFF;
    return 1;
  }
  for (int k = 1; k < len; ++k) {
    if ((p[k] & 0xC0) != 0x80) {
      *cp = 0xFFFFFFFF;
      return 1;
    }
    v = (v << 6) | (p[k] & 0x3F);
  }
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v < 0xE000)) {
    *cp = 0xFFFFFFFF;
    return 1;
  }
  *cp = v;
  return len;
}

// Appends the UTF-8 encoding of cp (must be a valid scalar value).
void AppendUtf8(uint32_t cp, std::string* out);

// True when NFC could change `text` (fast scan; false for pure ASCII and most CJK text).
bool MayNeedNfc(std::string_view text);
// Unicode NFC of `text`; invalid UTF-8 bytes are passed through unchanged.
std::string Nfc(std::string_view text);

}  // namespace cachet::tok
