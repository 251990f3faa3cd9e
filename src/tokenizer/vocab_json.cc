// LoadTokenizerJson: Hugging Face tokenizer.json (+ tokenizer_config.json) -> TokenizerSpec.
#include <nlohmann/json.hpp>

#include "base/env.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/vocab.h"
#include "tokenizer/vocab_internal.h"

namespace cachet::tok {
namespace {

using Json = nlohmann::json;

Result<Json> ReadJson(const std::string& path) {
  CACHET_ASSIGN_OR_RETURN(std::string text, Env::Default()->ReadFile(path));
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Corrupt(path + ": not valid JSON");
  return j;
}

// The Split regexes of the pre_tokenizer, in order. A ByteLevel step with use_regex=true
// contributes the GPT-2 regex.
Result<std::vector<std::string>> SplitRegexes(const Json& pre) {
  std::vector<std::string> out;
  if (pre.is_null()) return out;
  std::vector<Json> steps;
  if (pre.value("type", "") == "Sequence") {
    for (const auto& s : pre.at("pretokenizers")) steps.push_back(s);
  } else {
    steps.push_back(pre);
  }
  for (const auto& s : steps) {
    std::string type = s.value("type", "");
    if (type == "Split") {
      if (s.value("behavior", "") != "Isolated" || s.value("invert", false)) {
        return Unsupported("pre_tokenizer.Split: only behavior Isolated without invert");
      }
      const Json& pat = s.at("pattern");
      if (!pat.contains("Regex")) return Unsupported("pre_tokenizer.Split: only Regex patterns");
      out.push_back(pat.at("Regex").get<std::string>());
    } else if (type == "ByteLevel") {
      if (s.value("use_regex", true)) {
        out.push_back(
            R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)");
      }
    } else {
      return Unsupported("pre_tokenizer: step type '" + type + "'");
    }
  }
  return out;
}

// Whether the normalizer asks for NFC; Unsupported for any other normalization.
Result<bool> NormalizerIsNfc(const Json& n) {
  if (n.is_null()) return false;
  std::string type = n.value("type", "");
  if (type == "NFC") return true;
  if (type == "Sequence") {
    bool nfc = false;
    for (const auto& s : n.at("normalizers")) {
      CACHET_ASSIGN_OR_RETURN(bool x, NormalizerIsNfc(s));
      nfc = nfc || x;
    }
    return nfc;
  }
  return Unsupported("normalizer: type '" + type + "' (supported: NFC, empty Sequence)");
}

Status FillVocab(const Json& j, TokenizerSpec* spec) {
  const Json& model = j.at("model");
  const Json& vocab = model.at("vocab");
  int64_t max_id = -1;
  for (auto it = vocab.begin(); it != vocab.end(); ++it)
    max_id = std::max<int64_t>(max_id, it.value().get<int64_t>());
  const Json& added = j.value("added_tokens", Json::array());
  for (const auto& a : added) max_id = std::max<int64_t>(max_id, a.at("id").get<int64_t>());
  if (max_id < 0 || max_id > (1 << 24)) return Corrupt("model.vocab: bad size or id");
  spec->tokens.assign(max_id + 1, std::string());
  spec->token_types.assign(max_id + 1, TokenType::kUnused);
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    int64_t id = it.value().get<int64_t>();
    if (id < 0) return Corrupt("model.vocab: negative id for '" + it.key() + "'");
    spec->tokens[id] = it.key();
    spec->token_types[id] = TokenType::kNormal;
  }
  for (const auto& a : added) {
    int64_t id = a.at("id").get<int64_t>();
    if (id < 0) return Corrupt("added_tokens: negative id");
    spec->tokens[id] = a.at("content").get<std::string>();
    spec->token_types[id] =
        a.value("special", false) ? TokenType::kControl : TokenType::kUserDefined;
  }
  for (size_t id = 0; id < spec->tokens.size(); ++id) {
    if (spec->token_types[id] == TokenType::kUnused)
      spec->tokens[id] = "[PAD" + std::to_string(id) + "]";
  }
  for (const auto& m : model.at("merges")) {
    if (m.is_string()) {
      spec->merges.push_back(m.get<std::string>());
    } else if (m.is_array() && m.size() == 2) {
      spec->merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
    } else {
      return Corrupt("model.merges: entry is neither \"a b\" nor [a, b]");
    }
  }
  return Status::Ok();
}

int32_t FindToken(const TokenizerSpec& spec, const Json& v) {
  std::string text;
  if (v.is_string()) {
    text = v.get<std::string>();
  } else if (v.is_object() && v.contains("content")) {
    text = v.at("content").get<std::string>();
  } else {
    return -1;
  }
  for (size_t id = 0; id < spec.tokens.size(); ++id) {
    if (spec.tokens[id] == text) return static_cast<int32_t>(id);
  }
  return -1;
}

void ApplyConfig(const Json& c, PreTokenizer pre, TokenizerSpec* spec) {
  if (c.contains("bos_token")) spec->bos_id = FindToken(*spec, c["bos_token"]);
  if (c.contains("eos_token")) spec->eos_id = FindToken(*spec, c["eos_token"]);
  if (c.contains("pad_token")) spec->pad_id = FindToken(*spec, c["pad_token"]);
  if (c.contains("unk_token")) spec->unk_id = FindToken(*spec, c["unk_token"]);
  spec->add_bos = pre == PreTokenizer::kLlama3;
  if (c.contains("add_bos_token") && c["add_bos_token"].is_boolean()) {
    spec->add_bos = c["add_bos_token"].get<bool>();
  }
  if (spec->bos_id < 0) spec->add_bos = false;
  const Json& t = c.value("chat_template", Json());
  if (t.is_string()) {
    spec->chat_template = t.get<std::string>();
  } else if (t.is_array()) {
    for (const auto& e : t) {
      if (e.value("name", "") == "default") spec->chat_template = e.value("template", "");
    }
  }
}

Result<TokenizerSpec> ParseSpec(const Json& j, const Json& config) {
  TokenizerSpec spec;
  const Json& model = j.at("model");
  if (model.value("type", "BPE") != "BPE") {
    return Unsupported("model.type '" + model.value("type", "") + "' (supported: BPE)");
  }
  std::string decoder = j.value("decoder", Json::object()).value("type", "");
  if (decoder != "ByteLevel") {
    return Unsupported("decoder.type '" + decoder +
                       "': only byte-level BPE tokenizer.json is "
                       "supported (SentencePiece vocabularies load from GGUF)");
  }
  spec.model = "gpt2";
  CACHET_ASSIGN_OR_RETURN(auto regexes, SplitRegexes(j.value("pre_tokenizer", Json())));
  CACHET_ASSIGN_OR_RETURN(PreTokenizer pre, PreTokenizerFromRegexes(regexes));
  spec.pre = PreTokenizerGgufName(pre);
  CACHET_ASSIGN_OR_RETURN(spec.nfc, NormalizerIsNfc(j.value("normalizer", Json())));
  CACHET_RETURN_IF_ERROR(FillVocab(j, &spec));
  ApplyConfig(config, pre, &spec);
  AddDefaultEogIds(&spec);
  return spec;
}

}  // namespace

Result<TokenizerSpec> LoadTokenizerJson(const std::string& path_or_dir) {
  std::string path = path_or_dir, dir;
  if (path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0) {
    size_t slash = path.rfind('/');
    dir = slash == std::string::npos ? "." : path.substr(0, slash);
  } else {
    dir = path_or_dir;
    path = JoinPath(dir, "tokenizer.json");
  }
  CACHET_ASSIGN_OR_RETURN(Json j, ReadJson(path));
  Json config = Json::object();
  std::string config_path = JoinPath(dir, "tokenizer_config.json");
  if (Env::Default()->FileExists(config_path)) {
    CACHET_ASSIGN_OR_RETURN(config, ReadJson(config_path));
    if (!config.is_object()) return Corrupt(config_path + ": not a JSON object");
  }
  try {
    Result<TokenizerSpec> r = ParseSpec(j, config);
    if (!r.ok()) return r.status().WithContext(path);
    return r;
  } catch (const Json::exception& e) {
    return Corrupt(path + ": unexpected structure: " + e.what());
  }
}

}  // namespace cachet::tok
