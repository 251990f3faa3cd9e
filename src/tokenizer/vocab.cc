#include "tokenizer/vocab.h"

#include <algorithm>

#include "tokenizer/byte_map.h"
#include "tokenizer/vocab_internal.h"

namespace cachet::tok {

void AddDefaultEogIds(TokenizerSpec* spec) {
  static const char* const kTerminators[] = {
      "<|eot_id|>",
      "<|im_end|>",
      "<|end|>",
      "<|endoftext|>",
      "<|end_of_text|>",
      "<\xEF\xBD\x9C"
      "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",  // <｜end▁of▁sentence｜>
      "[EOS]",
      "[EOT]",
      "<end_of_turn>",
      "<|eom_id|>",
      "</s>"};
  auto add = [&](int32_t id) {
    if (id < 0 || id >= static_cast<int32_t>(spec->tokens.size())) return;
    if (std::find(spec->eog_ids.begin(), spec->eog_ids.end(), id) == spec->eog_ids.end()) {
      spec->eog_ids.push_back(id);
    }
  };
  add(spec->eos_id);
  for (int32_t id = 0; id < static_cast<int32_t>(spec->tokens.size()); ++id) {
    TokenType t = spec->token_types[id];
    if (t != TokenType::kControl && t != TokenType::kUserDefined) continue;
    for (const char* term : kTerminators) {
      if (spec->tokens[id] == term) add(id);
    }
  }
}

TokenizerSpec ByteLevelFallbackSpec() {
  TokenizerSpec spec;
  spec.model = "gpt2";
  spec.pre = "default";
  const auto& bytes = ByteMapUtf8();
  for (int b = 0; b < 256; ++b) {
    spec.tokens.push_back(bytes[b]);
    spec.token_types.push_back(TokenType::kNormal);
  }
  for (const char* s : {"<|bos|>", "<|eos|>", "<|im_start|>", "<|im_end|>", "<|pad|>"}) {
    spec.tokens.push_back(s);
    spec.token_types.push_back(TokenType::kControl);
  }
  spec.bos_id = 256;
  spec.eos_id = 257;
  spec.pad_id = 260;
  spec.add_bos = false;
  spec.eog_ids = {257, 259};
  return spec;
}

}  // namespace cachet::tok
