// Anthropic Messages responses and the streaming event sequence.
#include "api/anthropic/anthropic.h"
#include "api/stream_pump.h"

namespace cachet::api::anthropic {

namespace {

ApiReply ErrorFor(const ApiError& e) { return ErrorReply(Protocol::kAnthropic, e); }

json UsageJson(const engine::Usage& u, bool with_output) {
  json j = {{"input_tokens", u.prompt_tokens - u.prompt_cached_tokens},
            {"cache_creation_input_tokens", 0},
            {"cache_read_input_tokens", u.prompt_cached_tokens},
            {"output_tokens", with_output ? u.completion_tokens : 0}};
  return j;
}

json ToolUseBlock(const ToolCall& c, bool empty_input) {
  json input = json::object();
  if (!empty_input) {
    input = json::parse(c.arguments, nullptr, false);
    if (input.is_discarded() || !input.is_object()) input = json::object();
  }
  return json{{"type", "tool_use"},
              {"id", c.id.empty() ? NewRequestId("toolu_") : c.id},
              {"name", c.name},
              {"input", input}};
}

ApiReply NonStreaming(StartedChat& s, const std::string& id, const std::function<bool()>& alive) {
  Delta d = s.generation->Collect(alive);
  if (d.finish == Finish::kError) return ErrorFor(FromStatus(d.error));
  json content = json::array();
  if (!d.reasoning.empty()) {
    content.push_back({{"type", "thinking"}, {"thinking", d.reasoning}, {"signature", ""}});
  }
  if (!d.content.empty() || d.tool_calls.empty()) {
    content.push_back({{"type", "text"}, {"text", d.content}});
  }
  for (const ToolCall& c : d.tool_calls) content.push_back(ToolUseBlock(c, false));
  json body = {{"id", id},
               {"type", "message"},
               {"role", "assistant"},
               {"model", s.model->name},
               {"content", std::move(content)},
               {"stop_reason", StopReason(d, !d.tool_calls.empty())},
               {"stop_sequence", d.stop_sequence.empty() ? json(nullptr) : json(d.stop_sequence)},
               {"usage", UsageJson(d.usage, true)}};
  ApiReply r;
  r.body = Dump(body);
  return r;
}

// Content blocks are opened lazily as text of each kind arrives and closed when another kind
// starts or the message ends.
class BlockWriter {
 public:
  explicit BlockWriter(ByteSink& sink) : sink_(sink) {}

  bool Text(const std::string& kind, const std::string& text) {
    if (text.empty()) return true;
    if (open_ != kind) {
      if (!Close()) return false;
      json block = kind == "thinking" ? json{{"type", "thinking"}, {"thinking", ""}}
                                      : json{{"type", "text"}, {"text", ""}};
      if (!Open(block)) return false;
      open_ = kind;
    }
    json delta = kind == "thinking" ? json{{"type", "thinking_delta"}, {"thinking", text}}
                                    : json{{"type", "text_delta"}, {"text", text}};
    return Delta(delta);
  }

  bool ToolUse(const ToolCall& c) {
    if (!Close()) return false;
    if (!Open(ToolUseBlock(c, true))) return false;
    open_ = "tool_use";
    any_tool_ = true;
    return Delta({{"type", "input_json_delta"}, {"partial_json", c.arguments}}) && Close();
  }

  bool Close() {
    if (open_.empty()) return true;
    if (open_ == "thinking" && !Delta({{"type", "signature_delta"}, {"signature", ""}})) {
      return false;
    }
    open_.clear();
    return sink_.Write(SseEvent("content_block_stop",
                                Dump({{"type", "content_block_stop"}, {"index", index_++}})));
  }

  bool any_tool() const { return any_tool_; }
  bool any_block() const { return index_ > 0 || !open_.empty(); }

 private:
  bool Open(const json& block) {
    return sink_.Write(SseEvent(
        "content_block_start",
        Dump({{"type", "content_block_start"}, {"index", index_}, {"content_block", block}})));
  }
  bool Delta(const json& delta) {
    return sink_.Write(
        SseEvent("content_block_delta",
                 Dump({{"type", "content_block_delta"}, {"index", index_}, {"delta", delta}})));
  }

