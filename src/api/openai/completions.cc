// OpenAI (legacy) completions with DeepSeek's FIM: POST /v1/completions, /beta/completions.
#include "api/openai/openai.h"
#include "api/stream_pump.h"

namespace cachet::api::openai {

namespace {

// The legacy logprobs shape: parallel arrays plus text offsets.
json LegacyLogprobs(const std::vector<TokenLogprobs>& lps, size_t* offset) {
  json tokens = json::array(), lp = json::array(), top = json::array(), offs = json::array();
  for (const TokenLogprobs& l : lps) {
    tokens.push_back(l.chosen.token);
    lp.push_back(l.chosen.logprob);
    json alts = json::object();
    for (const TokenAlternative& a : l.top) alts[a.token] = a.logprob;
    top.push_back(std::move(alts));
    offs.push_back(*offset);
    *offset += l.chosen.token.size();
  }
  return json{
      {"tokens", tokens}, {"token_logprobs", lp}, {"top_logprobs", top}, {"text_offset", offs}};
}

json Choice(const std::string& text, const json& logprobs, const json& finish) {
  return json{{"text", text}, {"index", 0}, {"logprobs", logprobs}, {"finish_reason", finish}};
}

json Envelope(const std::string& id, int64_t created, const std::string& model, json choice) {
  return json{{"id", id},
              {"object", "text_completion"},
              {"created", created},
              {"model", model},
              {"system_fingerprint", "cachet"},
              {"choices", json::array({std::move(choice)})}};
}

}  // namespace

ApiReply Completions(const ApiContext& ctx, const ApiCall& call) {
  auto error = [](const ApiError& e) { return ErrorReply(Protocol::kOpenAI, e); };
  json body;
  if (auto e = ParseBody(call.body, ctx.limits.max_json_depth, &body)) return error(*e);
  ChatRequest req;
  ResponseOptions opts;
  if (auto e = ParseCompletionRequest(body, ctx.limits, &req, &opts)) return error(*e);
  if (req.max_tokens == 0) req.max_tokens = 16;  // the completions API default
  const std::string id = NewRequestId("cmpl-");
  auto s = std::make_shared<StartedChat>();
  if (auto e = StartChat(ctx, req, call.account_id, id, "max_tokens", s.get())) return error(*e);
  const bool logprobs = req.sampling.logprobs;
  const std::string echo = opts.echo ? req.prompt : "";
  if (!req.stream) {
    Delta d = s->generation->Collect(call.client_alive);
    if (d.finish == Finish::kError) return error(FromStatus(d.error));
    size_t offset = echo.size();
    json lp = logprobs ? LegacyLogprobs(d.logprobs, &offset) : json(nullptr);
    json out = Envelope(id, UnixNow(), s->model->name,
                        Choice(echo + d.content, lp, OpenAIFinishReason(d.finish)));
    out["usage"] = UsageJson(d.usage, 0);
    ApiReply r;
    r.body = Dump(out);
    return r;
  }
  ApiReply r;
  r.content_type = "text/event-stream";
  r.headers = {{"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"}};
  const bool include_usage = opts.include_usage;
  r.stream = [&ctx, s, id, logprobs, echo, include_usage](ByteSink& sink) {
    const int64_t created = UnixNow();
    size_t offset = 0;
    if (!echo.empty() && !sink.Write(SseData(Dump(Envelope(id, created, s->model->name,
                                                           Choice(echo, nullptr, nullptr)))))) {
      s->generation->Cancel();
      return;
    }
    offset = echo.size();
    auto on_delta = [&](const Delta& d) -> bool {
      if (d.finish == Finish::kError) {
        return sink.Write(SseData(RenderError(Protocol::kOpenAI, FromStatus(d.error))));
      }
      json lp = logprobs && !d.logprobs.empty() ? LegacyLogprobs(d.logprobs, &offset) : json();
      json fin = d.finished ? json(OpenAIFinishReason(d.finish)) : json(nullptr);
      if (!d.content.empty() || d.finished) {
        json chunk = Envelope(id, created, s->model->name, Choice(d.content, lp, fin));
        if (d.finished) chunk["usage"] = UsageJson(d.usage, 0);
        if (!sink.Write(SseData(Dump(chunk)))) return false;
      }
      if (!d.finished) return true;
      if (include_usage) {
        json chunk = Envelope(id, created, s->model->name, json());
        chunk["choices"] = json::array();
        chunk["usage"] = UsageJson(d.usage, 0);
        if (!sink.Write(SseData(Dump(chunk)))) return false;
      }
      return sink.Write("data: [DONE]\n\n");
    };
    PumpStream(*s->generation, sink, ctx.keepalive_interval, ": keep-alive\n\n", on_delta);
  };
  return r;
}

}  // namespace cachet::api::openai
