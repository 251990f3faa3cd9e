// Helpers shared by the vocabulary loaders (not part of the public API).
#pragma once

#include "tokenizer/vocab.h"

namespace cachet::tok {

// Adds eos_id and every control/user-defined token whose text is a usual turn terminator
// (<|eot_id|>, <|im_end|>, <|endoftext|>, <｜end▁of▁sentence｜>, ...) to spec->eog_ids.
void AddDefaultEogIds(TokenizerSpec* spec);

}  // namespace cachet::tok

namespace cachet::tok {
// Opens a GGUF file and reads its tokenizer metadata; defined in vocab_gguf.cc (only built when
// the GGUF reader, cachet_formats, exists).
Result<TokenizerSpec> LoadTokenizerSpecFromGgufPath(const std::string& path);
}  // namespace cachet::tok
