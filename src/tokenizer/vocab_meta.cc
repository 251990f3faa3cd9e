// TokenizerSpec <-> GGUF tokenizer metadata keys (gguf.md §5), as plain values.
#include <algorithm>
#include <string>

#include "tokenizer/pretokenizer.h"
#include "tokenizer/vocab.h"
#include "tokenizer/vocab_internal.h"

namespace cachet::tok {
namespace {

template <typename T>
Result<const T*> Get(const TokenizerMetadata& m, const std::string& key, bool required) {
  auto it = m.find(key);
  if (it == m.end()) {
    if (required) return Corrupt(key + ": missing");
    return static_cast<const T*>(nullptr);
  }
  const T* v = std::get_if<T>(&it->second);
  if (!v) return Corrupt(key + ": unexpected value type");
  return v;
}

Status ReadId(const TokenizerMetadata& m, const std::string& key, size_t n, int32_t* id) {
  CACHET_ASSIGN_OR_RETURN(const uint32_t* v, Get<uint32_t>(m, key, false));
  if (v && *v < n) *id = static_cast<int32_t>(*v);  // ids >= vocab size are ignored
  return Status::Ok();
}

Status ReadTypes(const TokenizerMetadata& m, TokenizerSpec* spec) {
  size_t n = spec->tokens.size();
  CACHET_ASSIGN_OR_RETURN(const auto* types,
                          Get<std::vector<int32_t>>(m, "tokenizer.ggml.token_type", false));
  spec->token_types.assign(n, TokenType::kNormal);
  if (!types) return Status::Ok();
  if (types->size() != n) return Corrupt("tokenizer.ggml.token_type: length differs from tokens");
  for (size_t i = 0; i < n; ++i) {
    int32_t t = (*types)[i];
    if (t < 1 || t > 6) {
      return Corrupt("tokenizer.ggml.token_type[" + std::to_string(i) + "]: bad value " +
                     std::to_string(t));
    }
    spec->token_types[i] = static_cast<TokenType>(t);
  }
  return Status::Ok();
}

Status ReadSpecialIds(const TokenizerMetadata& m, TokenizerSpec* spec) {
  size_t n = spec->tokens.size();
  bool spm = spec->model == "llama";
  if (spm) {
    spec->bos_id = n > 1 ? 1 : -1;
    spec->eos_id = n > 2 ? 2 : -1;
    spec->unk_id = 0;
  }
  CACHET_RETURN_IF_ERROR(ReadId(m, "tokenizer.ggml.bos_token_id", n, &spec->bos_id));
  CACHET_RETURN_IF_ERROR(ReadId(m, "tokenizer.ggml.eos_token_id", n, &spec->eos_id));
  CACHET_RETURN_IF_ERROR(ReadId(m, "tokenizer.ggml.unknown_token_id", n, &spec->unk_id));
  CACHET_RETURN_IF_ERROR(ReadId(m, "tokenizer.ggml.padding_token_id", n, &spec->pad_id));
  for (const char* key : {"tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"}) {
    int32_t id = -1;
    CACHET_RETURN_IF_ERROR(ReadId(m, key, n, &id));
    if (id >= 0) spec->eog_ids.push_back(id);
  }
  spec->add_bos = spm || spec->pre == "llama-bpe";
  CACHET_ASSIGN_OR_RETURN(const bool* add_bos, Get<bool>(m, "tokenizer.ggml.add_bos_token", false));
  if (add_bos) spec->add_bos = *add_bos;
  spec->add_space_prefix = spm;
  CACHET_ASSIGN_OR_RETURN(const bool* prefix,
                          Get<bool>(m, "tokenizer.ggml.add_space_prefix", false));
  if (prefix) spec->add_space_prefix = *prefix;
  return Status::Ok();
}

}  // namespace

Result<TokenizerSpec> TokenizerSpecFromMetadata(const TokenizerMetadata& m) {
  TokenizerSpec spec;
  CACHET_ASSIGN_OR_RETURN(const std::string* model,
                          Get<std::string>(m, "tokenizer.ggml.model", true));
  spec.model = *model;
  if (spec.model != "gpt2" && spec.model != "llama") {
    return Unsupported("tokenizer.ggml.model: '" + spec.model + "' (supported: gpt2, llama)");
  }
  CACHET_ASSIGN_OR_RETURN(const std::string* pre, Get<std::string>(m, "tokenizer.ggml.pre", false));
  spec.pre = pre ? *pre : "default";
  if (spec.model == "gpt2") {
    CACHET_ASSIGN_OR_RETURN(PreTokenizer p, PreTokenizerFromGgufName(spec.pre));
    spec.nfc = p == PreTokenizer::kQwen2;
    spec.pre = PreTokenizerGgufName(p);
  }
  CACHET_ASSIGN_OR_RETURN(const auto* tokens,
                          Get<std::vector<std::string>>(m, "tokenizer.ggml.tokens", true));
  if (tokens->empty()) return Corrupt("tokenizer.ggml.tokens: empty");
  spec.tokens = *tokens;
  CACHET_RETURN_IF_ERROR(ReadTypes(m, &spec));
  CACHET_ASSIGN_OR_RETURN(const auto* scores,
                          Get<std::vector<float>>(m, "tokenizer.ggml.scores", false));
  if (scores) {
    if (scores->size() != spec.tokens.size()) {
      return Corrupt("tokenizer.ggml.scores: length differs from tokens");
    }
    spec.scores = *scores;
  }
  CACHET_ASSIGN_OR_RETURN(const auto* merges,
                          Get<std::vector<std::string>>(m, "tokenizer.ggml.merges", false));
  if (merges) spec.merges = *merges;
  CACHET_RETURN_IF_ERROR(ReadSpecialIds(m, &spec));
  CACHET_ASSIGN_OR_RETURN(const std::string* tmpl,
                          Get<std::string>(m, "tokenizer.chat_template", false));
  if (tmpl) spec.chat_template = *tmpl;
  AddDefaultEogIds(&spec);
  return spec;
}

TokenizerMetadata TokenizerSpecToMetadata(const TokenizerSpec& spec) {
  TokenizerMetadata m;
  m["tokenizer.ggml.model"] = spec.model;
  if (spec.model == "gpt2") m["tokenizer.ggml.pre"] = spec.pre;
  m["tokenizer.ggml.tokens"] = spec.tokens;
  std::vector<int32_t> types;
  types.reserve(spec.token_types.size());
  for (TokenType t : spec.token_types) types.push_back(static_cast<int32_t>(t));
  m["tokenizer.ggml.token_type"] = std::move(types);
  if (!spec.scores.empty()) m["tokenizer.ggml.scores"] = spec.scores;
  if (!spec.merges.empty()) m["tokenizer.ggml.merges"] = spec.merges;
  auto put_id = [&](const char* key, int32_t id) {
    if (id >= 0) m[key] = static_cast<uint32_t>(id);
  };
  put_id("tokenizer.ggml.bos_token_id", spec.bos_id);
  put_id("tokenizer.ggml.eos_token_id", spec.eos_id);
  put_id("tokenizer.ggml.unknown_token_id", spec.unk_id);
  put_id("tokenizer.ggml.padding_token_id", spec.pad_id);
  // An eog id that the terminator-name rule would not find again is written as eot.
  TokenizerSpec probe;
  probe.tokens = spec.tokens;
  probe.token_types = spec.token_types;
  probe.eos_id = spec.eos_id;
  AddDefaultEogIds(&probe);
  for (int32_t id : spec.eog_ids) {
    if (std::find(probe.eog_ids.begin(), probe.eog_ids.end(), id) == probe.eog_ids.end()) {
      put_id("tokenizer.ggml.eot_token_id", id);
      break;
    }
  }
  m["tokenizer.ggml.add_bos_token"] = spec.add_bos;
  if (spec.model == "llama") m["tokenizer.ggml.add_space_prefix"] = spec.add_space_prefix;
  if (!spec.chat_template.empty()) m["tokenizer.chat_template"] = spec.chat_template;
  return m;
}

}  // namespace cachet::tok
