// OpenAI request parsing: JSON -> ChatRequest, with OpenAI's validation rules and messages.
#include "api/openai/openai.h"

namespace cachet::api::openai {

namespace {

// Content as a string, or an array of parts of which only text parts are supported.
MaybeError ParseContent(const json& v, const std::string& path, std::string* out) {
  if (v.is_null()) return std::nullopt;
  if (v.is_string()) {
    *out = v.get<std::string>();
    return std::nullopt;
  }
  if (!v.is_array()) {
    return InvalidRequest("'" + path + "' must be a string or an array of content parts", path);
  }
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string p = IndexPath(path, i);
    const json& part = v[i];
    if (!part.is_object()) return InvalidRequest("'" + p + "' must be an object", p);
    std::string type, text;
    if (auto e = GetString(part, "type", p, &type, true)) return e;
    if (type != "text") {
      return InvalidRequest("content part type '" + type + "' is not supported (text only)",
                            FieldPath(p, "type"));
    }
    if (auto e = GetString(part, "text", p, &text, true)) return e;
    *out += text;
  }
  return std::nullopt;
}

MaybeError ParseToolCalls(const json& msg, const std::string& path, ChatMessage* m) {
  auto it = msg.find("tool_calls");
  if (it == msg.end() || it->is_null()) return std::nullopt;
  const std::string p = FieldPath(path, "tool_calls");
  if (!it->is_array()) return InvalidRequest("'" + p + "' must be an array", p);
  for (size_t i = 0; i < it->size(); ++i) {
    const std::string pi = IndexPath(p, i);
    const json& c = (*it)[i];
    if (!c.is_object()) return InvalidRequest("'" + pi + "' must be an object", pi);
    ToolCall call;
    if (auto e = GetString(c, "id", pi, &call.id)) return e;
    auto f = c.find("function");
    if (f == c.end() || !f->is_object()) {
      return InvalidRequest("'" + pi + ".function' is required", FieldPath(pi, "function"));
    }
    const std::string pf = FieldPath(pi, "function");
    if (auto e = GetString(*f, "name", pf, &call.name, true)) return e;
    if (auto e = GetString(*f, "arguments", pf, &call.arguments)) return e;
    if (call.arguments.empty()) call.arguments = "{}";
    m->tool_calls.push_back(std::move(call));
  }
  return std::nullopt;
}

MaybeError ParseMessage(const json& msg, const std::string& path, bool last, ChatMessage* m,
                        bool* prefix) {
  if (!msg.is_object()) return InvalidRequest("'" + path + "' must be an object", path);
  if (auto e = GetString(msg, "role", path, &m->role, true)) return e;
  if (m->role == "developer") m->role = "system";
  if (m->role != "system" && m->role != "user" && m->role != "assistant" && m->role != "tool") {
    return InvalidRequest("'" + path +
                              ".role' must be one of system, developer, user, assistant, "
                              "tool; got '" +
                              m->role + "'",
                          FieldPath(path, "role"));
  }
  auto content = msg.find("content");
  const bool has_content = content != msg.end() && !content->is_null();
  if (!has_content && m->role != "assistant") {
    return InvalidRequest("'" + path + ".content' is required", FieldPath(path, "content"));
  }
  if (has_content) {
    if (auto e = ParseContent(*content, FieldPath(path, "content"), &m->content)) return e;
  }
  if (auto e = GetString(msg, "name", path, &m->name)) return e;
  if (m->role == "tool") {
    if (auto e = GetString(msg, "tool_call_id", path, &m->tool_call_id, true)) return e;
  }
  if (m->role == "assistant") {
    if (auto e = ParseToolCalls(msg, path, m)) return e;
    if (auto e = GetString(msg, "reasoning_content", path, &m->reasoning)) return e;
    bool p = false;
    if (auto e = GetBool(msg, "prefix", path, &p)) return e;
    if (p && !last) {
      return InvalidRequest("'prefix' is only allowed on the last message",
                            FieldPath(path, "prefix"));
    }
    *prefix = p;
  }
  return std::nullopt;
}

MaybeError ParseMessages(const json& body, const ApiLimits& limits, ChatRequest* out) {
  auto it = body.find("messages");
  if (it == body.end() || it->is_null()) {
    return InvalidRequest("'messages' is required", "messages");
  }
  if (!it->is_array()) return InvalidRequest("'messages' must be an array", "messages");
  if (it->empty()) return InvalidRequest("'messages' must not be empty", "messages");
  if (it->size() > limits.max_messages) {
    return InvalidRequest(
        "'messages' has more than " + std::to_string(limits.max_messages) + " entries", "messages");
  }
  for (size_t i = 0; i < it->size(); ++i) {
    ChatMessage m;
    bool prefix = false;
    const bool last = i + 1 == it->size();
    if (auto e = ParseMessage((*it)[i], IndexPath("messages", i), last, &m, &prefix)) return e;
    if (prefix) {
      out->render.continue_final_message = true;
      out->render.add_generation_prompt = false;
    }
    out->messages.push_back(std::move(m));
  }
  return std::nullopt;
}

// tool_choice: "none" (the tools are not offered to the model at all), "auto" (default),
// "required" (one call of any tool) or {"type":"function","function":{"name":...}} (that tool):
// the last two force the call through constrained decoding (forced_tool_call.h), so each forced
// tool's parameters must compile (400 naming tools[i].function.parameters otherwise).
MaybeError ParseToolChoice(const json& body, ChatRequest* out) {
  auto choice = body.find("tool_choice");
  if (choice == body.end() || choice->is_null()) return std::nullopt;
  std::string named;
  if (choice->is_string()) {
    const std::string c = choice->get<std::string>();
    if (c == "none") out->render.tools.clear();
    if (c == "none" || c == "auto") return std::nullopt;
    if (c != "required") {
      return InvalidRequest("'tool_choice' must be none, auto, required or a named tool",
                            "tool_choice");
    }
  } else if (choice->is_object()) {
    std::string type;
    if (auto e = GetString(*choice, "type", "tool_choice", &type, true)) return e;
    auto f = choice->find("function");
    if (type != "function" || f == choice->end() || !f->is_object()) {
      return InvalidRequest(
          "'tool_choice' must be {\"type\": \"function\", \"function\": "
          "{\"name\": ...}}",
          "tool_choice");
    }
    if (auto e = GetString(*f, "name", "tool_choice.function", &named, true)) return e;
    if (named.empty()) {
      return InvalidRequest("'tool_choice.function.name' must not be empty",
                            "tool_choice.function.name");
    }
  } else {
    return InvalidRequest("'tool_choice' must be a string or an object", "tool_choice");
  }
  const auto& tools = out->render.tools;
  if (tools.empty()) {
    return InvalidRequest("'tool_choice' is only allowed when 'tools' are specified",
                          "tool_choice");
  }
  for (size_t i = 0; i < tools.size(); ++i) {
    if (!named.empty() && tools[i].name != named) continue;
    const std::string p = IndexPath("tools", i) + ".function";
    ForcedTool t;
    if (auto e = CompileForcedTool(tools[i], p + ".name", p + ".parameters", &t)) return e;
    out->forced_tools.push_back(std::move(t));
    if (!named.empty()) break;
  }
  if (out->forced_tools.empty()) {
    return InvalidRequest(
        "'tool_choice' names the function '" + named + "', which is not in 'tools'",
        "tool_choice.function.name");
  }
  return std::nullopt;
}

MaybeError ParseTools(const json& body, const ApiLimits& limits, ChatRequest* out) {
  auto it = body.find("tools");
  if (it == body.end() || it->is_null()) return ParseToolChoice(body, out);
  if (!it->is_array()) return InvalidRequest("'tools' must be an array", "tools");
  if (it->size() > limits.max_tools) {
    return InvalidRequest("'tools' has more than " + std::to_string(limits.max_tools) + " entries",
                          "tools");
  }
  for (size_t i = 0; i < it->size(); ++i) {
    const std::string p = IndexPath("tools", i);
    const json& t = (*it)[i];
    if (!t.is_object()) return InvalidRequest("'" + p + "' must be an object", p);
    std::string type;
    if (auto e = GetString(t, "type", p, &type, true)) return e;
    if (type != "function") {
      return InvalidRequest("'" + p + ".type' must be 'function'", FieldPath(p, "type"));
    }
    auto f = t.find("function");
    if (f == t.end() || !f->is_object()) {
      return InvalidRequest("'" + p + ".function' is required", FieldPath(p, "function"));
    }
    const std::string pf = FieldPath(p, "function");
    ToolDefinition def;
    if (auto e = GetString(*f, "name", pf, &def.name, true)) return e;
    if (auto e = GetString(*f, "description", pf, &def.description)) return e;
    auto params = f->find("parameters");
    def.parameters_json = params == f->end() ? "{}" : Dump(*params);
    out->render.tools.push_back(std::move(def));
  }
  return ParseToolChoice(body, out);
}

// json_object: any JSON object; json_schema: response_format.json_schema.schema compiled to a
// grammar (sampling/json_schema.h lists the supported subset; other keywords are a 400 naming
// the schema path). The output is constrained token by token (api/json_constraint.h).
MaybeError ParseResponseFormat(const json& body, ChatRequest* out) {
  auto it = body.find("response_format");
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_object())
    return InvalidRequest("'response_format' must be an object", "response_format");
  std::string type;
  if (auto e = GetString(*it, "type", "response_format", &type, true)) return e;
  if (type == "text") return std::nullopt;
  if (type == "json_object") {
    out->json_grammar =
        std::make_shared<const sampling::JsonGrammar>(sampling::JsonObjectGrammar());
    return std::nullopt;
  }
  if (type == "json_schema") {
    auto js = it->find("json_schema");
    if (js == it->end() || !js->is_object()) {
      return InvalidRequest("'response_format.json_schema' must be an object",
                            "response_format.json_schema");
    }
    auto schema = js->find("schema");
    const std::string path = "response_format.json_schema.schema";
    auto g = sampling::CompileJsonSchema(schema == js->end() ? std::string("true") : Dump(*schema),
                                         path);
    if (!g.ok()) return InvalidRequest(g.status().message(), path);
    out->json_grammar = std::make_shared<const sampling::JsonGrammar>(std::move(g).value());
    return std::nullopt;
  }
  return InvalidRequest("'response_format.type' must be text, json_object or json_schema",
                        "response_format.type");
}

