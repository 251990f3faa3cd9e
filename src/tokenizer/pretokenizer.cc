#include "tokenizer/pretokenizer.h"

#include "tokenizer/unicode.h"

namespace cachet::tok {
namespace {

struct Ch {
  uint32_t cp;
  uint32_t len;
  uint8_t f;
};

inline Ch At(std::string_view s, size_t i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return {c, 1, CodepointFlags(c)};
  uint32_t cp;
  int len = DecodeUtf8(s, i, &cp);
  return {cp, static_cast<uint32_t>(len), CodepointFlags(cp)};
}

inline bool IsCrLf(uint32_t cp) { return cp == '\r' || cp == '\n'; }
inline uint32_t LowerAscii(uint32_t cp) { return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp; }

// End of the run of chars starting at i whose flags intersect `mask`.
size_t RunEnd(std::string_view s, size_t i, uint8_t mask) {
  while (i < s.size()) {
    Ch c = At(s, i);
    if (!(c.f & mask)) break;
    i += c.len;
  }
  return i;
}

// End of a run of chars at i whose flags avoid `mask` (and are not \r \n when no_crlf).
size_t RunEndNot(std::string_view s, size_t i, uint8_t mask) {
  while (i < s.size()) {
    Ch c = At(s, i);
    if (c.f & mask) break;
    i += c.len;
  }
  return i;
}

size_t CrLfEnd(std::string_view s, size_t i) {
  while (i < s.size() && (s[i] == '\r' || s[i] == '\n')) ++i;
  return i;
}

// English contractions 's 't 're 've 'm 'll 'd at i (s[i] == '\''); returns the length or 0.
size_t Contraction(std::string_view s, size_t i, bool ignore_case) {
  auto get = [&](size_t k) -> uint32_t {
    if (k >= s.size()) return 0;
    uint32_t c = static_cast<unsigned char>(s[k]);
    return ignore_case ? LowerAscii(c) : c;
  };
  uint32_t a = get(i + 1), b = get(i + 2);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

// The whitespace tail shared by all our regexes, at i where s[i] is whitespace:
// \s*[\r\n]+ | \s+(?!\S) | \s+ . Returns the match length (> 0).
size_t WhitespaceTail(std::string_view s, size_t i, bool with_crlf_rule) {
  size_t e = i, last_start = i, last_crlf = std::string_view::npos;
  while (e < s.size()) {
    Ch c = At(s, e);
    if (!(c.f & kCatWs)) break;
    if (IsCrLf(c.cp)) last_crlf = e;
    last_start = e;
    e += c.len;
  }
  if (with_crlf_rule && last_crlf != std::string_view::npos) return last_crlf + 1 - i;
  if (e == s.size()) return e - i;
  if (last_start > i) return last_start - i;  // \s+(?!\S): leave the last space for the word
  return e - i;
}

// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max_digits}|
//  ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
size_t MatchLlama3(std::string_view s, size_t i, int max_digits) {
  Ch c = At(s, i);
  if (c.cp == '\'') {
    if (size_t m = Contraction(s, i, true)) return m;
  }
  if (c.f & kCatL) return RunEnd(s, i, kCatL) - i;
  size_t next = i + c.len;
  if (!IsCrLf(c.cp) && !(c.f & kCatN) && next < s.size() && (At(s, next).f & kCatL)) {
    return RunEnd(s, next, kCatL) - i;
  }
  if (c.f & kCatN) {
    size_t e = i;
    for (int k = 0; k < max_digits && e < s.size(); ++k) {
      Ch d = At(s, e);
      if (!(d.f & kCatN)) break;
      e += d.len;
    }
    return e - i;
  }
  size_t j = (c.cp == ' ') ? next : i;
  const uint8_t kWordish = kCatWs | kCatL | kCatN;
  if (j < s.size() && !(At(s, j).f & kWordish)) {
    return CrLfEnd(s, RunEndNot(s, j, kWordish)) - i;
  }
  if (c.f & kCatWs) return WhitespaceTail(s, i, true);
  return 0;
}

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
size_t MatchGpt2(std::string_view s, size_t i) {
  Ch c = At(s, i);
  if (c.cp == '\'') {
    if (size_t m = Contraction(s, i, false)) return m;
  }
  size_t j = (c.cp == ' ') ? i + 1 : i;
  if (j < s.size()) {
    Ch d = At(s, j);
    if (d.f & kCatL) return RunEnd(s, j, kCatL) - i;
    if (d.f & kCatN) return RunEnd(s, j, kCatN) - i;
    const uint8_t kWordish = kCatWs | kCatL | kCatN;
    if (!(d.f & kWordish)) return RunEndNot(s, j, kWordish) - i;
  }
  if (c.f & kCatWs) return WhitespaceTail(s, i, false);
  return 0;
}

size_t MatchDigits3(std::string_view s, size_t i) {
  size_t e = i;
  for (int k = 0; k < 3 && e < s.size(); ++k) {
    Ch d = At(s, e);
    if (!(d.f & kCatN)) break;
    e += d.len;
  }
  return e - i;
}

inline bool IsCjkKana(uint32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FA5) || (cp >= 0x3040 && cp <= 0x30FF);
}

size_t MatchCjk(std::string_view s, size_t i) {
  size_t e = i;
  while (e < s.size()) {
    Ch c = At(s, e);
    if (!IsCjkKana(c.cp)) break;
    e += c.len;
  }
  return e - i;
}

inline bool IsAsciiPunct(uint32_t c) {
  return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
         (c >= 0x7B && c <= 0x7E);
}
inline bool IsAsciiAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// [!-/:-@[-`{-~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|
// \s*[\r\n]+|\s+(?!\S)|\s+
size_t MatchDeepseekMain(std::string_view s, size_t i) {
  Ch c = At(s, i);
  size_t next = i + c.len;
  if (IsAsciiPunct(c.cp) && next < s.size() && IsAsciiAlpha(s[next])) {
    size_t e = next;
    while (e < s.size() && IsAsciiAlpha(s[e])) ++e;
    return e - i;
  }
  const uint8_t kLm = kCatL | kCatM;
  if (c.f & kLm) return RunEnd(s, i, kLm) - i;
  if (!IsCrLf(c.cp) && !(c.f & (kCatL | kCatP | kCatS)) && next < s.size() &&
      (At(s, next).f & kLm)) {
    return RunEnd(s, next, kLm) - i;
  }
  size_t j = (c.cp == ' ') ? next : i;
  const uint8_t kPs = kCatP | kCatS;
  if (j < s.size() && (At(s, j).f & kPs)) return CrLfEnd(s, RunEnd(s, j, kPs)) - i;
  if (c.f & kCatWs) return WhitespaceTail(s, i, true);
  return 0;
}

// HF Split with behaviour "Isolated": matches and the gaps between them are all words.
template <typename Match, typename Emit>
void SplitIsolated(std::string_view s, Match match, Emit&& emit) {
  size_t gap = 0, i = 0;
  while (i < s.size()) {
    size_t m = match(s, i);
    if (m == 0) {
      uint32_t cp;
      i += DecodeUtf8(s, i, &cp);
      continue;
    }
    if (gap < i) emit(s.substr(gap, i - gap));
    emit(s.substr(i, m));
    i += m;
    gap = i;
  }
  if (gap < s.size()) emit(s.substr(gap));
}

constexpr char kLlama3Regex[] =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr char kQwen2Regex[] =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr char kGpt2Regex[] =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr char kDigits3Regex[] = R"(\p{N}{1,3})";
constexpr char kCjkRegexEscaped[] = R"([\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+)";
constexpr char kCjkRegexLiteral[] = "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+";
constexpr char kDeepseekMainRegex[] =
    R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Writes literal CR / LF as the escapes \r \n so both spellings compare equal.
std::string CanonicalRegex(const std::string& r) {
  std::string out;
  for (char c : r) {
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

Result<PreTokenizer> PreTokenizerFromGgufName(std::string_view name) {
  if (name == "llama-bpe" || name == "llama3" || name == "llama-v3" || name == "pixtral" ||
      name == "smaug-bpe") {
    return PreTokenizer::kLlama3;
  }
  if (name == "qwen2" || name == "deepseek-r1-qwen" || name == "megrez")
    return PreTokenizer::kQwen2;
  if (name == "deepseek-v3") return PreTokenizer::kDeepseekV3;
  if (name == "default" || name == "gpt2" || name.empty()) return PreTokenizer::kGpt2;
  return Unsupported("tokenizer.ggml.pre: pre-tokenizer '" + std::string(name) +
                     "' is not implemented (supported: llama-bpe, qwen2, deepseek-v3, default)");
}

const char* PreTokenizerGgufName(PreTokenizer p) {
  switch (p) {
    case PreTokenizer::kLlama3:
      return "llama-bpe";
    case PreTokenizer::kQwen2:
      return "qwen2";
    case PreTokenizer::kDeepseekV3:
      return "deepseek-v3";
    case PreTokenizer::kGpt2:
      return "default";
  }
  return "default";
}

Result<PreTokenizer> PreTokenizerFromRegexes(const std::vector<std::string>& regexes) {
  std::vector<std::string> r;
  for (const auto& x : regexes) r.push_back(CanonicalRegex(x));
  if (r.size() == 1 && r[0] == kLlama3Regex) return PreTokenizer::kLlama3;
  if (r.size() == 1 && r[0] == kQwen2Regex) return PreTokenizer::kQwen2;
  if (r.size() == 1 && r[0] == kGpt2Regex) return PreTokenizer::kGpt2;
  if (r.size() == 3 && r[0] == kDigits3Regex &&
      (r[1] == kCjkRegexEscaped || r[1] == kCjkRegexLiteral) && r[2] == kDeepseekMainRegex) {
    return PreTokenizer::kDeepseekV3;
  }
  return Unsupported("pre_tokenizer: Split regex list not recognized (first: '" +
                     (r.empty() ? std::string() : r[0].substr(0, 120)) +
                     "'); supported: Llama-3, Qwen2/3, DeepSeek-V3, GPT-2");
}

void PreTokenizeEach(PreTokenizer p, std::string_view text,
                     const std::function<void(std::string_view)>& emit) {
  switch (p) {
    case PreTokenizer::kLlama3:
      SplitIsolated(
          text, [](std::string_view s, size_t i) { return MatchLlama3(s, i, 3); }, emit);
      return;
    case PreTokenizer::kQwen2:
      SplitIsolated(
          text, [](std::string_view s, size_t i) { return MatchLlama3(s, i, 1); }, emit);
      return;
    case PreTokenizer::kGpt2:
      SplitIsolated(text, MatchGpt2, emit);
      return;
    case PreTokenizer::kDeepseekV3: {
      auto pass3 = [&](std::string_view w) { SplitIsolated(w, MatchDeepseekMain, emit); };
      auto pass2 = [&](std::string_view w) { SplitIsolated(w, MatchCjk, pass3); };
      SplitIsolated(text, MatchDigits3, pass2);
      return;
    }
  }
}

void PreTokenize(PreTokenizer p, std::string_view text, std::vector<std::string_view>* words) {
  PreTokenizeEach(p, text, [words](std::string_view w) { words->push_back(w); });
}

}  // namespace cachet::tok
