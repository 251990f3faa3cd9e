#include "tokenizer/spm_tokenizer.h"

#include <cstdio>
#include <functional>
#include <queue>

#include "tokenizer/unicode.h"

namespace cachet::tok {
namespace {
constexpr char kSpace[] = "\xE2\x96\x81";  // U+2581
}

Result<std::unique_ptr<Tokenizer>> SpmTokenizer::Make(const TokenizerSpec& spec) {
  std::unique_ptr<SpmTokenizer> t(new SpmTokenizer(spec));
  t->Build();
  return std::unique_ptr<Tokenizer>(std::move(t));
}

void SpmTokenizer::Build() {
  byte_id_.fill(-1);
  token_bytes_.resize(spec_.tokens.size());
  for (int32_t id = 0; id < n_vocab(); ++id) {
    const std::string& t = spec_.tokens[id];
    TokenType type = spec_.token_types[id];
    unsigned v;
    if (type == TokenType::kByte && t.size() == 6 && std::sscanf(t.c_str(), "<0x%2X>", &v) == 1) {
      byte_id_[v & 255] = id;
      token_bytes_[id] = std::string(1, static_cast<char>(v));
      continue;
    }
    if (type == TokenType::kNormal || type == TokenType::kUserDefined) piece_id_.emplace(t, id);
    if (type == TokenType::kNormal) {
      std::string b;
      for (size_t i = 0; i < t.size();) {
        if (t.compare(i, 3, kSpace) == 0) {
          b.push_back(' ');
          i += 3;
        } else {
          b.push_back(t[i++]);
        }
      }
      token_bytes_[id] = std::move(b);
    } else if (type == TokenType::kUserDefined) {
      token_bytes_[id] = t;
    }
  }
}

int32_t SpmTokenizer::Lookup(std::string_view piece) const {
  auto it = piece_id_.find(piece);
  return it == piece_id_.end() ? -1 : it->second;
}

// Score-ordered merging over a linked list of UTF-8 characters with a max-heap of candidate
// pairs (ties: leftmost first); O(n log n).
void SpmTokenizer::EncodeFragment(std::string_view text, bool at_start,
                                  std::vector<int32_t>* out) const {
  std::string s;
  if (at_start && spec_.add_space_prefix) s += kSpace;
  for (char c : text) {
    if (c == ' ') {
      s += kSpace;
    } else {
      s.push_back(c);
    }
  }
  struct Sym {
    uint32_t start, len;
    int32_t prev, next;
  };
  std::vector<Sym> syms;
  for (size_t i = 0; i < s.size();) {
    uint32_t cp;
    int len = DecodeUtf8(s, i, &cp);
    int32_t n = static_cast<int32_t>(syms.size());
    syms.push_back({static_cast<uint32_t>(i), static_cast<uint32_t>(len), n - 1, -1});
    if (n > 0) syms[n - 1].next = n;
    i += len;
  }
  struct Cand {
    float score;
    int32_t pos;
    uint32_t total;
    bool operator<(const Cand& o) const { return score != o.score ? score < o.score : pos > o.pos; }
  };
  std::priority_queue<Cand> heap;
  auto consider = [&](int32_t left) {
    if (left < 0 || syms[left].next < 0) return;
    const Sym& l = syms[left];
    uint32_t total = l.len + syms[l.next].len;
    int32_t id = Lookup(std::string_view(s).substr(l.start, total));
    if (id >= 0) heap.push({Score(id), left, total});
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(syms.size()); ++i) consider(i);
  while (!heap.empty()) {
    Cand c = heap.top();
    heap.pop();
    Sym& l = syms[c.pos];
    if (l.len == 0 || l.next < 0 || l.len + syms[l.next].len != c.total) continue;  // stale
    Sym& r = syms[l.next];
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (l.next >= 0) syms[l.next].prev = c.pos;
    consider(l.prev);
    consider(c.pos);
  }
  for (int32_t i = syms.empty() ? -1 : 0; i >= 0; i = syms[i].next) {
    std::string_view piece = std::string_view(s).substr(syms[i].start, syms[i].len);
    int32_t id = Lookup(piece);
    if (id >= 0) {
      out->push_back(id);
      continue;
    }
    for (char b : piece) {
      int32_t bid = byte_id_[static_cast<unsigned char>(b)];
      if (bid >= 0) {
        out->push_back(bid);
      } else if (spec_.unk_id >= 0) {
        out->push_back(spec_.unk_id);
      }
    }
  }
}

}  // namespace cachet::tok
