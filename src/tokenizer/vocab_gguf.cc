// TokenizerSpec <-> GGUF files: converts between the GGUF reader/writer's typed values and the
// plain TokenizerMetadata map, so vocab_meta.cc holds the only key-by-key mapping.
#include <string>
#include <type_traits>
#include <variant>

#include "formats/gguf/gguf_reader.h"
#include "formats/gguf/gguf_writer.h"
#include "tokenizer/vocab.h"
#include "tokenizer/vocab_internal.h"

namespace cachet::tok {
namespace {

bool IsInteger(gguf::ValueType t) {
  switch (t) {
    case gguf::ValueType::kU8:
    case gguf::ValueType::kI8:
    case gguf::ValueType::kU16:
    case gguf::ValueType::kI16:
    case gguf::ValueType::kU32:
    case gguf::ValueType::kI32:
    case gguf::ValueType::kU64:
    case gguf::ValueType::kI64:
      return true;
    default:
      return false;
  }
}

// One GGUF value -> the MetaValue alternative the mapping expects for it. Ids of any integer
// width become uint32 (negative or too large ids are dropped: the metadata treats them as
// absent, as llama.cpp does for -1); integer arrays become int32, float arrays float.
Status Convert(const gguf::File& f, const gguf::Value& v, TokenizerMetadata* out) {
  const std::string& key = v.key();
  gguf::ValueType t = v.type();
  if (t == gguf::ValueType::kString) {
    CACHET_ASSIGN_OR_RETURN(std::string s, f.GetString(key));
    (*out)[key] = std::move(s);
  } else if (t == gguf::ValueType::kBool) {
    CACHET_ASSIGN_OR_RETURN(bool b, v.AsBool());
    (*out)[key] = b;
  } else if (IsInteger(t)) {
    CACHET_ASSIGN_OR_RETURN(int64_t i, v.AsI64());
    if (i >= 0 && i <= int64_t{0xffffffff}) (*out)[key] = static_cast<uint32_t>(i);
  } else if (t == gguf::ValueType::kArray) {
    gguf::ValueType et = v.ArrayType();
    if (et == gguf::ValueType::kString) {
      CACHET_ASSIGN_OR_RETURN(auto s, f.GetStringArray(key));
      (*out)[key] = std::move(s);
    } else if (IsInteger(et)) {
      auto a = f.GetI32Array(key);
      if (!a.ok()) return Corrupt(key + ": " + a.status().message());
      (*out)[key] = std::move(*a);
    } else if (et == gguf::ValueType::kF32 || et == gguf::ValueType::kF64) {
      CACHET_ASSIGN_OR_RETURN(auto a, f.GetF32Array(key));
      (*out)[key] = std::move(a);
    } else {
      return Corrupt(key + ": unexpected array element type " + gguf::ValueTypeName(et));
    }
  } else {
    return Corrupt(key + ": unexpected value type " + gguf::ValueTypeName(t));
  }
  return Status::Ok();
}

bool IsTokenizerKey(const std::string& key) {
  return key.rfind("tokenizer.ggml.", 0) == 0 || key == "tokenizer.chat_template";
}

}  // namespace

Result<TokenizerSpec> TokenizerSpecFromGguf(const gguf::File& f) {
  TokenizerMetadata meta;
  for (const gguf::Value& v : f.values()) {
    if (!IsTokenizerKey(v.key())) continue;
    Status s = Convert(f, v, &meta);
    if (!s.ok()) {
      if (s.code() == StatusCode::kCorrupt) return s;
      return Corrupt(v.key() + ": " + s.message());
    }
  }
  if (meta.find("tokenizer.ggml.model") == meta.end()) {
    return Corrupt("tokenizer.ggml.model: missing (this GGUF file carries no tokenizer)");
  }
  return TokenizerSpecFromMetadata(meta);
}

void WriteTokenizerToGguf(const TokenizerSpec& spec, gguf::Writer* w) {
  for (const auto& [key, value] : TokenizerSpecToMetadata(spec)) {
    std::visit(
        [&, &key = key](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string>) {
            w->SetString(key, v);
          } else if constexpr (std::is_same_v<T, uint32_t>) {
            w->SetU32(key, v);
          } else if constexpr (std::is_same_v<T, bool>) {
            w->SetBool(key, v);
          } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
            w->SetStringArray(key, v);
          } else if constexpr (std::is_same_v<T, std::vector<int32_t>>) {
            w->SetI32Array(key, v);
          } else {
            static_assert(std::is_same_v<T, std::vector<float>>);
            w->SetF32Array(key, v);
          }
        },
        value);
  }
}

Result<TokenizerSpec> LoadTokenizerSpecFromGgufPath(const std::string& path) {
  CACHET_ASSIGN_OR_RETURN(gguf::File f, gguf::File::Open(path));
  auto spec = TokenizerSpecFromGguf(f);
  if (!spec.ok()) return Status(spec.status().code(), path + ": " + spec.status().message());
  return spec;
}

}  // namespace cachet::tok
