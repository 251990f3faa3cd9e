#include "tokenizer/unicode.h"

#include <algorithm>
#include <vector>

namespace cachet::tok {
namespace {

using namespace unicode_data;  // NOLINT: generated tables

constexpr uint32_t kHangulS = 0xAC00, kHangulL = 0x1100, kHangulV = 0x1161, kHangulT = 0x11A7;
constexpr uint32_t kHangulLCount = 19, kHangulVCount = 21, kHangulTCount = 28;
constexpr uint32_t kHangulN = kHangulVCount * kHangulTCount,
                   kHangulSCount = kHangulLCount * kHangulN;
constexpr uint32_t kInvalid = 0xFFFFFFFF;

uint32_t Ccc(uint32_t cp) {
  if (cp == kInvalid || !(CodepointFlags(cp) & kCatNfc)) return 0;
  const CccEntry* end = kCcc + kCccCount;
  const CccEntry* it =
      std::lower_bound(kCcc, end, cp, [](const CccEntry& e, uint32_t v) { return e.cp < v; });
  return (it != end && it->cp == cp) ? it->ccc : 0;
}

void Decompose(uint32_t cp, std::vector<uint32_t>* out) {
  if (cp == kInvalid || !(CodepointFlags(cp) & kCatNfc)) {
    out->push_back(cp);
    return;
  }
  if (cp >= kHangulS && cp < kHangulS + kHangulSCount) {
    uint32_t s = cp - kHangulS;
    out->push_back(kHangulL + s / kHangulN);
    out->push_back(kHangulV + (s % kHangulN) / kHangulTCount);
    if (s % kHangulTCount) out->push_back(kHangulT + s % kHangulTCount);
    return;
  }
  const DecompEntry* end = kDecomp + kDecompCount;
  const DecompEntry* it =
      std::lower_bound(kDecomp, end, cp, [](const DecompEntry& e, uint32_t v) { return e.cp < v; });
  if (it != end && it->cp == cp) {
    out->insert(out->end(), kDecompPool + it->offset, kDecompPool + it->offset + it->len);
  } else {
    out->push_back(cp);
  }
}

// Composite of (a, b) or kInvalid.
uint32_t Compose(uint32_t a, uint32_t b) {
  if (a >= kHangulL && a < kHangulL + kHangulLCount && b >= kHangulV &&
      b < kHangulV + kHangulVCount) {
    return kHangulS + ((a - kHangulL) * kHangulVCount + (b - kHangulV)) * kHangulTCount;
  }
  if (a >= kHangulS && a < kHangulS + kHangulSCount && (a - kHangulS) % kHangulTCount == 0 &&
      b > kHangulT && b < kHangulT + kHangulTCount) {
    return a + (b - kHangulT);
  }
  const ComposeEntry* end = kCompose + kComposeCount;
  const ComposeEntry* it =
      std::lower_bound(kCompose, end, std::make_pair(a, b),
                       [](const ComposeEntry& e, std::pair<uint32_t, uint32_t> v) {
                         return e.first < v.first || (e.first == v.first && e.second < v.second);
                       });
  return (it != end && it->first == a && it->second == b) ? it->composite : kInvalid;
}

// Canonical ordering: stable sort of each run of non-starters by combining class.
void Reorder(std::vector<uint32_t>* cps, std::vector<uint32_t>* classes) {
  size_t n = cps->size();
  for (size_t i = 0; i < n;) {
    if ((*classes)[i] == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < n && (*classes)[j] != 0) ++j;
    std::vector<std::pair<uint32_t, uint32_t>> run;
    for (size_t k = i; k < j; ++k) run.emplace_back((*classes)[k], (*cps)[k]);
    std::stable_sort(run.begin(), run.end(),
                     [](const auto& x, const auto& y) { return x.first < y.first; });
    for (size_t k = i; k < j; ++k) {
      (*classes)[k] = run[k - i].first;
      (*cps)[k] = run[k - i].second;
    }
    i = j;
  }
}

// Canonical composition in place (UAX #15 algorithm).
void ComposeAll(std::vector<uint32_t>* cps, const std::vector<uint32_t>& classes) {
  std::vector<uint32_t>& v = *cps;
  size_t n = v.size();
  if (n == 0) return;
  std::vector<uint32_t> cls = classes;
  size_t starter = 0, out = 1;
  bool have_starter = (cls[0] == 0 && v[0] != kInvalid);
  uint32_t last_class = have_starter ? 0 : 256;
  for (size_t i = 1; i < n; ++i) {
    uint32_t c = v[i], k = cls[i];
    bool blocked = out - 1 != starter && (last_class == 0 || last_class >= k);
    if (have_starter && c != kInvalid && !blocked) {
      uint32_t comp = Compose(v[starter], c);
      if (comp != kInvalid) {
        v[starter] = comp;
        continue;
      }
    }
    if (k == 0) {
      starter = out;
      have_starter = (c != kInvalid);
    }
    last_class = k;
    v[out] = c;
    cls[out] = k;
    ++out;
  }
  v.resize(out);
}

}  // namespace

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool MayNeedNfc(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    uint32_t cp;
    i += DecodeUtf8(text, i, &cp);
    if (cp != kInvalid && (CodepointFlags(cp) & kCatNfcCheck)) return true;
  }
  return false;
}

std::string Nfc(std::string_view text) {
  if (!MayNeedNfc(text)) return std::string(text);
  std::vector<uint32_t> cps;
  std::vector<unsigned char> raw_bytes;  // for invalid bytes, in order
  cps.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    uint32_t cp;
    int len = DecodeUtf8(text, i, &cp);
    if (cp == kInvalid) raw_bytes.push_back(static_cast<unsigned char>(text[i]));
    Decompose(cp, &cps);
    i += len;
  }
  std::vector<uint32_t> classes(cps.size());
  for (size_t i = 0; i < cps.size(); ++i) classes[i] = Ccc(cps[i]);
  Reorder(&cps, &classes);
  ComposeAll(&cps, classes);
  std::string out;
  out.reserve(text.size());
  size_t raw_i = 0;
  for (uint32_t cp : cps) {
    if (cp == kInvalid) {
      out.push_back(static_cast<char>(raw_bytes[raw_i++]));
    } else {
      AppendUtf8(cp, &out);
    }
  }
  return out;
}

}  // namespace cachet::tok