// DeepSeek's thinking switch: {"thinking": {"type": "enabled"}} (also
// chat_template_kwargs.enable_thinking / thinking as vLLM and SGLang accept).
MaybeError ParseThinking(const json& body, ChatRequest* out) {
  auto it = body.find("thinking");
  if (it != body.end() && it->is_object()) {
    std::string type;
    if (auto e = GetString(*it, "type", "thinking", &type, true)) return e;
    if (type != "enabled" && type != "disabled") {
      return InvalidRequest("'thinking.type' must be 'enabled' or 'disabled'", "thinking.type");
    }
    out->render.enable_thinking = type == "enabled";
  } else if (it != body.end() && !it->is_null()) {
    return InvalidRequest("'thinking' must be an object", "thinking");
  }
  auto kw = body.find("chat_template_kwargs");
  if (kw != body.end() && kw->is_object()) {
    for (const char* key : {"enable_thinking", "thinking"}) {
      if (auto e = GetBool(*kw, key, "chat_template_kwargs", &out->render.enable_thinking)) {
        return e;
      }
    }
  }
  return std::nullopt;
}

MaybeError ParseStop(const json& body, const ApiLimits& limits, ChatRequest* out) {
  auto it = body.find("stop");
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) {
    out->stop.push_back(it->get<std::string>());
  } else if (it->is_array()) {
    for (size_t i = 0; i < it->size(); ++i) {
      if (!(*it)[i].is_string()) {
        return InvalidRequest("'stop' must be a string or an array of strings",
                              IndexPath("stop", i));
      }
      out->stop.push_back((*it)[i].get<std::string>());
    }
  } else {
    return InvalidRequest("'stop' must be a string or an array of strings", "stop");
  }
  if (out->stop.size() > limits.max_stop) {
    return InvalidRequest("'stop' has more than " + std::to_string(limits.max_stop) + " entries",
                          "stop");
  }
  for (const std::string& s : out->stop) {
    if (s.size() > limits.max_stop_bytes) {
      return InvalidRequest(
          "a stop string is longer than " + std::to_string(limits.max_stop_bytes) + " bytes",
          "stop");
    }
  }
  return std::nullopt;
}

}  // namespace

