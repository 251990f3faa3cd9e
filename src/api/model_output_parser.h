// OutputParser over the model-specific incremental parsers (src/tokenizer/parsers): reasoning
// (<think>...</think>) becomes reasoning text, tool-call markup becomes ToolCalls (only when the
// request declared tools).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "api/model_registry.h"
#include "api/output_parser.h"

namespace cachet::api {

// A parser factory for a model with this chat template source: the tool-call format is read from
// the template's markers, reasoning is split when the template knows <think>.
std::function<std::unique_ptr<OutputParser>(const ParserOptions&)> ModelOutputParserFactory(
    const std::string& chat_template);

// Qwen-style tool calls and <think> reasoning, whatever the template (for tests and ChatML
// models).
std::function<std::unique_ptr<OutputParser>(const ParserOptions&)> QwenStyleParserFactory();

}  // namespace cachet::api
