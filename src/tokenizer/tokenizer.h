// Tokenizer: text <-> token ids for byte-level BPE ("gpt2") and SentencePiece BPE ("llama").
//
// Encode: added/special tokens are matched first (longest first; USER_DEFINED always, CONTROL and
// UNKNOWN only with parse_special), the rest is normalized (NFC where the spec says so),
// pre-tokenized by the hand-written scanner for spec.pre, and BPE-merged per word (O(n log n) per
// word, a cache of frequent words). Linear in the input apart from the per-word merge.
//
// Thread-safety: a Tokenizer is immutable after Create(); Encode/Decode may be called from any
// number of threads at once (the word cache is internally synchronized).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "tokenizer/vocab.h"

namespace cachet::tok {

class Tokenizer {
 public:
  // Errors: InvalidArgument when the spec is inconsistent (lengths differ, merge of unknown
  // tokens), Unsupported for an unknown model or pre-tokenizer name.
  static Result<std::unique_ptr<Tokenizer>> Create(const TokenizerSpec& spec);
  virtual ~Tokenizer() = default;

  // Token ids for `text` (any bytes; invalid UTF-8 is tokenized byte by byte). add_bos prepends
  // bos_id when the vocabulary has one.
  std::vector<int32_t> Encode(std::string_view text, bool add_bos, bool parse_special) const;
  // Bytes of the tokens concatenated, then invalid UTF-8 replaced by U+FFFD. Out-of-range ids
  // are skipped.
  std::string Decode(std::span<const int32_t> ids) const;
  // Raw bytes of one token (byte map reversed, <0xNN> resolved); empty for out-of-range ids.
  const std::string& TokenBytes(int32_t id) const;

  int32_t n_vocab() const { return static_cast<int32_t>(spec_.tokens.size()); }
  int32_t bos_id() const { return spec_.bos_id; }
  int32_t eos_id() const { return spec_.eos_id; }
  bool add_bos() const { return spec_.add_bos; }
  const std::vector<int32_t>& eog_ids() const { return spec_.eog_ids; }
  bool IsEog(int32_t id) const;
  // Token text as stored in the vocabulary (byte-mapped form); "" when out of range.
  const std::string& TokenText(int32_t id) const;
  // Id of a token text (exact match), or -1.
  int32_t TokenId(std::string_view text) const;
  const TokenizerSpec& spec() const { return spec_; }

 protected:
  explicit Tokenizer(TokenizerSpec spec);
  // Builds the special-token matcher and the text index; called by Create after construction.
  void InitCommon();
  // Appends the ids of a fragment that holds no special token. `at_start`: the fragment begins the
  // text (SentencePiece adds its space prefix only there).
  virtual void EncodeFragment(std::string_view text, bool at_start,
                              std::vector<int32_t>* out) const = 0;

  TokenizerSpec spec_;
  std::vector<std::string> token_bytes_;  // decoded bytes per id, filled by the subclass
  struct TextHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  std::unordered_map<std::string, int32_t, TextHash, std::equal_to<>> text_to_id_;

 private:
  // Length and id of the longest special token at text[i] (0 when none).
  size_t MatchSpecial(std::string_view text, size_t i, bool parse_special, int32_t* id) const;
  // Byte trie of the special token texts: matching at a position costs O(match length).
  struct TrieNode {
    std::vector<std::pair<uint8_t, int32_t>> edges;  // (byte, child node), sorted by byte
    int32_t id = -1;                                 // token ending here, or -1
    bool always = false;                             // USER_DEFINED: matched without parse_special
  };
  std::vector<TrieNode> special_trie_;  // [0] is the root
  std::vector<bool> special_first_byte_;
};

// Incremental decoding for streaming: Push returns only complete UTF-8 text; bytes of a sequence
// that a token leaves unfinished are held until the next tokens complete it. Invalid bytes become
// U+FFFD (when they can no longer start or continue a valid sequence); Finish flushes what is
// held (an incomplete tail becomes U+FFFD). Not thread-safe; one per stream.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer) : tok_(tokenizer) {}
  std::string Push(int32_t id);
  std::string Finish();

 private:
  const Tokenizer& tok_;
  std::string pending_;  // bytes of an unfinished UTF-8 sequence
  bool first_ = true;
};

// Replaces invalid UTF-8 in `bytes` by U+FFFD (one per maximal invalid subsequence, as WHATWG).
std::string SanitizeUtf8(std::string_view bytes);

}  // namespace cachet::tok
