// SentencePiece BPE ("llama" model, gguf.md §5.2): spaces become U+2581, adjacent pieces merge
// while their concatenation is a token (highest score first), unknown characters fall back to
// <0xNN> byte tokens.
#pragma once

#include <array>
#include <memory>

#include "tokenizer/tokenizer.h"

namespace cachet::tok {

class SpmTokenizer final : public Tokenizer {
 public:
  static Result<std::unique_ptr<Tokenizer>> Make(const TokenizerSpec& spec);

 protected:
  void EncodeFragment(std::string_view text, bool at_start,
                      std::vector<int32_t>* out) const override;

 private:
  explicit SpmTokenizer(const TokenizerSpec& spec) : Tokenizer(spec) {}
  void Build();
  int32_t Lookup(std::string_view piece) const;
  float Score(int32_t id) const { return spec_.scores.empty() ? 0.0f : spec_.scores[id]; }

  std::unordered_map<std::string_view, int32_t> piece_id_;  // views into spec_.tokens
  std::array<int32_t, 256> byte_id_{};                      // <0xNN> tokens (-1: none)
};

}  // namespace cachet::tok
