// The models a server serves: for each, its engine, tokenizer, chat template and output parser
// factory. Filled once at start-up, read-only afterwards (safe to read from any thread).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/chat_template.h"
#include "api/output_parser.h"
#include "engine/engine.h"
#include "tokenizer/parsers/output_parser.h"
#include "tokenizer/tokenizer.h"

namespace cachet::api {

// Fill-in-the-middle special tokens; all -1 when the vocabulary has none.
struct FimTokens {
  int32_t prefix = -1, suffix = -1, middle = -1;
  bool ok() const { return prefix >= 0 && suffix >= 0 && middle >= 0; }
};

// Looks up the FIM tokens of the common families (Qwen <|fim_prefix|>, DeepSeek <｜fim▁begin｜>,
// CodeLlama <PRE>, StarCoder <fim_prefix>) by their exact text.
FimTokens DetectFimTokens(const tok::Tokenizer& tokenizer);

struct ParserOptions {
  bool thinking = false;    // the request asked for thinking
  bool tools = false;       // the request declared tools
  std::string prompt_tail;  // the end of the rendered prompt (does it open a <think> block?)
};

struct ModelEntry {
  std::string name;
  std::shared_ptr<engine::Engine> engine;
  std::shared_ptr<const tok::Tokenizer> tokenizer;
  std::shared_ptr<const ChatTemplate> chat_template;
  // Makes a parser per request; nullptr means everything is content.
  std::function<std::unique_ptr<OutputParser>(const ParserOptions&)> make_parser;
  // The tool-call syntax forced calls are written in (forced_tool_call.h); unset: read from the
  // tokenizer's chat template, as the output parser does. Must agree with make_parser's format.
  std::optional<parsers::ToolCallFormat> tool_format;
  FimTokens fim;
  int64_t created = 0;  // Unix seconds, shown by /v1/models
};

class ModelRegistry {
 public:
  // Errors: InvalidArgument for an empty name or missing engine/tokenizer/template,
  // AlreadyExists for a duplicate name.
  Status Add(ModelEntry entry);
  // nullptr when no model has this name.
  const ModelEntry* Find(const std::string& name) const;
  const std::vector<std::shared_ptr<const ModelEntry>>& models() const { return models_; }

 private:
  std::vector<std::shared_ptr<const ModelEntry>> models_;
};

}  // namespace cachet::api
