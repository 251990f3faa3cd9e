// The GPT-2 byte map (gguf.md §5.1 step 3): every byte <-> one printable code point, so that
// byte-level BPE vocabularies can store any byte sequence as text.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace cachet::tok {

// Code point that byte b maps to.
uint32_t ByteToCodepoint(uint8_t b);
// UTF-8 of the mapped code point of each byte.
const std::array<std::string, 256>& ByteMapUtf8();
// Inverse map: the byte of a mapped code point, or -1 when cp is not in the image of the map.
int CodepointToByte(uint32_t cp);
// Bytes of a byte-mapped token text; code points outside the map are kept as their UTF-8.
std::string UnmapBytes(std::string_view mapped);
// Byte-mapped form of raw bytes.
std::string MapBytes(std::string_view bytes);

}  // namespace cachet::tok
