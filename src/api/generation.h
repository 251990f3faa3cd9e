// Generation: one submitted request seen as text. It turns the engine's token events into text
// deltas: incremental UTF-8-safe decoding, stop strings (held back across token boundaries), the
// output parser (content / reasoning / tool calls), logprobs aligned with the text they belong
// to, and usage. Records TTFT, TPOT and token counts in Metrics when the request finishes.
//
// Protocol adapters pull deltas with Next() (non-streaming: until finished; streaming: forward
// each one as an SSE event, with keep-alives on timeouts) and never touch the engine directly.
//
// Thread-safety: one thread at a time per Generation (the HTTP thread serving the request).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "api/metrics.h"
#include "api/model_registry.h"
#include "api/output_parser.h"
#include "api/stop_matcher.h"
#include "api/usage_hook.h"
#include "engine/engine.h"
#include "tokenizer/tokenizer.h"

namespace cachet::api {

struct TokenAlternative {
  std::string token;  // the token's text (U+FFFD where its bytes are not valid UTF-8 alone)
  std::vector<uint8_t> bytes;
  float logprob = 0;
};

struct TokenLogprobs {
  TokenAlternative chosen;
  std::vector<TokenAlternative> top;
};

enum class Finish { kNone, kStop, kLength, kToolCalls, kCancelled, kError };

struct Delta {
  std::string content;
  std::string reasoning;
  std::vector<ToolCall> tool_calls;
  std::vector<TokenLogprobs> logprobs;  // tokens whose text is released in this delta
  bool finished = false;
  Finish finish = Finish::kNone;
  std::string stop_sequence;  // the stop string that ended generation, if any
  engine::Usage usage;        // prompt counts always; completion count when finished
  int64_t reasoning_tokens = 0;
  Status error;  // finish == kError

  bool empty() const {
    return content.empty() && reasoning.empty() && tool_calls.empty() && logprobs.empty() &&
           !finished;
  }
};

class Generation {
 public:
  // Submits `request` to the model's engine. Errors: the engine's Submit errors unchanged.
  static Result<std::unique_ptr<Generation>> Start(const ModelEntry& model,
                                                   engine::GenerateRequest request,
                                                   std::vector<std::string> stop,
                                                   ParserOptions parser_options, Metrics* metrics);
  ~Generation();  // cancels the request if it has not finished

  // Waits until the engine delivers something or `deadline` passes. Returns false on timeout or
  // once the finished delta has been returned; otherwise fills `out` (possibly with an empty
  // delta when all new text is held back).
  bool Next(Delta* out, std::chrono::steady_clock::time_point deadline);
  // The client went away.
  void Cancel();
  // Convenience for non-streaming: pulls until finished and merges all deltas. `alive` (optional)
  // is polled a few times a second; once it says false the request is cancelled.
  Delta Collect(const std::function<bool()>& alive = nullptr);

  // Meters this request: Finish is called when the finished delta is produced (before Next
  // returns it) or, for a request that ends otherwise, from the destructor.
  void SetMeter(std::unique_ptr<RequestMeter> meter) { meter_ = std::move(meter); }

  int64_t prompt_tokens() const { return prompt_tokens_; }
  bool finished() const { return finished_; }

 private:
  Generation(const ModelEntry& model, std::shared_ptr<engine::RequestStream> stream,
             std::vector<std::string> stop, ParserOptions options, Metrics* metrics,
             int64_t prompt_tokens, bool logprobs);
  void AddTokens(const std::vector<engine::GeneratedToken>& tokens, Delta* out);
  // Returns true when the parser turned some of `text` into reasoning.
  bool Release(std::string text, Delta* out);
  void FinishDelta(const engine::Event& ev, Delta* out);
  TokenAlternative Alternative(int32_t id, float logprob) const;

  std::shared_ptr<const tok::Tokenizer> tokenizer_;
  std::shared_ptr<engine::RequestStream> stream_;
  tok::StreamDecoder decoder_;
  StopMatcher stop_;
  std::unique_ptr<OutputParser> parser_;
  Metrics* metrics_;
  int64_t prompt_tokens_;
  bool logprobs_;
  bool finished_ = false;
  bool stop_hit_ = false;
  // Logprobs waiting for their text to be released: (end offset in decoded bytes, entry).
  std::vector<std::pair<size_t, TokenLogprobs>> pending_logprobs_;
  int64_t reasoning_tokens_ = 0;  // tokens whose text went (partly) to reasoning
  size_t decoded_bytes_ = 0;
  size_t released_bytes_ = 0;
  std::chrono::steady_clock::time_point start_time_;
  std::chrono::steady_clock::time_point first_token_time_{};
  std::unique_ptr<RequestMeter> meter_;
  engine::Usage last_usage_;  // prompt counts from the engine's latest event
  int64_t tokens_seen_ = 0;   // tokens delivered so far (usage of a request cut short)
  int64_t TtftUs() const;
};

// Text of a finish reason as OpenAI spells it ("stop", "length", "tool_calls").
const char* OpenAIFinishReason(Finish f);

}  // namespace cachet::api
