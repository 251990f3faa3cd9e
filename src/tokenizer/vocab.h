// TokenizerSpec: everything needed to build a Tokenizer, in the shape GGUF stores it
// (gguf.md §5). Loaded from a Hugging Face tokenizer.json (+ tokenizer_config.json beside it) or
// from GGUF metadata; both give the same spec (and therefore the same ids) for the same tokenizer.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "base/status.h"

namespace cachet::gguf {
class File;
class Writer;
}  // namespace cachet::gguf

namespace cachet::tok {

// GGUF tokenizer.ggml.token_type values.
enum class TokenType : int32_t {
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

struct TokenizerSpec {
  // "gpt2": byte-level BPE (tokens/merges in GPT-2 byte-mapped form);
  // "llama": SentencePiece BPE with byte fallback (merge by score).
  std::string model;
  // GGUF pre-tokenizer name: "llama-bpe", "qwen2", "deepseek-v3", "default", ... (gguf.md §5.3).
  std::string pre;
  std::vector<std::string> tokens;     // token text by id
  std::vector<TokenType> token_types;  // same length as tokens
  std::vector<float> scores;           // empty or same length as tokens
  std::vector<std::string> merges;     // "left right", rank = index
  int32_t bos_id = -1, eos_id = -1, pad_id = -1, unk_id = -1;
  bool add_bos = false;
  bool add_space_prefix = false;  // "llama" model only
  bool nfc = false;               // apply Unicode NFC before pre-tokenizing (Qwen2/3)
  // End-of-generation ids (eos, <|eot_id|>, <|im_end|>, ...); generation stops on any of them.
  std::vector<int32_t> eog_ids;
  std::string chat_template;  // Jinja source, may be empty
};

// Reads tokenizer.json (path may be the file or its directory) and, when present beside it,
// tokenizer_config.json (chat_template, bos/eos tokens, add_bos_token).
// Errors: NotFound / IoError for files, Corrupt for malformed JSON or fields (message names the
// field), Unsupported for a model type or pre-tokenizer config that is not one we implement.
Result<TokenizerSpec> LoadTokenizerJson(const std::string& path_or_dir);

// Loads a spec from a path: a .gguf file (its tokenizer metadata), a tokenizer.json, or a directory
// holding tokenizer.json. Unsupported for .gguf when the library was built without the GGUF reader.
Result<TokenizerSpec> LoadTokenizerSpec(const std::string& path);

// The tokenizer keys of GGUF metadata as plain values (gguf.md §5), independent of the GGUF
// reader/writer API: uint32 for ids, bool for flags, arrays of string / int32 / float32.
using MetaValue = std::variant<std::string, uint32_t, bool, std::vector<std::string>,
                               std::vector<int32_t>, std::vector<float>>;
using TokenizerMetadata = std::map<std::string, MetaValue>;

// tokenizer.ggml.* keys -> spec. Integer ids/flags given with other widths must be converted by
// the caller. Errors: Corrupt (missing tokens, wrong value type, lengths disagree, bad token
// type), Unsupported (tokenizer.ggml.model or .pre we do not implement). Qwen2-group
// pre-tokenizers imply NFC (as their tokenizer.json normalizer says) so both loaders agree.
Result<TokenizerSpec> TokenizerSpecFromMetadata(const TokenizerMetadata& meta);
// spec -> tokenizer.ggml.* keys with the types gguf-py writes (ids UINT32, types INT32 array...).
TokenizerMetadata TokenizerSpecToMetadata(const TokenizerSpec& spec);

// Reads tokenizer.ggml.* / tokenizer.chat_template from GGUF metadata (gguf.md §5).
// Errors: Corrupt (missing tokens, wrong types, lengths disagree), Unsupported (model type).
Result<TokenizerSpec> TokenizerSpecFromGguf(const gguf::File& f);

// Writes the spec as tokenizer.ggml.* metadata (types as gguf-py writes them).
void WriteTokenizerToGguf(const TokenizerSpec& spec, gguf::Writer* w);

// A tiny self-contained byte-level vocabulary (model "gpt2", pre "default"): 256 byte tokens
// (ids 0..255, GPT-2 byte-mapped), no merges, then specials <|bos|> 256, <|eos|> 257 (also eog),
// <|im_start|> 258, <|im_end|> 259 (eog), <|pad|> 260. For test models without a tokenizer.json.
TokenizerSpec ByteLevelFallbackSpec();

}  // namespace cachet::tok
