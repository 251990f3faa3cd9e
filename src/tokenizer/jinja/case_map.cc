// Simple Unicode case mapping for the scripts chat text commonly uses: Latin (ASCII, Latin-1,
// Latin Extended-A), Greek, Cyrillic, fullwidth Latin, plus Python's special cases ß -> "SS",
// final sigma, ſ. Code points outside these ranges are left unchanged.
#include "tokenizer/jinja/strings.h"

namespace cachet::jinja {
namespace {

// Latin Extended-A: which member of a case pair is upper (even or odd code point).
bool ExtAPair(char32_t c, char32_t* upper, char32_t* lower) {
  if ((c >= 0x100 && c <= 0x137) || (c >= 0x14a && c <= 0x177)) {
    *upper = c & ~char32_t{1};
    *lower = c | 1;
    return true;
  }
  if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e)) {
    *upper = (c & 1) ? c : c - 1;
    *lower = *upper + 1;
    return true;
  }
  return false;
}

}  // namespace

char32_t UpperCp(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') ? c - 32 : c;
  if ((c >= 0xe0 && c <= 0xfe && c != 0xf7)) return c - 32;
  if (c == 0xff) return 0x178;
  if (c == 0xb5) return 0x39c;
  if (c == 0x131) return 'I';
  if (c == 0x17f) return 'S';
  char32_t u, l;
  if (ExtAPair(c, &u, &l)) return u;
  if (c >= 0x3b1 && c <= 0x3c9) return c == 0x3c2 ? 0x3a3 : c - 32;
  if (c == 0x3ac) return 0x386;
  if (c >= 0x3ad && c <= 0x3af) return c - 37;
  if (c == 0x3cc) return 0x38c;
  if (c == 0x3cd || c == 0x3ce) return c - 63;
  if (c >= 0x430 && c <= 0x44f) return c - 32;
  if (c >= 0x450 && c <= 0x45f) return c - 80;
  if (((c >= 0x460 && c <= 0x481) || (c >= 0x48a && c <= 0x4bf)) && (c & 1)) return c - 1;
  if (c >= 0xff41 && c <= 0xff5a) return c - 32;
  return c;
}

char32_t LowerCp(char32_t c) {
  if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
  if ((c >= 0xc0 && c <= 0xde && c != 0xd7)) return c + 32;
  if (c == 0x178) return 0xff;
  char32_t u, l;
  if (c != 0x130 && ExtAPair(c, &u, &l)) return l;
  if (c >= 0x391 && c <= 0x3a9 && c != 0x3a2) return c + 32;
  if (c == 0x386) return 0x3ac;
  if (c >= 0x388 && c <= 0x38a) return c + 37;
  if (c == 0x38c) return 0x3cc;
  if (c == 0x38e || c == 0x38f) return c + 63;
  if (c >= 0x410 && c <= 0x42f) return c + 32;
  if (c >= 0x400 && c <= 0x40f) return c + 80;
  if (((c >= 0x460 && c <= 0x481) || (c >= 0x48a && c <= 0x4bf)) && !(c & 1)) return c + 1;
  if (c >= 0xff21 && c <= 0xff3a) return c + 32;
  return c;
}

bool IsCasedCp(char32_t c) { return UpperCp(c) != c || LowerCp(c) != c || c == 0xdf; }

namespace {

void AppendUpper(char32_t c, std::string* out) {
  if (c == 0xdf) {  // ß
    *out += "SS";
    return;
  }
  AppendUtf8(UpperCp(c), out);
}

// Python's Final_Sigma: Σ lowers to ς at the end of a word.
void AppendLower(const std::vector<char32_t>& cps, size_t i, std::string* out) {
  char32_t c = cps[i];
  if (c == 0x3a3) {
    bool before = i > 0 && IsCasedCp(cps[i - 1]);
    bool after = i + 1 < cps.size() && IsCasedCp(cps[i + 1]);
    AppendUtf8(before && !after ? 0x3c2 : 0x3c3, out);
    return;
  }
  if (c == 0x130) {  // İ -> i + combining dot
    *out += "i\xcc\x87";
    return;
  }
  AppendUtf8(LowerCp(c), out);
}

}  // namespace

std::string UnicodeLower(const std::string& s) {
  auto cps = DecodeUtf8(s);
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < cps.size(); ++i) AppendLower(cps, i, &out);
  return out;
}

std::string UnicodeUpper(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : DecodeUtf8(s)) AppendUpper(c, &out);
  return out;
}

std::string PyTitle(const std::string& s) {
  auto cps = DecodeUtf8(s);
  std::string out;
  bool prev_cased = false;
  for (size_t i = 0; i < cps.size(); ++i) {
    char32_t c = cps[i];
    bool cased = IsCasedCp(c);
    if (cased && !prev_cased) {
      if (c == 0xdf) {
        out += "Ss";
      } else {
        AppendUtf8(UpperCp(c), &out);
      }
    } else if (cased) {
      AppendLower(cps, i, &out);
    } else {
      AppendUtf8(c, &out);
    }
    prev_cased = cased;
  }
  return out;
}

std::string PyCapitalize(const std::string& s) {
  auto cps = DecodeUtf8(s);
  std::string out;
  for (size_t i = 0; i < cps.size(); ++i) {
    if (i == 0) {
      if (cps[0] == 0xdf) {
        out += "Ss";
      } else {
        AppendUtf8(UpperCp(cps[0]), &out);
      }
    } else {
      AppendLower(cps, i, &out);
    }
  }
  return out;
}

}  // namespace cachet::jinja
