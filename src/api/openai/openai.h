// OpenAI-compatible endpoints (also the DeepSeek dialect: /chat/completions, /beta/completions,
// prompt_cache_hit_tokens / prompt_cache_miss_tokens, reasoning_content, thinking switch).
#pragma once

#include "api/chat_request.h"
#include "api/json_fields.h"
#include "api/service.h"

namespace cachet::api::openai {

// POST /v1/chat/completions, /chat/completions.
ApiReply ChatCompletions(const ApiContext& ctx, const ApiCall& call);
// POST /v1/completions, /beta/completions (prompt + optional FIM suffix).
ApiReply Completions(const ApiContext& ctx, const ApiCall& call);
// GET /v1/models, /models.
ApiReply ListModels(const ApiContext& ctx, const ApiCall& call);
// GET /v1/models/{id}, /models/{id} (the id may contain '/').
ApiReply RetrieveModel(const ApiContext& ctx, const ApiCall& call);

// Response options that do not reach the engine.
struct ResponseOptions {
  bool include_usage = false;  // stream_options.include_usage: an extra usage-only chunk
  bool echo = false;           // completions: prepend the prompt
};

// Parsing, exposed for tests. Errors name the field (param) as OpenAI does.
MaybeError ParseChatRequest(const json& body, const ApiLimits& limits, ChatRequest* out,
                            ResponseOptions* opts);
MaybeError ParseCompletionRequest(const json& body, const ApiLimits& limits, ChatRequest* out,
                                  ResponseOptions* opts);
// Fields both endpoints share: model, max_tokens, sampling, stop, n, user, stream, logprobs.
MaybeError ParseCommon(const json& body, const ApiLimits& limits, ChatRequest* out,
                       ResponseOptions* opts);

// The usage object (all cache fields always present).
json UsageJson(const engine::Usage& u, int64_t reasoning_tokens);

}  // namespace cachet::api::openai
