// The one internal request type both protocols translate to at the edge, and the pipeline that
// turns it into a running Generation: find the model, render the chat template, tokenize, check
// the context, submit.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/api_error.h"
#include "api/chat_template.h"
#include "api/forced_tool_call.h"
#include "api/generation.h"
#include "api/service.h"
#include "engine/engine.h"
#include "sampling/json_schema.h"

namespace cachet::api {

struct ChatRequest {
  std::string model;
  std::vector<ChatMessage> messages;  // chat endpoints
  RenderOptions render;
  // Completions endpoints: the prompt is used as is (no template); FIM when suffix is set.
  bool raw_prompt = false;
  std::string prompt;
  std::optional<std::string> suffix;
  int64_t max_tokens = 0;  // 0: up to the context
  engine::SamplingOptions sampling;
  std::vector<std::string> stop;
  bool stream = false;
  std::string user;
  // response_format json_object / json_schema: the output is constrained to this grammar.
  std::shared_ptr<const sampling::JsonGrammar> json_grammar;
  // tool_choice required / any / named: non-empty forces one call of one of these tools (in
  // render.tools as well); takes precedence over json_grammar (forced_tool_call.h).
  std::vector<ForcedTool> forced_tools;
};

struct StartedChat {
  const ModelEntry* model = nullptr;
  std::unique_ptr<Generation> generation;
  int64_t prompt_tokens = 0;
  int64_t max_tokens = 0;  // effective
};

// Tokens of the prompt `req` renders to (template applied, BOS added as the tokenizer asks).
// Errors: 404 model_not_found, 400 when the template rejects the conversation or FIM is asked of
// a vocabulary without FIM tokens.
// `prompt_tail` (optional) receives the last bytes of the prompt text.
std::optional<ApiError> RenderPrompt(const ApiContext& ctx, const ChatRequest& req,
                                     const ModelEntry** model, std::vector<int32_t>* prompt,
                                     std::string* prompt_tail = nullptr);

// Renders, tokenizes and submits. Errors: those of RenderPrompt; 400 when the prompt is empty or
// the prompt plus max_tokens exceed the context (naming `max_tokens_param`); 400 naming
// tool_choice when forced_tools is set and the model has no known tool-call format; the engine's
// Submit errors mapped with FromStatus (queue full -> overloaded with Retry-After).
std::optional<ApiError> StartChat(const ApiContext& ctx, const ChatRequest& req,
                                  const std::string& account_id, const std::string& request_id,
                                  const std::string& max_tokens_param, StartedChat* out);

}  // namespace cachet::api
