// Token-level constrained decoding over a byte-level JSON matcher.
//
// TokenTrie: the vocabulary's token bytes as a byte trie (children contiguous, in byte order),
// so the mask walk feeds each shared prefix to the matcher once and drops a whole subtree at the
// first rejected byte. Built once per tokenizer (O(total token bytes)) and shared, read-only,
// by every request (thread-safe after construction).
//
// JsonTokenConstraint: the per-request object behind the engine's TokenConstraint interface
// (engine.h; the API layer adapts it). Not thread-safe: the engine thread alone calls
// Allowed(mask) then Accept(id), once per generated token.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "sampling/json_matcher.h"

namespace cachet::sampling {

class TokenTrie {
 public:
  // token_bytes[id]: raw bytes of token id. Tokens with empty bytes (and ids listed in
  // `excluded`, e.g. control tokens) are never allowed by a constraint.
  TokenTrie(std::vector<std::string> token_bytes, std::span<const int32_t> excluded);

  int32_t n_vocab() const { return static_cast<int32_t>(bytes_.size()); }
  const std::string& bytes(int32_t id) const { return bytes_[id]; }
  bool usable(int32_t id) const { return usable_[id] != 0; }
  size_t n_nodes() const { return byte_.size(); }

  // Node layout (node 0 is the root): children of k are child_begin_[k] ..
  // child_begin_[k + 1] - 1, sorted by byte; tokens ending at k are ids_[id_begin_[k] ..
  // id_begin_[k + 1] - 1].
  std::vector<uint8_t> byte_;
  std::vector<int32_t> child_begin_;
  std::vector<int32_t> id_begin_;
  std::vector<int32_t> ids_;
  // Subtree of node k: tokens order_[run_begin_[k] .. run_end_[k] - 1]; the
  // tokens sorted by bytes are the trie's preorder, so every subtree is one contiguous run.
  std::vector<int32_t> order_;
  std::vector<int32_t> run_begin_, run_end_;
  // 1 when every token below node k continues a JSON string's content from k on without closing
  // it: inside a string, such a subtree is allowed whole without walking it.
  std::vector<uint8_t> string_safe_;

 private:
  void ComputeStringSafe(const std::vector<int32_t>& depth_of);

  std::vector<std::string> bytes_;
  std::vector<uint8_t> usable_;  // 0: empty or excluded, never allowed
};

class JsonTokenConstraint {
 public:
  // `grammar` and `trie` are shared, immutable. `eog_ids`: end-of-generation tokens, allowed
  // only when the value is complete.
  JsonTokenConstraint(std::shared_ptr<const JsonGrammar> grammar,
                      std::shared_ptr<const TokenTrie> trie, std::vector<int32_t> eog_ids);

  // mask.size() is the model's vocabulary size; entries past the tokenizer's vocabulary (padded
  // rows) are set to 0. Sets mask[id] = 0 for every token whose bytes cannot continue the
  // output; returns false when no token at all is allowed.
  bool Allowed(std::span<uint8_t> mask);
  // Advances over token `id`'s bytes. An id the mask did not allow (or an end-of-generation
  // id) leaves the constraint finished: Done() turns true so the engine stops.
  void Accept(int32_t id);
  bool Done() const { return finished_ || matcher_.Done(); }
  // True when the accepted bytes form a complete value (end-of-generation allowed).
  bool Complete() const { return matcher_.CanEnd(); }

 private:
  void Walk(int32_t node, int depth, std::span<uint8_t> mask, bool* any);

  std::shared_ptr<const JsonGrammar> grammar_;
  std::shared_ptr<const TokenTrie> trie_;
  std::vector<int32_t> eog_ids_;
  JsonMatcher matcher_;
  std::vector<JsonMatcher> stack_;  // matcher state per trie depth during Allowed()
  bool finished_ = false;
};

}  // namespace cachet::sampling
