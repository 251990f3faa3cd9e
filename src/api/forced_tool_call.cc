#include "api/forced_tool_call.h"

#include <utility>

#include "api/json_constraint.h"
#include "sampling/token_constraint.h"
#include "tokenizer/vocab.h"

namespace cachet::api {

namespace {

using parsers::ToolCallFormat;
using sampling::kTokenUnit;

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

// A marker the vocabulary holds as one added token (control or user-defined) is that token;
// other text is bytes (any tokenization).
void AppendMarker(const tok::Tokenizer& t, std::string_view text, std::vector<int32_t>* units) {
  std::vector<int32_t> ids = t.Encode(text, false, /*parse_special=*/true);
  const auto& types = t.spec().token_types;
  if (ids.size() == 1 && ids[0] >= 0 && static_cast<size_t>(ids[0]) < types.size() &&
      (types[ids[0]] == tok::TokenType::kControl ||
       types[ids[0]] == tok::TokenType::kUserDefined) &&
      t.TokenBytes(ids[0]) == text) {
    units->push_back(kTokenUnit + ids[0]);
    return;
  }
  sampling::AppendBytes(text, units);
}

struct Parts {
  std::vector<int32_t> head, tail;
};

Parts CallParts(ToolCallFormat f, const tok::Tokenizer& t, const std::string& name) {
  Parts p;
  auto head = [&](std::string_view m) { AppendMarker(t, m, &p.head); };
  auto tail = [&](std::string_view m) { AppendMarker(t, m, &p.tail); };
  switch (f) {
    case ToolCallFormat::kDeepSeekV3:
    case ToolCallFormat::kDeepSeekV31:
      head("<｜tool▁calls▁begin｜>");
      head("<｜tool▁call▁begin｜>");
      if (f == ToolCallFormat::kDeepSeekV3) {
        head("function");
        head("<｜tool▁sep｜>");
        head(name + "\n```json\n");
        tail("\n```");
      } else {
        head(name);
        head("<｜tool▁sep｜>");
      }
      tail("<｜tool▁call▁end｜>");
      tail("<｜tool▁calls▁end｜>");
      break;
    case ToolCallFormat::kQwen:
      head("<tool_call>");
      head("\n{\"name\": \"" + name + "\", \"arguments\": ");
      tail("}\n");
      tail("</tool_call>");
      break;
    case ToolCallFormat::kLlama31:
      head("{\"name\": \"" + name + "\", \"parameters\": ");
      tail("}");
      break;
    case ToolCallFormat::kNone:
      break;
  }
  return p;
}

}  // namespace

std::optional<ApiError> CompileForcedTool(const ToolDefinition& def, const std::string& name_path,
                                          const std::string& schema_path, ForcedTool* out) {
  if (!ValidName(def.name)) {
    return InvalidRequest("tool name '" + def.name +
                              "' cannot be forced: names must be 1-128 characters of "
                              "a-z, A-Z, 0-9, '_', '-', '.', ':'",
                          name_path);
  }
  const std::string& schema = def.parameters_json;
  auto g = schema.empty() || schema == "{}" || schema == "null"
               ? Result<sampling::JsonGrammar>(sampling::JsonObjectGrammar())
               : sampling::CompileJsonSchema(schema, schema_path);
  if (!g.ok()) return InvalidRequest(g.status().message(), schema_path);
  const auto& first = g->nodes[g->root].first;
  if (first.count() != 1 || !first.test('{')) {
    return InvalidRequest(schema_path +
                              ": a forced tool call needs an object schema (type "
                              "'object')",
                          schema_path);
  }
  out->name = def.name;
  out->arguments = std::make_shared<const sampling::JsonGrammar>(std::move(g).value());
  return std::nullopt;
}

parsers::ToolCallFormat ToolFormatOf(const ModelEntry& model) {
  if (model.tool_format.has_value()) return *model.tool_format;
#ifdef CACHET_API_HAS_PARSERS
  return parsers::ToolCallFormatForTemplate(model.tokenizer->spec().chat_template);
#else
  return ToolCallFormat::kNone;
#endif
}

Result<sampling::ToolCallGrammar> ForcedToolCallGrammar(ToolCallFormat format,
                                                        const tok::Tokenizer& tokenizer,
                                                        const std::vector<ForcedTool>& tools,
                                                        bool close_reasoning) {
  if (format == ToolCallFormat::kNone) {
    return InvalidArgument("the model has no known tool-call format");
  }
  std::vector<int32_t> prefix;
  if (close_reasoning) {
    AppendMarker(tokenizer, "</think>", &prefix);
    sampling::AppendBytes("\n\n", &prefix);
  }
  std::vector<sampling::ToolCallGrammar::Alternative> alts;
  for (const ForcedTool& t : tools) {
    Parts p = CallParts(format, tokenizer, t.name);
    sampling::ToolCallGrammar::Alternative a;
    a.name = t.name;
    a.head = prefix;
    a.head.insert(a.head.end(), p.head.begin(), p.head.end());
    a.arguments = t.arguments;
    a.tail = std::move(p.tail);
    alts.push_back(std::move(a));
  }
  return sampling::MakeToolCallGrammar(std::move(alts));
}

namespace {

class ToolCallConstraintAdapter : public engine::TokenConstraint {
 public:
  ToolCallConstraintAdapter(std::shared_ptr<const sampling::ToolCallGrammar> g,
                            std::shared_ptr<const sampling::TokenTrie> trie,
                            std::vector<int32_t> eog)
      : c_(std::move(g), std::move(trie), std::move(eog)) {}
  bool Allowed(std::span<uint8_t> mask) override { return c_.Allowed(mask); }
  void Accept(int32_t id) override { c_.Accept(id); }
  bool Done() const override { return c_.Done(); }

 private:
  sampling::ToolCallTokenConstraint c_;
};

}  // namespace

std::shared_ptr<engine::TokenConstraint> MakeToolCallConstraint(
    const std::shared_ptr<const tok::Tokenizer>& tokenizer,
    std::shared_ptr<const sampling::ToolCallGrammar> grammar) {
  std::vector<int32_t> eog = tokenizer->eog_ids();
  if (eog.empty() && tokenizer->eos_id() >= 0) eog.push_back(tokenizer->eos_id());
  return std::make_shared<ToolCallConstraintAdapter>(std::move(grammar), VocabTrie(tokenizer),
                                                     std::move(eog));
}

}  // namespace cachet::api
