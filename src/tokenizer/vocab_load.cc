#include <string>

#include "tokenizer/vocab.h"
#include "tokenizer/vocab_internal.h"

namespace cachet::tok {

Result<TokenizerSpec> LoadTokenizerSpec(const std::string& path) {
  bool is_gguf = path.size() >= 5 && path.compare(path.size() - 5, 5, ".gguf") == 0;
  if (!is_gguf) return LoadTokenizerJson(path);
#ifdef CACHET_TOKENIZER_HAS_GGUF
  return LoadTokenizerSpecFromGgufPath(path);
#else
  return Unsupported(path + ": this build has no GGUF reader (cachet_formats)");
#endif
}

}  // namespace cachet::tok