  ByteSink& sink_;
  std::string open_;
  int index_ = 0;
  bool any_tool_ = false;
};

const std::string kPing = SseEvent("ping", R"({"type":"ping"})");

bool WriteDelta(BlockWriter& blocks, ByteSink& sink, const Delta& d, const std::string& model) {
  if (!blocks.Text("thinking", d.reasoning) || !blocks.Text("text", d.content)) return false;
  for (const ToolCall& c : d.tool_calls) {
    if (!blocks.ToolUse(c)) return false;
  }
  if (!d.finished) return true;
  if (d.finish == Finish::kError) {
    return sink.Write(SseEvent("error", RenderError(Protocol::kAnthropic, FromStatus(d.error))));
  }
  if (!blocks.any_block() && !blocks.Text("text", " ")) return false;  // never an empty message
  if (!blocks.Close()) return false;
  json md = {{"type", "message_delta"},
             {"delta",
              {{"stop_reason", StopReason(d, blocks.any_tool())},
               {"stop_sequence", d.stop_sequence.empty() ? json(nullptr) : json(d.stop_sequence)}}},
             {"usage", UsageJson(d.usage, true)}};
  return sink.Write(SseEvent("message_delta", Dump(md))) &&
         sink.Write(SseEvent("message_stop", R"({"type":"message_stop"})"));
}

void Streaming(const ApiContext& ctx, StartedChat& s, const std::string& id, ByteSink& sink) {
  Generation& g = *s.generation;
  // message_start carries the cache counts, which the engine knows from its first event: wait
  // for it (pinging meanwhile).
  Delta first;
  while (!g.Next(&first, std::chrono::steady_clock::now() + ctx.keepalive_interval)) {
    if (g.finished() || !sink.Write(kPing)) {
      g.Cancel();
      return;
    }
  }
  json msg = {{"id", id},
              {"type", "message"},
              {"role", "assistant"},
              {"model", s.model->name},
              {"content", json::array()},
              {"stop_reason", nullptr},
              {"stop_sequence", nullptr},
              {"usage", UsageJson(first.usage, false)}};
  if (!sink.Write(SseEvent("message_start", Dump({{"type", "message_start"}, {"message", msg}}))) ||
      !sink.Write(kPing)) {
    g.Cancel();
    return;
  }
  BlockWriter blocks(sink);
  if (!WriteDelta(blocks, sink, first, s.model->name)) {
    g.Cancel();
    return;
  }
  PumpStream(g, sink, ctx.keepalive_interval, kPing,
             [&](const Delta& d) { return WriteDelta(blocks, sink, d, s.model->name); });
}

MaybeError ParseCall(const ApiContext& ctx, const ApiCall& call, bool require_max_tokens,
                     ChatRequest* req) {
  json body;
  if (auto e = ParseBody(call.body, ctx.limits.max_json_depth, &body)) return e;
  return ParseMessagesRequest(body, ctx.limits, require_max_tokens, req);
}

}  // namespace

ApiReply Messages(const ApiContext& ctx, const ApiCall& call) {
  ChatRequest req;
  if (auto e = ParseCall(ctx, call, true, &req)) return ErrorFor(*e);
  const std::string id = NewRequestId("msg_");
  auto s = std::make_shared<StartedChat>();
  if (auto e = StartChat(ctx, req, call.account_id, id, "max_tokens", s.get())) {
    return ErrorFor(*e);
  }
  if (!req.stream) return NonStreaming(*s, id, call.client_alive);
  ApiReply r;
  r.content_type = "text/event-stream";
  r.headers = {{"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"}};
  r.stream = [&ctx, s, id](ByteSink& sink) { Streaming(ctx, *s, id, sink); };
  return r;
}

ApiReply CountTokens(const ApiContext& ctx, const ApiCall& call) {
  ChatRequest req;
  if (auto e = ParseCall(ctx, call, false, &req)) return ErrorFor(*e);
  const ModelEntry* m = nullptr;
  std::vector<int32_t> prompt;
  if (auto e = RenderPrompt(ctx, req, &m, &prompt)) return ErrorFor(*e);
  ApiReply r;
  r.body = Dump(json{{"input_tokens", prompt.size()}});
  return r;
}

}  // namespace cachet::api::anthropic
