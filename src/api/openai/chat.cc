// OpenAI chat completions: responses and the SSE chunk stream.
#include "api/openai/openai.h"
#include "api/stream_pump.h"

namespace cachet::api::openai {

json UsageJson(const engine::Usage& u, int64_t reasoning_tokens) {
  return json{{"prompt_tokens", u.prompt_tokens},
              {"completion_tokens", u.completion_tokens},
              {"total_tokens", u.prompt_tokens + u.completion_tokens},
              {"prompt_cache_hit_tokens", u.prompt_cached_tokens},
              {"prompt_cache_miss_tokens", u.prompt_tokens - u.prompt_cached_tokens},
              {"prompt_tokens_details", {{"cached_tokens", u.prompt_cached_tokens}}},
              {"completion_tokens_details", {{"reasoning_tokens", reasoning_tokens}}}};
}

namespace {

json AlternativeJson(const TokenAlternative& a) {
  return json{{"token", a.token}, {"logprob", a.logprob}, {"bytes", a.bytes}};
}

json LogprobsJson(const std::vector<TokenLogprobs>& lps) {
  json content = json::array();
  for (const TokenLogprobs& lp : lps) {
    json e = AlternativeJson(lp.chosen);
    json top = json::array();
    for (const TokenAlternative& a : lp.top) top.push_back(AlternativeJson(a));
    e["top_logprobs"] = std::move(top);
    content.push_back(std::move(e));
  }
  return json{{"content", std::move(content)}, {"refusal", nullptr}};
}

json ToolCallsJson(const std::vector<ToolCall>& calls, bool streaming) {
  json arr = json::array();
  for (size_t i = 0; i < calls.size(); ++i) {
    json c = {{"id", calls[i].id},
              {"type", "function"},
              {"function", {{"name", calls[i].name}, {"arguments", calls[i].arguments}}}};
    if (streaming) c["index"] = i;
    arr.push_back(std::move(c));
  }
  return arr;
}

Finish EffectiveFinish(const Delta& d) {
  return !d.tool_calls.empty() && d.finish == Finish::kStop ? Finish::kToolCalls : d.finish;
}

ApiReply ErrorFor(const ApiError& e) { return ErrorReply(Protocol::kOpenAI, e); }

ApiReply NonStreaming(StartedChat& s, const std::string& id, bool logprobs,
                      const std::function<bool()>& alive) {
  Delta d = s.generation->Collect(alive);
  if (d.finish == Finish::kError) return ErrorFor(FromStatus(d.error));
  json message = {{"role", "assistant"}, {"content", d.content}};
  if (!d.reasoning.empty()) message["reasoning_content"] = d.reasoning;
  if (!d.tool_calls.empty()) message["tool_calls"] = ToolCallsJson(d.tool_calls, false);
  json choice = {{"index", 0},
                 {"message", std::move(message)},
                 {"logprobs", logprobs ? LogprobsJson(d.logprobs) : json(nullptr)},
                 {"finish_reason", OpenAIFinishReason(EffectiveFinish(d))}};
  json body = {{"id", id},
               {"object", "chat.completion"},
               {"created", UnixNow()},
               {"model", s.model->name},
               {"system_fingerprint", "cachet"},
               {"choices", json::array({std::move(choice)})},
               {"usage", UsageJson(d.usage, d.reasoning_tokens)}};
  ApiReply r;
  r.body = Dump(body);
  return r;
}

struct ChunkWriter {
  ByteSink& sink;
  std::string id;
  std::string model;
  int64_t created;

