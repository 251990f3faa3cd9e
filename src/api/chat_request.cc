#include "api/chat_request.h"

#include <algorithm>

#include "api/chat_encode.h"
#include "api/json_constraint.h"

namespace cachet::api {

namespace {

std::vector<int32_t> Encode(const ModelEntry& m, const std::string& text, bool bos) {
  std::vector<int32_t> ids = m.tokenizer->Encode(text, /*add_bos=*/false, /*parse_special=*/true);
  if (bos && m.tokenizer->add_bos() && m.tokenizer->bos_id() >= 0 &&
      (ids.empty() || ids[0] != m.tokenizer->bos_id())) {
    ids.insert(ids.begin(), m.tokenizer->bos_id());
  }
  return ids;
}

std::string Tail(const std::string& s) { return s.size() > 64 ? s.substr(s.size() - 64) : s; }

// The constraint of a forced tool call (see forced_tool_call.h), or an error naming tool_choice.
std::optional<ApiError> ForcedCallConstraint(const ModelEntry& m, const ChatRequest& req,
                                             const std::string& prompt_tail,
                                             std::shared_ptr<engine::TokenConstraint>* out) {
  const parsers::ToolCallFormat format = ToolFormatOf(m);
  if (format == parsers::ToolCallFormat::kNone) {
    return InvalidRequest("model '" + m.name +
                              "' has no known tool-call format, so tool_choice cannot force "
                              "a tool call",
                          "tool_choice");
  }
#ifdef CACHET_API_HAS_PARSERS
  const bool close_reasoning = parsers::PromptOpensReasoning(prompt_tail);
#else
  const bool close_reasoning = false;
#endif
  auto g = ForcedToolCallGrammar(format, *m.tokenizer, req.forced_tools, close_reasoning);
  if (!g.ok()) return InvalidRequest(g.status().message(), "tool_choice");
  *out = MakeToolCallConstraint(
      m.tokenizer, std::make_shared<const sampling::ToolCallGrammar>(std::move(g).value()));
  return std::nullopt;
}

}  // namespace

std::optional<ApiError> RenderPrompt(const ApiContext& ctx, const ChatRequest& req,
                                     const ModelEntry** model, std::vector<int32_t>* prompt,
                                     std::string* prompt_tail) {
  const ModelEntry* m = ctx.models->Find(req.model);
  if (m == nullptr) {
    return ApiError{ErrorKind::kModelNotFound,
                    "The model '" + req.model + "' does not exist or you do not have access to it.",
                    "model", "model_not_found", 0};
  }
  *model = m;
  if (req.raw_prompt && req.suffix.has_value()) {
    if (!m->fim.ok()) {
      return InvalidRequest("model '" + m->name +
                                "' has no fill-in-the-middle tokens; "
                                "'suffix' is not supported",
                            "suffix");
    }
    // <PRE> prefix <SUF> suffix <MID>: the model writes the middle.
    std::vector<int32_t> ids = Encode(*m, "", /*bos=*/true);
    ids.push_back(m->fim.prefix);
    for (int32_t id : m->tokenizer->Encode(req.prompt, false, false)) ids.push_back(id);
    ids.push_back(m->fim.suffix);
    for (int32_t id : m->tokenizer->Encode(*req.suffix, false, false)) ids.push_back(id);
    ids.push_back(m->fim.middle);
    *prompt = std::move(ids);
    return std::nullopt;
  }
  if (req.raw_prompt) {
    if (prompt_tail != nullptr) *prompt_tail = Tail(req.prompt);
    *prompt = Encode(*m, req.prompt, /*bos=*/true);
    return std::nullopt;
  }
  if (!req.render.tools.empty() && !m->chat_template->SupportsTools()) {
    return InvalidRequest("model '" + m->name + "' does not support tools yet", "tools");
  }
  std::string text;
  auto ids = EncodeChat(*m->tokenizer, *m->chat_template, req.messages, req.render, &text);
  if (!ids.ok()) return InvalidRequest("chat template: " + ids.status().message(), "messages");
  *prompt = std::move(*ids);
  const int32_t bos = m->tokenizer->bos_id();
  if (m->tokenizer->add_bos() && bos >= 0 && (prompt->empty() || (*prompt)[0] != bos)) {
    prompt->insert(prompt->begin(), bos);
  }
  if (prompt_tail != nullptr) *prompt_tail = Tail(text);
  return std::nullopt;
}

std::optional<ApiError> StartChat(const ApiContext& ctx, const ChatRequest& req,
                                  const std::string& account_id, const std::string& request_id,
                                  const std::string& max_tokens_param, StartedChat* out) {
  const ModelEntry* m = nullptr;
  std::vector<int32_t> prompt;
  std::string tail;
  if (auto e = RenderPrompt(ctx, req, &m, &prompt, &tail)) return e;
  const int64_t n_ctx = m->engine->info().n_ctx;
  const int64_t n_prompt = static_cast<int64_t>(prompt.size());
  if (n_prompt == 0) return InvalidRequest("the prompt is empty", "messages");
  if (n_prompt >= n_ctx) {
    return InvalidRequest("This model's maximum context length is " + std::to_string(n_ctx) +
                              " tokens; the prompt has " + std::to_string(n_prompt) + " tokens.",
                          "messages");
  }
  int64_t max_tokens = req.max_tokens > 0 ? req.max_tokens : n_ctx - n_prompt;
  if (n_prompt + max_tokens > n_ctx) {
    return InvalidRequest("This model's maximum context length is " + std::to_string(n_ctx) +
                              " tokens. However, you requested " +
                              std::to_string(n_prompt + max_tokens) + " tokens (" +
                              std::to_string(n_prompt) + " in the messages, " +
                              std::to_string(max_tokens) + " in the completion).",
                          max_tokens_param);
  }
  engine::GenerateRequest g;
  g.request_id = request_id;
  g.prompt = std::move(prompt);
  g.max_tokens = max_tokens;
  g.sampling = req.sampling;
  g.stop_ids = m->tokenizer->eog_ids();
  if (g.stop_ids.empty() && m->tokenizer->eos_id() >= 0)
    g.stop_ids.push_back(m->tokenizer->eos_id());
  if (!req.forced_tools.empty()) {
    if (auto e = ForcedCallConstraint(*m, req, tail, &g.constraint)) return e;
  } else if (req.json_grammar) {
    g.constraint = MakeJsonConstraint(m->tokenizer, req.json_grammar);
  }
  g.cache_salt = ctx.usage != nullptr ? ctx.usage->CacheSalt(account_id) : account_id;
  std::unique_ptr<RequestMeter> meter;
  if (ctx.usage != nullptr) {
    int64_t retry_after_s = 0;
    auto admitted =
        ctx.usage->Admit(account_id, request_id, m->name, n_prompt, max_tokens, &retry_after_s);
    if (!admitted.ok()) {
      const Status& s = admitted.status();
      ApiError e = FromStatus(s);
      if (s.code() == StatusCode::kInsufficientFunds) {
        e = ApiError{ErrorKind::kInsufficientBalance, s.message(), "", "insufficient_balance", 0};
      } else if (s.code() == StatusCode::kResourceExhausted) {
        e = ApiError{ErrorKind::kRateLimit, s.message(), "", "rate_limit_exceeded",
                     static_cast<int>(std::max<int64_t>(1, retry_after_s))};
      }
      return e;
    }
    meter = std::move(*admitted);
  }
  g.queue_deadline = std::chrono::steady_clock::now() + ctx.queue_timeout;
  ParserOptions po;
  po.thinking = req.render.enable_thinking;
  po.tools = !req.render.tools.empty();
  po.prompt_tail = std::move(tail);
  auto gen = Generation::Start(*m, std::move(g), req.stop, po, ctx.metrics);
  if (!gen.ok()) {
    // Never reached the engine: the meter's destructor records nothing billable (0 tokens).
    if (meter) meter->Finish(engine::Usage{}, -1, "error");
    return FromStatus(gen.status());
  }
  if (meter) (*gen)->SetMeter(std::move(meter));
  out->model = m;
  out->generation = std::move(*gen);
  out->prompt_tokens = n_prompt;
  out->max_tokens = max_tokens;
  return std::nullopt;
}

}  // namespace cachet::api
