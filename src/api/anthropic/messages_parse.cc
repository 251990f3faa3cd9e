// Anthropic request parsing: JSON -> ChatRequest.
#include "api/anthropic/anthropic.h"

namespace cachet::api::anthropic {

namespace {

// Text of a tool_result's content (string or text blocks).
MaybeError ToolResultText(const json& v, const std::string& path, std::string* out) {
  if (v.is_null()) return std::nullopt;
  if (v.is_string()) {
    *out = v.get<std::string>();
    return std::nullopt;
  }
  if (!v.is_array()) return InvalidRequest("'" + path + "' must be a string or an array", path);
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string p = IndexPath(path, i);
    if (!v[i].is_object()) return InvalidRequest("'" + p + "' must be an object", p);
    std::string type, text;
    if (auto e = GetString(v[i], "type", p, &type, true)) return e;
    if (type != "text") {
      return InvalidRequest("tool_result content type '" + type + "' is not supported", p);
    }
    if (auto e = GetString(v[i], "text", p, &text, true)) return e;
    *out += text;
  }
  return std::nullopt;
}

// One content block into the message being built; tool results become their own "tool" messages.
MaybeError ParseBlock(const json& b, const std::string& p, const std::string& role, ChatMessage* m,
                      std::vector<ChatMessage>* tool_results) {
  if (!b.is_object()) return InvalidRequest("'" + p + "' must be an object", p);
  std::string type;
  if (auto e = GetString(b, "type", p, &type, true)) return e;
  if (type == "text") {
    std::string text;
    if (auto e = GetString(b, "text", p, &text, true)) return e;
    m->content += text;
  } else if (type == "thinking" && role == "assistant") {
    std::string text;
    if (auto e = GetString(b, "thinking", p, &text, true)) return e;
    m->reasoning += text;
  } else if (type == "redacted_thinking" && role == "assistant") {
    // Opaque to us; nothing to render.
  } else if (type == "tool_use" && role == "assistant") {
    ToolCall c;
    if (auto e = GetString(b, "id", p, &c.id, true)) return e;
    if (auto e = GetString(b, "name", p, &c.name, true)) return e;
    auto in = b.find("input");
    if (in == b.end() || !in->is_object()) {
      return InvalidRequest("'" + p + ".input' must be an object", FieldPath(p, "input"));
    }
    c.arguments = Dump(*in);
    m->tool_calls.push_back(std::move(c));
  } else if (type == "tool_result" && role == "user") {
    ChatMessage r;
    r.role = "tool";
    if (auto e = GetString(b, "tool_use_id", p, &r.tool_call_id, true)) return e;
    auto c = b.find("content");
    if (c != b.end()) {
      if (auto e = ToolResultText(*c, FieldPath(p, "content"), &r.content)) return e;
    }
    tool_results->push_back(std::move(r));
  } else {
    return InvalidRequest(
        "content block type '" + type + "' is not supported in a " + role + " message",
        FieldPath(p, "type"));
  }
  return std::nullopt;
}

MaybeError ParseMessage(const json& msg, const std::string& path, std::vector<ChatMessage>* out) {
  if (!msg.is_object()) return InvalidRequest(path + ": must be an object", path);
  ChatMessage m;
  if (auto e = GetString(msg, "role", path, &m.role, true)) return e;
  if (m.role != "user" && m.role != "assistant") {
    return InvalidRequest(path + ".role: must be 'user' or 'assistant'", FieldPath(path, "role"));
  }
  auto c = msg.find("content");
  const std::string pc = FieldPath(path, "content");
  if (c == msg.end() || c->is_null()) return InvalidRequest(pc + ": Field required", pc);
  std::vector<ChatMessage> tool_results;
  if (c->is_string()) {
    m.content = c->get<std::string>();
  } else if (c->is_array()) {
    for (size_t i = 0; i < c->size(); ++i) {
      if (auto e = ParseBlock((*c)[i], IndexPath(pc, i), m.role, &m, &tool_results)) return e;
    }
  } else {
    return InvalidRequest(pc + ": must be a string or an array of content blocks", pc);
  }
  for (ChatMessage& r : tool_results) out->push_back(std::move(r));
  if (!m.content.empty() || !m.tool_calls.empty() || !m.reasoning.empty() || tool_results.empty()) {
    out->push_back(std::move(m));
  }
  return std::nullopt;
}

MaybeError ParseSystem(const json& body, std::vector<ChatMessage>* out) {
  auto s = body.find("system");
  if (s == body.end() || s->is_null()) return std::nullopt;
  ChatMessage m;
  m.role = "system";
  if (s->is_string()) {
    m.content = s->get<std::string>();
  } else if (s->is_array()) {
    for (size_t i = 0; i < s->size(); ++i) {
      const std::string p = IndexPath("system", i);
      if (!(*s)[i].is_object()) return InvalidRequest(p + ": must be an object", p);
      std::string type, text;
      if (auto e = GetString((*s)[i], "type", p, &type, true)) return e;
      if (type != "text") return InvalidRequest(p + ".type: must be 'text'", p);
      if (auto e = GetString((*s)[i], "text", p, &text, true)) return e;
      m.content += (i > 0 ? "\n" : "") + text;
    }
  } else {
    return InvalidRequest("system: must be a string or an array of text blocks", "system");
  }
  out->push_back(std::move(m));
  return std::nullopt;
}

// tool_choice: auto, none (the tools are not offered), any (one call of any tool) or
// {"type": "tool", "name": ...}: the last two force the call through constrained decoding
// (forced_tool_call.h), so each forced tool's input_schema must compile (400 naming
// tools[i].input_schema otherwise). disable_parallel_tool_use is accepted: a forced reply holds
// exactly one call.
MaybeError ParseToolChoice(const json& body, ChatRequest* out) {
  auto choice = body.find("tool_choice");
  if (choice == body.end() || choice->is_null()) return std::nullopt;
  if (!choice->is_object()) return InvalidRequest("tool_choice: must be an object", "tool_choice");
  std::string type, named;
  if (auto e = GetString(*choice, "type", "tool_choice", &type, true)) return e;
  if (type == "none") out->render.tools.clear();
  if (type == "none" || type == "auto") return std::nullopt;
  if (type == "tool") {
    if (auto e = GetString(*choice, "name", "tool_choice", &named, true)) return e;
    if (named.empty()) {
      return InvalidRequest("tool_choice.name: must not be empty", "tool_choice.name");
    }
  } else if (type != "any") {
    return InvalidRequest("tool_choice.type: must be auto, any, tool or none", "tool_choice.type");
  }
  const auto& tools = out->render.tools;
  if (tools.empty()) {
    return InvalidRequest("tool_choice: '" + type + "' requires tools", "tool_choice");
  }
  for (size_t i = 0; i < tools.size(); ++i) {
    if (!named.empty() && tools[i].name != named) continue;
    const std::string p = IndexPath("tools", i);
    ForcedTool t;
    if (auto e =
            CompileForcedTool(tools[i], FieldPath(p, "name"), FieldPath(p, "input_schema"), &t)) {
      return e;
    }
    out->forced_tools.push_back(std::move(t));
    if (!named.empty()) break;
  }
  if (out->forced_tools.empty()) {
    return InvalidRequest("tool_choice.name: tool '" + named + "' is not in tools",
                          "tool_choice.name");
  }
  return std::nullopt;
}

MaybeError ParseTools(const json& body, const ApiLimits& limits, ChatRequest* out) {
  auto t = body.find("tools");
  if (t == body.end() || t->is_null()) return ParseToolChoice(body, out);
  if (!t->is_array()) return InvalidRequest("tools: must be an array", "tools");
  if (t->size() > limits.max_tools) return InvalidRequest("tools: too many tools", "tools");
  for (size_t i = 0; i < t->size(); ++i) {
    const std::string p = IndexPath("tools", i);
    if (!(*t)[i].is_object()) return InvalidRequest(p + ": must be an object", p);
    ToolDefinition d;
    if (auto e = GetString((*t)[i], "name", p, &d.name, true)) return e;
    if (auto e = GetString((*t)[i], "description", p, &d.description)) return e;
    auto schema = (*t)[i].find("input_schema");
    if (schema == (*t)[i].end() || !schema->is_object()) {
      return InvalidRequest(p + ".input_schema: Field required", FieldPath(p, "input_schema"));
    }
    d.parameters_json = Dump(*schema);
    out->render.tools.push_back(std::move(d));
  }
  return ParseToolChoice(body, out);
}

MaybeError ParseSampling(const json& body, const ApiLimits& limits, ChatRequest* out) {
  engine::SamplingOptions& s = out->sampling;
  double v = 0;
  bool present = false;
  if (auto e = GetNumber(body, "temperature", "", 0, 1, &v, &present)) return e;
  if (present) s.temperature = static_cast<float>(v);
  if (auto e = GetNumber(body, "top_p", "", 0, 1, &v, &present)) return e;
  if (present) s.top_p = static_cast<float>(v);
  int64_t k = 0;
  if (auto e = GetInt(body, "top_k", "", 0, INT32_MAX, &k, &present)) return e;
  if (present) s.top_k = static_cast<int32_t>(k);
  auto st = body.find("stop_sequences");
  if (st != body.end() && !st->is_null()) {
    if (!st->is_array())
      return InvalidRequest("stop_sequences: must be an array", "stop_sequences");
    if (st->size() > limits.max_stop) {
      return InvalidRequest("stop_sequences: at most " + std::to_string(limits.max_stop),
                            "stop_sequences");
    }
    for (const json& x : *st) {
      if (!x.is_string() || x.get<std::string>().size() > limits.max_stop_bytes) {
        return InvalidRequest("stop_sequences: each must be a string of at most " +
                                  std::to_string(limits.max_stop_bytes) + " bytes",
                              "stop_sequences");
      }
      out->stop.push_back(x.get<std::string>());
    }
  }
  auto md = body.find("metadata");
  if (md != body.end() && md->is_object()) {
    if (auto e = GetString(*md, "user_id", "metadata", &out->user)) return e;
  }
  auto th = body.find("thinking");
  if (th != body.end() && th->is_object()) {
    std::string type;
    if (auto e = GetString(*th, "type", "thinking", &type, true)) return e;
    out->render.enable_thinking = type == "enabled";
  }
  return std::nullopt;
}

}  // namespace

