#include "api/service.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>

#include "api/anthropic/anthropic.h"
#include "api/openai/openai.h"

namespace cachet::api {

ApiReply ErrorReply(Protocol protocol, const ApiError& e) {
  ApiReply r;
  r.status = HttpStatus(protocol, e.kind);
  r.body = RenderError(protocol, e);
  if (e.retry_after_s > 0) r.headers.emplace_back("Retry-After", std::to_string(e.retry_after_s));
  return r;
}

std::string NewRequestId(const std::string& prefix) {
  static const uint64_t kSeed = [] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }();
  static std::atomic<uint64_t> counter{0};
  // splitmix64 of seed + counter: unique per process, unpredictable across processes.
  uint64_t z = kSeed + 0x9E3779B97F4A7C15ull * (counter.fetch_add(1) + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  char buf[24];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(z));
  return prefix + buf;
}

int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::vector<Route> ApiRoutes(const ApiContext* ctx) {
  auto bind = [ctx](ApiReply (*fn)(const ApiContext&, const ApiCall&)) {
    return [ctx, fn](const ApiCall& call) { return fn(*ctx, call); };
  };
  const Protocol oai = Protocol::kOpenAI, ant = Protocol::kAnthropic;
  return {
      {"POST", "/v1/chat/completions", oai, bind(openai::ChatCompletions)},
      {"POST", "/chat/completions", oai, bind(openai::ChatCompletions)},
      {"POST", "/v1/completions", oai, bind(openai::Completions)},
      {"POST", "/beta/completions", oai, bind(openai::Completions)},
      {"POST", "/completions", oai, bind(openai::Completions)},
      {"GET", "/v1/models", oai, bind(openai::ListModels)},
      {"GET", "/models", oai, bind(openai::ListModels)},
      {"GET", "/v1/models/(.+)", oai, bind(openai::RetrieveModel)},
      {"GET", "/models/(.+)", oai, bind(openai::RetrieveModel)},
      {"POST", "/anthropic/v1/messages", ant, bind(anthropic::Messages)},
      {"POST", "/v1/messages", ant, bind(anthropic::Messages)},
      {"POST", "/anthropic/v1/messages/count_tokens", ant, bind(anthropic::CountTokens)},
      {"POST", "/v1/messages/count_tokens", ant, bind(anthropic::CountTokens)},
  };
}

}  // namespace cachet::api
