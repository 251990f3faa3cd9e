#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <cstring>

#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/spm_tokenizer.h"
#include "tokenizer/unicode.h"

namespace cachet::tok {

Tokenizer::Tokenizer(TokenizerSpec spec) : spec_(std::move(spec)) {}

Result<std::unique_ptr<Tokenizer>> Tokenizer::Create(const TokenizerSpec& spec) {
  size_t n = spec.tokens.size();
  if (n == 0) return InvalidArgument("tokenizer: empty vocabulary (tokens)");
  if (spec.token_types.size() != n) {
    return InvalidArgument("tokenizer: token_types has " + std::to_string(spec.token_types.size()) +
                           " entries, tokens has " + std::to_string(n));
  }
  if (!spec.scores.empty() && spec.scores.size() != n) {
    return InvalidArgument("tokenizer: scores length differs from tokens length");
  }
  std::unique_ptr<Tokenizer> t;
  if (spec.model == "gpt2") {
    CACHET_ASSIGN_OR_RETURN(t, BpeTokenizer::Make(spec));
  } else if (spec.model == "llama") {
    CACHET_ASSIGN_OR_RETURN(t, SpmTokenizer::Make(spec));
  } else {
    return Unsupported("tokenizer: model '" + spec.model + "' (supported: gpt2, llama)");
  }
  t->InitCommon();
  return t;
}

void Tokenizer::InitCommon() {
  auto valid = [&](int32_t id) { return id >= 0 && id < n_vocab(); };
  if (!valid(spec_.bos_id)) spec_.bos_id = -1;
  if (!valid(spec_.eos_id)) spec_.eos_id = -1;
  std::erase_if(spec_.eog_ids, [&](int32_t id) { return !valid(id); });
  text_to_id_.reserve(spec_.tokens.size());
  for (int32_t id = 0; id < n_vocab(); ++id) text_to_id_.emplace(spec_.tokens[id], id);
  special_first_byte_.assign(256, false);
  special_trie_.assign(1, TrieNode());
  for (int32_t id = 0; id < n_vocab(); ++id) {
    TokenType type = spec_.token_types[id];
    const std::string& text = spec_.tokens[id];
    if (text.empty()) continue;
    bool always = type == TokenType::kUserDefined;
    if (!always && type != TokenType::kControl && type != TokenType::kUnknown) continue;
    special_first_byte_[static_cast<unsigned char>(text[0])] = true;
    int32_t node = 0;
    for (char ch : text) {
      uint8_t b = static_cast<uint8_t>(ch);
      auto& edges = special_trie_[node].edges;
      auto it = std::lower_bound(edges.begin(), edges.end(), std::make_pair(b, int32_t{-1}));
      if (it != edges.end() && it->first == b) {
        node = it->second;
        continue;
      }
      int32_t child = static_cast<int32_t>(special_trie_.size());
      edges.insert(it, {b, child});
      special_trie_.emplace_back();  // invalidates `edges`; not used after this
      node = child;
    }
    if (special_trie_[node].id < 0) special_trie_[node] = {special_trie_[node].edges, id, always};
  }
}

size_t Tokenizer::MatchSpecial(std::string_view text, size_t i, bool parse_special,
                               int32_t* id) const {
  if (!special_first_byte_[static_cast<unsigned char>(text[i])]) return 0;
  size_t best = 0;
  int32_t node = 0;
  for (size_t k = i; k < text.size(); ++k) {
    const auto& edges = special_trie_[node].edges;
    uint8_t b = static_cast<uint8_t>(text[k]);
    auto it = std::lower_bound(edges.begin(), edges.end(), std::make_pair(b, int32_t{-1}));
    if (it == edges.end() || it->first != b) break;
    node = it->second;
    const TrieNode& n = special_trie_[node];
    if (n.id >= 0 && (n.always || parse_special)) {
      best = k + 1 - i;
      *id = n.id;
    }
  }
  return best;
}

std::vector<int32_t> Tokenizer::Encode(std::string_view text, bool add_bos,
                                       bool parse_special) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (add_bos && spec_.bos_id >= 0) out.push_back(spec_.bos_id);
  size_t start = 0;
  for (size_t i = 0; i < text.size();) {
    int32_t id;
    size_t m = MatchSpecial(text, i, parse_special, &id);
    if (m == 0) {
      ++i;
      continue;
    }
    if (start < i) EncodeFragment(text.substr(start, i - start), start == 0, &out);
    out.push_back(id);
    i += m;
    start = i;
  }
  if (start < text.size()) EncodeFragment(text.substr(start), start == 0, &out);
  return out;
}