MaybeError ParseCommon(const json& body, const ApiLimits& limits, ChatRequest* out,
                       ResponseOptions* opts) {
  if (auto e = GetString(body, "model", "", &out->model, true)) return e;
  int64_t max_tokens = 0;
  bool present = false;
  if (auto e = GetInt(body, "max_tokens", "", 1, INT32_MAX, &max_tokens, &present)) return e;
  if (present) out->max_tokens = max_tokens;
  if (auto e = GetInt(body, "max_completion_tokens", "", 1, INT32_MAX, &max_tokens, &present)) {
    return e;
  }
  if (present) out->max_tokens = max_tokens;
  engine::SamplingOptions& s = out->sampling;
  double v = 0;
  if (auto e = GetNumber(body, "temperature", "", 0, 2, &v, &present)) return e;
  if (present) s.temperature = static_cast<float>(v);
  if (auto e = GetNumber(body, "top_p", "", 0, 1, &v, &present)) return e;
  if (present) s.top_p = static_cast<float>(v);
  if (auto e = GetNumber(body, "frequency_penalty", "", -2, 2, &v, &present)) return e;
  if (present) s.frequency_penalty = static_cast<float>(v);
  if (auto e = GetNumber(body, "presence_penalty", "", -2, 2, &v, &present)) return e;
  if (present) s.presence_penalty = static_cast<float>(v);
  int64_t seed = 0;
  if (auto e = GetInt(body, "seed", "", INT64_MIN, INT64_MAX, &seed, &s.has_seed)) return e;
  s.seed = static_cast<uint64_t>(seed);
  int64_t n = 1;
  if (auto e = GetInt(body, "n", "", 1, INT32_MAX, &n)) return e;
  if (n != 1) return InvalidRequest("only n=1 is supported", "n");
  if (auto e = GetString(body, "user", "", &out->user)) return e;
  if (auto e = GetBool(body, "stream", "", &out->stream)) return e;
  auto so = body.find("stream_options");
  if (so != body.end() && !so->is_null()) {
    if (!so->is_object())
      return InvalidRequest("'stream_options' must be an object", "stream_options");
    if (!out->stream) {
      return InvalidRequest("'stream_options' is only allowed when 'stream' is true",
                            "stream_options");
    }
    if (auto e = GetBool(*so, "include_usage", "stream_options", &opts->include_usage)) return e;
  }
  return ParseStop(body, limits, out);
}