MaybeError ParseMessagesRequest(const json& body, const ApiLimits& limits, bool require_max_tokens,
                                ChatRequest* out) {
  if (auto e = GetString(body, "model", "", &out->model, true)) return e;
  int64_t max_tokens = 0;
  bool present = false;
  if (auto e = GetInt(body, "max_tokens", "", 1, INT32_MAX, &max_tokens, &present)) return e;
  if (!present && require_max_tokens)
    return InvalidRequest("max_tokens: Field required", "max_tokens");
  out->max_tokens = max_tokens;
  if (auto e = GetBool(body, "stream", "", &out->stream)) return e;
  if (auto e = ParseSampling(body, limits, out)) return e;
  if (auto e = ParseSystem(body, &out->messages)) return e;
  auto msgs = body.find("messages");
  if (msgs == body.end() || msgs->is_null())
    return InvalidRequest("messages: Field required", "messages");
  if (!msgs->is_array()) return InvalidRequest("messages: must be an array", "messages");
  if (msgs->empty())
    return InvalidRequest("messages: at least one message is required", "messages");
  if (msgs->size() > limits.max_messages) return InvalidRequest("messages: too many", "messages");
  for (size_t i = 0; i < msgs->size(); ++i) {
    if (auto e = ParseMessage((*msgs)[i], IndexPath("messages", i), &out->messages)) return e;
  }
  // A final assistant message is a prefill: the answer continues it.
  if ((*msgs)[msgs->size() - 1].value("role", "") == "assistant") {
    out->render.continue_final_message = true;
    out->render.add_generation_prompt = false;
  }
  if (auto e = ParseTools(body, limits, out)) return e;
  // As Anthropic: thinking may not be combined with forced tool use (the constraint applies from
  // the first token, leaving no room for a thinking block).
  if (!out->forced_tools.empty() && out->render.enable_thinking) {
    return InvalidRequest(
        "tool_choice: thinking may not be enabled when tool_choice forces tool "
        "use",
        "tool_choice");
  }
  return std::nullopt;
}

const char* StopReason(const Delta& d, bool any_tool_use) {
  if (!d.stop_sequence.empty()) return "stop_sequence";
  if (d.finish == Finish::kLength) return "max_tokens";
  if (any_tool_use || d.finish == Finish::kToolCalls) return "tool_use";
  return "end_turn";
}

}  // namespace cachet::api::anthropic