  bool Write(json choice_delta, const json& logprobs, const json& finish, const json* usage) {
    json choice = {{"index", 0},
                   {"delta", std::move(choice_delta)},
                   {"logprobs", logprobs},
                   {"finish_reason", finish}};
    json chunk = {{"id", id},
                  {"object", "chat.completion.chunk"},
                  {"created", created},
                  {"model", model},
                  {"system_fingerprint", "cachet"},
                  {"choices", json::array({std::move(choice)})}};
    if (usage != nullptr) chunk["usage"] = *usage;
    return sink.Write(SseData(Dump(chunk)));
  }
};

void Streaming(const ApiContext& ctx, StartedChat& s, const std::string& id, bool logprobs,
               bool include_usage, ByteSink& sink) {
  ChunkWriter w{sink, id, s.model->name, UnixNow()};
  if (!w.Write(json{{"role", "assistant"}, {"content", ""}}, nullptr, nullptr, nullptr)) {
    s.generation->Cancel();
    return;
  }
  size_t tool_index = 0;
  bool any_tool = false;
  auto on_delta = [&](const Delta& d) -> bool {
    json delta = json::object();
    if (!d.reasoning.empty()) delta["reasoning_content"] = d.reasoning;
    if (!d.content.empty()) delta["content"] = d.content;
    if (!d.tool_calls.empty()) {
      json calls = ToolCallsJson(d.tool_calls, true);
      for (auto& c : calls) c["index"] = tool_index++;
      delta["tool_calls"] = std::move(calls);
      any_tool = true;
    }
    const json lp = logprobs && !d.logprobs.empty() ? LogprobsJson(d.logprobs) : json(nullptr);
    if (!d.finished)
      return delta.empty() && lp.is_null() ? true : w.Write(delta, lp, nullptr, nullptr);
    if (d.finish == Finish::kError) {
      ApiError e = FromStatus(d.error);
      return sink.Write(SseData(RenderError(Protocol::kOpenAI, e)));
    }
    if (!delta.empty() || !lp.is_null()) {
      if (!w.Write(delta, lp, nullptr, nullptr)) return false;
    }
    Finish f = d.finish == Finish::kStop && any_tool ? Finish::kToolCalls : d.finish;
    const json usage = UsageJson(d.usage, d.reasoning_tokens);
    // DeepSeek style: usage rides on the final chunk; OpenAI style: an extra chunk with no
    // choices when stream_options.include_usage is set.
    if (!w.Write(json::object(), nullptr, OpenAIFinishReason(f), &usage)) return false;
    if (include_usage) {
      json chunk = {
          {"id", id},         {"object", "chat.completion.chunk"}, {"created", w.created},
          {"model", w.model}, {"system_fingerprint", "cachet"},    {"choices", json::array()},
          {"usage", usage}};
      if (!sink.Write(SseData(Dump(chunk)))) return false;
    }
    return sink.Write("data: [DONE]\n\n");
  };
  PumpStream(*s.generation, sink, ctx.keepalive_interval, ": keep-alive\n\n", on_delta);
}

}  // namespace

ApiReply ChatCompletions(const ApiContext& ctx, const ApiCall& call) {
  json body;
  if (auto e = ParseBody(call.body, ctx.limits.max_json_depth, &body)) return ErrorFor(*e);
  ChatRequest req;
  ResponseOptions opts;
  if (auto e = ParseChatRequest(body, ctx.limits, &req, &opts)) return ErrorFor(*e);
  const std::string id = NewRequestId("chatcmpl-");
  auto started = std::make_shared<StartedChat>();
  const std::string max_param =
      body.contains("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
  if (auto e = StartChat(ctx, req, call.account_id, id, max_param, started.get())) {
    return ErrorFor(*e);
  }
  const bool logprobs = req.sampling.logprobs;
  if (!req.stream) return NonStreaming(*started, id, logprobs, call.client_alive);
  ApiReply r;
  r.content_type = "text/event-stream";
  r.headers = {{"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"}};
  const bool include_usage = opts.include_usage;
  r.stream = [&ctx, started, id, logprobs, include_usage](ByteSink& sink) {
    Streaming(ctx, *started, id, logprobs, include_usage, sink);
  };
  return r;
}

namespace {
json ModelJson(const ModelEntry& m) {
  return json{{"id", m.name}, {"object", "model"}, {"created", m.created}, {"owned_by", "cachet"}};
}
}  // namespace

ApiReply RetrieveModel(const ApiContext& ctx, const ApiCall& call) {
  const size_t at = call.path.find("/models/");
  const std::string name = at == std::string::npos ? "" : call.path.substr(at + 8);
  const ModelEntry* m = ctx.models->Find(name);
  if (m == nullptr) {
    return ErrorFor(ApiError{ErrorKind::kModelNotFound, "The model '" + name + "' does not exist",
                             "model", "model_not_found", 0});
  }
  ApiReply r;
  r.body = Dump(ModelJson(*m));
  return r;
}

ApiReply ListModels(const ApiContext& ctx, const ApiCall&) {
  json data = json::array();
  for (const auto& m : ctx.models->models()) data.push_back(ModelJson(*m));
  ApiReply r;
  r.body = Dump(json{{"object", "list"}, {"data", std::move(data)}});
  return r;
}

}  // namespace cachet::api::openai
