// Anthropic Messages API: POST /anthropic/v1/messages (also /v1/messages) and count_tokens.
#pragma once

#include "api/chat_request.h"
#include "api/json_fields.h"
#include "api/service.h"

namespace cachet::api::anthropic {

ApiReply Messages(const ApiContext& ctx, const ApiCall& call);
ApiReply CountTokens(const ApiContext& ctx, const ApiCall& call);

// Parsing, exposed for tests. `require_max_tokens` is false for count_tokens.
MaybeError ParseMessagesRequest(const json& body, const ApiLimits& limits, bool require_max_tokens,
                                ChatRequest* out);

// "end_turn" | "max_tokens" | "stop_sequence" | "tool_use".
const char* StopReason(const Delta& d, bool any_tool_use);

}  // namespace cachet::api::anthropic
