// The API layer's face towards the HTTP server: transport-neutral calls and replies, and the
// route table of every protocol endpoint. http/ adapts these to the HTTP library; nothing here
// includes it.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/api_error.h"
#include "api/metrics.h"
#include "api/model_registry.h"
#include "api/usage_hook.h"

namespace cachet::api {

// Where a streaming reply writes its bytes. Write blocks while the client is slow (the transport
// applies backpressure) and returns false once the client is gone or the write timed out; the
// writer then cancels its request and returns.
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual bool Write(std::string_view data) = 0;
};

struct ApiCall {
  std::string path;
  std::string body;
  std::string account_id;  // from the Authenticator; "" with --no-auth
  // Header lookup (case-insensitive); "" when absent.
  std::function<std::string(const std::string&)> header;
  // URL query parameter lookup; "" when absent.
  std::function<std::string(const std::string&)> query;
  // False once the client has gone away (checked while a non-streaming reply is generated;
  // streaming replies notice through failed writes). Empty: assume connected.
  std::function<bool()> client_alive;
};

struct ApiReply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // Set for streaming replies (text/event-stream): runs on the HTTP thread after the headers are
  // sent and writes the whole event stream to the sink; `body` is unused.
  std::function<void(ByteSink&)> stream;
};

// A reply carrying `e` in the protocol's shape (with Retry-After when e.retry_after_s > 0).
ApiReply ErrorReply(Protocol protocol, const ApiError& e);

// Limits on what a client controls (the body size limit is the HTTP server's).
struct ApiLimits {
  int max_json_depth = 64;
  size_t max_messages = 4096;
  size_t max_stop = 16;         // stop strings per request
  size_t max_stop_bytes = 256;  // per stop string
  int max_top_logprobs = 20;
  size_t max_tools = 128;
};

struct ApiContext {
  const ModelRegistry* models = nullptr;
  Metrics* metrics = nullptr;
  ApiLimits limits;
  // While a streaming request waits for tokens, a keep-alive (SSE comment / Anthropic ping) is
  // sent this often; it is also how a vanished client is noticed.
  std::chrono::milliseconds keepalive_interval{2000};
  // A request still queued after this long is refused with 503/529.
  std::chrono::milliseconds queue_timeout{60000};
  // Billing: admission (limits, holds) and one ledger record per request; nullptr = unmetered.
  UsageHook* usage = nullptr;
};

struct Route {
  std::string method;  // "GET" | "POST"
  std::string path;    // exact path, or a pattern ending in "(.+)" for an id
  Protocol protocol;   // shape of its errors
  std::function<ApiReply(const ApiCall&)> handler;
  // False for routes that authenticate themselves (the admin API's token): the server skips the
  // API-key check.
  bool needs_key = true;
};

// Every endpoint: OpenAI (/v1/chat/completions, /chat/completions, /v1/completions,
// /beta/completions, /v1/models, /models) and Anthropic (/anthropic/v1/messages, /v1/messages,
// .../count_tokens). `ctx` must outlive the handlers.
std::vector<Route> ApiRoutes(const ApiContext* ctx);

// A unique id with the given prefix ("chatcmpl-", "msg_", ...). Thread-safe.
std::string NewRequestId(const std::string& prefix);

// Unix seconds now.
int64_t UnixNow();

}  // namespace cachet::api
