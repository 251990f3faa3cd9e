// Forced tool calls (OpenAI tool_choice "required" / {"type":"function",...}, Anthropic
// {"type":"any"} / {"type":"tool",...}): both protocols put the tools the call may name into
// ChatRequest::forced_tools; StartChat turns them into a token constraint that makes the model
// write exactly one call in its own tool-call syntax, which the model's output parser then
// returns as a tool call.
//
// The syntax per family (what tokenizer/parsers recognises; markers that are single tokens of the
// vocabulary must be generated as those tokens, everything else by bytes in any tokenization):
//   DeepSeek V3/R1:
//   <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME\n```json\n
//                   ARGS\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>
//   DeepSeek V3.1:  <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>NAME<｜tool▁sep｜>ARGS
//                   <｜tool▁call▁end｜><｜tool▁calls▁end｜>
//   Qwen / Hermes:  <tool_call>\n{"name": "NAME", "arguments": ARGS}\n</tool_call>
//   Llama 3.1:      {"name": "NAME", "parameters": ARGS}
// ARGS is compact JSON matching the tool's schema (sampling/json_schema.h's subset and output
// policy). Generation stops right after the call (no end-of-turn token).
//
// Reasoning: a forced call cannot be combined with a thinking request (the protocols answer
// 400, as Anthropic does). When the template itself opens a <think> block at the end of the
// prompt (DeepSeek-R1 style), the forced output first closes it ("</think>\n\n"): the reasoning
// is skipped and the call follows immediately.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/api_error.h"
#include "api/chat_template.h"
#include "api/model_registry.h"
#include "engine/engine.h"
#include "sampling/json_schema.h"
#include "sampling/tool_call_grammar.h"
#include "tokenizer/parsers/output_parser.h"
#include "tokenizer/tokenizer.h"

namespace cachet::api {

struct ForcedTool {
  std::string name;
  std::shared_ptr<const sampling::JsonGrammar> arguments;
};

// Compiles `def` for forcing. A tool name must be 1-128 characters of [A-Za-z0-9_.:-] (so it
// needs no escaping in any syntax); absent/empty parameters mean any object. Errors
// (InvalidRequest): a bad name (param `name_path`), a schema outside the supported subset or not
// describing an object (param `schema_path`, the message names the schema path).
std::optional<ApiError> CompileForcedTool(const ToolDefinition& def, const std::string& name_path,
                                          const std::string& schema_path, ForcedTool* out);

// The tool-call syntax of `model`: ModelEntry::tool_format when set, else read from the
// tokenizer's chat template (parsers::ToolCallFormatForTemplate); kNone when unknown.
parsers::ToolCallFormat ToolFormatOf(const ModelEntry& model);

// The grammar of one call of one of `tools` in `format`, markers resolved against `tokenizer`.
// `close_reasoning`: the output starts with "</think>\n\n". Errors: InvalidArgument for kNone and
// for tools that cannot be told apart (MakeToolCallGrammar).
Result<sampling::ToolCallGrammar> ForcedToolCallGrammar(parsers::ToolCallFormat format,
                                                        const tok::Tokenizer& tokenizer,
                                                        const std::vector<ForcedTool>& tools,
                                                        bool close_reasoning);

// The engine constraint for `grammar` over the tokenizer's vocabulary (the trie is shared with
// the JSON constraints; see json_constraint.h for the threading rules).
std::shared_ptr<engine::TokenConstraint> MakeToolCallConstraint(
    const std::shared_ptr<const tok::Tokenizer>& tokenizer,
    std::shared_ptr<const sampling::ToolCallGrammar> grammar);

}  // namespace cachet::api