// Fields we do not implement are refused rather than ignored (a client relying on them would
// silently get something else).
static MaybeError RejectUnsupported(const json& body) {
  for (const char* key : {"logit_bias", "functions", "function_call", "audio", "prediction"}) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null() || (it->is_object() && it->empty()) ||
        (it->is_array() && it->empty())) {
      continue;
    }
    return InvalidRequest(std::string("'") + key + "' is not supported", key);
  }
  auto m = body.find("modalities");
  if (m != body.end() && m->is_array()) {
    for (const json& x : *m) {
      if (!x.is_string() || x != "text") {
        return InvalidRequest("only the 'text' modality is supported", "modalities");
      }
    }
  }
  return std::nullopt;
}

MaybeError ParseChatRequest(const json& body, const ApiLimits& limits, ChatRequest* out,
                            ResponseOptions* opts) {
  if (auto e = RejectUnsupported(body)) return e;
  if (auto e = ParseCommon(body, limits, out, opts)) return e;
  engine::SamplingOptions& s = out->sampling;
  if (auto e = GetBool(body, "logprobs", "", &s.logprobs)) return e;
  int64_t top = 0;
  bool present = false;
  if (auto e = GetInt(body, "top_logprobs", "", 0, limits.max_top_logprobs, &top, &present)) {
    return e;
  }
  if (present && !s.logprobs) {
    return InvalidRequest("'top_logprobs' requires 'logprobs' to be true", "top_logprobs");
  }
  s.top_logprobs = static_cast<int32_t>(top);
  if (auto e = ParseMessages(body, limits, out)) return e;
  if (auto e = ParseTools(body, limits, out)) return e;
  if (auto e = ParseResponseFormat(body, out)) return e;
  if (auto e = ParseThinking(body, out)) return e;
  // The JSON constraint applies from the first generated token, which leaves no room for a
  // reasoning block (and the reasoning parser would take the JSON for reasoning).
  if (out->json_grammar && out->forced_tools.empty() && out->render.enable_thinking) {
    return InvalidRequest(
        "'response_format' json_object / json_schema cannot be combined with "
        "thinking",
        "response_format");
  }
  // Likewise a forced tool call (as Anthropic: thinking may not be combined with forced tool
  // use); a forced call also replaces response_format (the reply has no content to format).
  if (!out->forced_tools.empty() && out->render.enable_thinking) {
    return InvalidRequest("'tool_choice' required / named cannot be combined with thinking",
                          "tool_choice");
  }
  return std::nullopt;
}

MaybeError ParseCompletionRequest(const json& body, const ApiLimits& limits, ChatRequest* out,
                                  ResponseOptions* opts) {
  if (auto e = ParseCommon(body, limits, out, opts)) return e;
  out->raw_prompt = true;
  auto p = body.find("prompt");
  if (p == body.end() || p->is_null()) return InvalidRequest("'prompt' is required", "prompt");
  if (p->is_array() && p->size() == 1 && (*p)[0].is_string()) {
    out->prompt = (*p)[0].get<std::string>();
  } else if (p->is_string()) {
    out->prompt = p->get<std::string>();
  } else {
    return InvalidRequest("'prompt' must be a string (batches of prompts are not supported)",
                          "prompt");
  }
  std::string suffix;
  auto sfx = body.find("suffix");
  if (sfx != body.end() && !sfx->is_null()) {
    if (auto e = GetString(body, "suffix", "", &suffix)) return e;
    out->suffix = suffix;
  }
  if (auto e = GetBool(body, "echo", "", &opts->echo)) return e;
  int64_t lp = 0;
  bool present = false;
  if (auto e = GetInt(body, "logprobs", "", 0, 5, &lp, &present)) return e;
  if (present) {
    out->sampling.logprobs = true;
    out->sampling.top_logprobs = static_cast<int32_t>(lp);
  }
  return std::nullopt;
}

}  // namespace cachet::api::openai
