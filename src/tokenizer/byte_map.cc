#include "tokenizer/byte_map.h"

#include "tokenizer/unicode.h"

namespace cachet::tok {
namespace {

bool MapsToItself(int b) { return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174; }

struct Tables {
  std::array<uint32_t, 256> to_cp;
  std::array<std::string, 256> utf8;
  std::array<int16_t, 0x144> from_cp;
  Tables() {
    from_cp.fill(-1);
    uint32_t next = 0x100;
    for (int b = 0; b < 256; ++b) {
      to_cp[b] = MapsToItself(b) ? b : next++;
      AppendUtf8(to_cp[b], &utf8[b]);
      from_cp[to_cp[b]] = static_cast<int16_t>(b);
    }
  }
};

const Tables& T() {
  static const Tables t;
  return t;
}

}  // namespace

uint32_t ByteToCodepoint(uint8_t b) { return T().to_cp[b]; }
const std::array<std::string, 256>& ByteMapUtf8() { return T().utf8; }

int CodepointToByte(uint32_t cp) { return cp < 0x144 ? T().from_cp[cp] : -1; }

std::string UnmapBytes(std::string_view mapped) {
  std::string out;
  out.reserve(mapped.size());
  for (size_t i = 0; i < mapped.size();) {
    uint32_t cp;
    int len = DecodeUtf8(mapped, i, &cp);
    int b = (cp == 0xFFFFFFFF) ? -1 : CodepointToByte(cp);
    if (b >= 0) {
      out.push_back(static_cast<char>(b));
    } else {
      out.append(mapped.substr(i, len));
    }
    i += len;
  }
  return out;
}

std::string MapBytes(std::string_view bytes) {
  const auto& m = ByteMapUtf8();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) out += m[static_cast<unsigned char>(c)];
  return out;
}

}  // namespace cachet::tok
