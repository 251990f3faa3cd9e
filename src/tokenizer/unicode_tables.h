// Raw generated Unicode tables (unicode_category_tables.cc and unicode_normalization_tables.cc,
// made by tools/gen_unicode_tables.py). Use the functions in unicode.h instead of these directly.
#pragma once

#include <cstdint>

namespace cachet::tok::unicode_data {

extern const char kUnicodeVersion[];
// flags(cp) = kFlagStage2[kFlagStage1[cp >> 8]][cp & 255]; bits are unicode.h's kCat* values.
extern const uint16_t kFlagStage1[0x1100];
extern const uint8_t kFlagStage2[][256];

struct DecompEntry {
  uint32_t cp;
  uint32_t offset;  // into kDecompPool
  uint32_t len;
};
extern const DecompEntry kDecomp[];  // sorted by cp; full canonical decomposition (no Hangul)
extern const int kDecompCount;
extern const uint32_t kDecompPool[];

struct CccEntry {
  uint32_t cp;
  uint32_t ccc;
};
extern const CccEntry kCcc[];  // sorted by cp; only non-zero classes
extern const int kCccCount;

struct ComposeEntry {
  uint32_t first;
  uint32_t second;
  uint32_t composite;
};
extern const ComposeEntry kCompose[];  // sorted by (first, second); primary composites, no Hangul
extern const int kComposeCount;

}  // namespace cachet::tok::unicode_data