std::string Tokenizer::Decode(std::span<const int32_t> ids) const {
  std::string bytes;
  for (int32_t id : ids) bytes += TokenBytes(id);
  if (spec_.model == "llama" && spec_.add_space_prefix && !bytes.empty() && bytes[0] == ' ') {
    bytes.erase(0, 1);
  }
  return SanitizeUtf8(bytes);
}

const std::string& Tokenizer::TokenBytes(int32_t id) const {
  static const std::string kEmpty;
  if (id < 0 || id >= static_cast<int32_t>(token_bytes_.size())) return kEmpty;
  return token_bytes_[id];
}

bool Tokenizer::IsEog(int32_t id) const {
  return std::find(spec_.eog_ids.begin(), spec_.eog_ids.end(), id) != spec_.eog_ids.end();
}

const std::string& Tokenizer::TokenText(int32_t id) const {
  static const std::string kEmpty;
  if (id < 0 || id >= n_vocab()) return kEmpty;
  return spec_.tokens[id];
}

int32_t Tokenizer::TokenId(std::string_view text) const {
  auto it = text_to_id_.find(text);
  return it == text_to_id_.end() ? -1 : it->second;
}

namespace {

// Length of a valid UTF-8 sequence starting at s[i]: >0 valid, 0 invalid here, -1 incomplete
// (a valid prefix that runs past the end of s).
int Utf8SeqState(std::string_view s, size_t i) {
  auto u = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = u(i);
  if (c < 0x80) return 1;
  int len;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  for (int k = 1; k < len; ++k) {
    if (i + k >= s.size()) return -1;
    unsigned char b = u(i + k);
    unsigned char l = (k == 1) ? lo : 0x80, h = (k == 1) ? hi : 0xBF;
    if (b < l || b > h) return 0;
  }
  return len;
}

constexpr char kReplacement[] = "\xEF\xBF\xBD";

// Appends the valid text of s to *out, U+FFFD for each maximal invalid prefix. When hold_tail,
// an incomplete sequence at the end is not consumed; returns how many bytes were consumed.
size_t AppendSanitized(std::string_view s, bool hold_tail, std::string* out) {
  size_t i = 0;
  while (i < s.size()) {
    int st = Utf8SeqState(s, i);
    if (st > 0) {
      out->append(s.data() + i, st);
      i += st;
      continue;
    }
    if (st < 0 && hold_tail) return i;
    // Skip the maximal prefix of a valid sequence (at least one byte).
    size_t j = i + 1;
    while (j < s.size() && (static_cast<unsigned char>(s[j]) & 0xC0) == 0x80 &&
           Utf8SeqState(s.substr(0, j + 1), i) < 0) {
      ++j;
    }
    out->append(kReplacement);
    i = j;
  }
  return i;
}

}  // namespace

std::string SanitizeUtf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  AppendSanitized(bytes, false, &out);
  return out;
}

std::string StreamDecoder::Push(int32_t id) {
  std::string_view bytes = tok_.TokenBytes(id);
  if (first_ && tok_.spec().model == "llama" && tok_.spec().add_space_prefix && !bytes.empty() &&
      bytes[0] == ' ') {
    bytes.remove_prefix(1);
  }
  if (!bytes.empty()) first_ = false;
  pending_.append(bytes);
  std::string out;
  size_t used = AppendSanitized(pending_, true, &out);
  pending_.erase(0, used);
  return out;
}

std::string StreamDecoder::Finish() {
  std::string out = SanitizeUtf8(pending_);
  pending_.clear();
  return out;
}

}  // namespace cachet::tok
