#include "api/generation.h"

#include <algorithm>

namespace cachet::api {

using Clock = std::chrono::steady_clock;

Result<std::unique_ptr<Generation>> Generation::Start(const ModelEntry& model,
                                                      engine::GenerateRequest request,
                                                      std::vector<std::string> stop,
                                                      ParserOptions parser_options,
                                                      Metrics* metrics) {
  const int64_t n_prompt = static_cast<int64_t>(request.prompt.size());
  const bool logprobs = request.sampling.logprobs;
  auto stream = model.engine->Submit(std::move(request));
  if (!stream.ok()) return stream.status();
  std::unique_ptr<Generation> g(new Generation(model, std::move(*stream), std::move(stop),
                                               parser_options, metrics, n_prompt, logprobs));
  if (model.make_parser) g->parser_ = model.make_parser(parser_options);
  if (!g->parser_) g->parser_ = MakePassthroughParser();
  return g;
}

Generation::Generation(const ModelEntry& model, std::shared_ptr<engine::RequestStream> stream,
                       std::vector<std::string> stop, ParserOptions options, Metrics* metrics,
                       int64_t prompt_tokens, bool logprobs)
    : tokenizer_(model.tokenizer),
      stream_(std::move(stream)),
      decoder_(*tokenizer_),
      stop_(std::move(stop)),
      metrics_(metrics),
      prompt_tokens_(prompt_tokens),
      logprobs_(logprobs),
      start_time_(Clock::now()) {}

Generation::~Generation() {
  if (!finished_ && stream_) stream_->Cancel();
  if (!finished_ && meter_) {
    engine::Usage u = last_usage_;
    u.completion_tokens = tokens_seen_;
    meter_->Finish(u, TtftUs(), "cancelled");
  }
}

int64_t Generation::TtftUs() const {
  if (first_token_time_ == Clock::time_point{}) return -1;
  return std::chrono::duration_cast<std::chrono::microseconds>(first_token_time_ - start_time_)
      .count();
}

void Generation::Cancel() {
  if (stream_) stream_->Cancel();
}

TokenAlternative Generation::Alternative(int32_t id, float logprob) const {
  TokenAlternative a;
  const std::string& raw = tokenizer_->TokenBytes(id);
  a.bytes.assign(raw.begin(), raw.end());
  a.token = tok::SanitizeUtf8(raw);
  a.logprob = logprob;
  return a;
}

bool Generation::Release(std::string text, Delta* out) {
  if (text.empty()) return false;
  released_bytes_ += text.size();
  ParsedDelta p = parser_->Push(text);
  out->content += p.content;
  out->reasoning += p.reasoning;
  for (ToolCall& c : p.tool_calls) out->tool_calls.push_back(std::move(c));
  return !p.reasoning.empty();
}

void Generation::AddTokens(const std::vector<engine::GeneratedToken>& tokens, Delta* out) {
  for (const engine::GeneratedToken& t : tokens) {
    if (stop_hit_) break;  // tokens after a stop string are not shown
    std::string text = decoder_.Push(t.id);
    decoded_bytes_ += text.size();
    if (logprobs_) {
      TokenLogprobs lp;
      lp.chosen = Alternative(t.id, t.logprob);
      for (const engine::TokenLogprob& alt : t.top)
        lp.top.push_back(Alternative(alt.id, alt.logprob));
      pending_logprobs_.emplace_back(decoded_bytes_, std::move(lp));
    }
    if (Release(stop_.Push(text), out)) ++reasoning_tokens_;
    if (stop_.stopped()) {
      stop_hit_ = true;
      stream_->Finish();
    }
  }
  // Logprobs of tokens whose text has been released (all of them once generation ends).
  size_t n = 0;
  while (n < pending_logprobs_.size() && pending_logprobs_[n].first <= released_bytes_) ++n;
  for (size_t i = 0; i < n; ++i) out->logprobs.push_back(std::move(pending_logprobs_[i].second));
  pending_logprobs_.erase(pending_logprobs_.begin(), pending_logprobs_.begin() + n);
}

void Generation::FinishDelta(const engine::Event& ev, Delta* out) {
  if (!stop_hit_) {
    std::string tail = decoder_.Finish();
    decoded_bytes_ += tail.size();
    Release(stop_.Push(tail), out);
    if (stop_.stopped()) stop_hit_ = true;
    Release(stop_.Flush(), out);
  }
  ParsedDelta p = parser_->Finish();
  out->content += p.content;
  out->reasoning += p.reasoning;
  for (ToolCall& c : p.tool_calls) out->tool_calls.push_back(std::move(c));
  if (!stop_hit_) {
    for (auto& [end, lp] : pending_logprobs_) out->logprobs.push_back(std::move(lp));
  }
  pending_logprobs_.clear();
  out->finished = true;
  out->usage = ev.usage;
  out->reasoning_tokens = std::min(reasoning_tokens_, ev.usage.completion_tokens);
  out->stop_sequence = stop_.matched();
  switch (ev.finish_reason) {
    case engine::FinishReason::kStop:
      out->finish = Finish::kStop;
      break;
    case engine::FinishReason::kLength:
      out->finish = stop_hit_ ? Finish::kStop : Finish::kLength;
      break;
    case engine::FinishReason::kCancelled:
      out->finish = stop_hit_ ? Finish::kStop : Finish::kCancelled;
      break;
    case engine::FinishReason::kError:
      out->finish = Finish::kError;
      out->error = ev.error.ok() ? Internal("engine error") : ev.error;
      break;
  }
  finished_ = true;
  if (meter_) {
    const bool cancelled = out->finish == Finish::kCancelled;
    meter_->Finish(ev.usage, TtftUs(),
                   out->finish == Finish::kError ? "error" : cancelled ? "cancelled" : "ok");
  }
  if (metrics_ == nullptr) return;
  const auto now = Clock::now();
  const engine::Usage& u = ev.usage;
  metrics_->CountTokens(u.prompt_cached_tokens, u.prompt_tokens - u.prompt_cached_tokens,
                        u.completion_tokens);
  if (first_token_time_ != Clock::time_point{}) {
    metrics_->ObserveTtft(std::chrono::duration<double>(first_token_time_ - start_time_).count());
    if (u.completion_tokens > 1) {
      metrics_->ObserveTpot(std::chrono::duration<double>(now - first_token_time_).count() /
                            static_cast<double>(u.completion_tokens - 1));
    }
  }
}

bool Generation::Next(Delta* out, Clock::time_point deadline) {
  if (finished_) return false;
  engine::Event ev;
  if (!stream_->Next(&ev, deadline)) return false;
  *out = Delta{};
  out->usage = ev.usage;  // prompt counts are valid from the first event
  last_usage_ = ev.usage;
  tokens_seen_ += static_cast<int64_t>(ev.tokens.size());
  if (!ev.tokens.empty() && first_token_time_ == Clock::time_point{}) {
    first_token_time_ =
        ev.first_token_time != Clock::time_point{} ? ev.first_token_time : Clock::now();
  }
  AddTokens(ev.tokens, out);
  if (ev.finished) FinishDelta(ev, out);
  return true;
}

Delta Generation::Collect(const std::function<bool()>& alive) {
  Delta all;
  Delta d;
  bool cancelled = false;
  auto next_check = Clock::now() + std::chrono::milliseconds(250);
  while (!finished_) {
    if (alive && !cancelled && Clock::now() >= next_check) {
      next_check = Clock::now() + std::chrono::milliseconds(250);
      if (!alive()) {
        Cancel();
        cancelled = true;
      }
    }
    if (!Next(&d, Clock::now() + std::chrono::milliseconds(250))) continue;
    all.content += d.content;
    all.reasoning += d.reasoning;
    for (ToolCall& c : d.tool_calls) all.tool_calls.push_back(std::move(c));
    for (TokenLogprobs& l : d.logprobs) all.logprobs.push_back(std::move(l));
    if (d.finished) {
      all.finished = true;
      all.finish = d.finish;
      all.usage = d.usage;
      all.error = d.error;
      all.stop_sequence = d.stop_sequence;
      all.reasoning_tokens = d.reasoning_tokens;
    }
  }
  return all;
}

const char* OpenAIFinishReason(Finish f) {
  switch (f) {
    case Finish::kLength:
      return "length";
    case Finish::kToolCalls:
      return "tool_calls";
    default:
      return "stop";
  }
}

}  // namespace cachet::api
