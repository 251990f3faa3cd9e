// api_bench: cost of the API layer per generated token (engine excluded: a FakeEngine with no
// delay produces the tokens). Streams a long reply through each protocol's renderer into a sink
// that discards bytes, and reports tokens per second and microseconds per token.
//   ./api_bench [tokens]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "api/anthropic/anthropic.h"
#include "api/openai/openai.h"
#include "api/testing/fake_model.h"

using namespace cachet::api;

namespace {

class NullSink final : public ByteSink {
 public:
  bool Write(std::string_view d) override {
    bytes += d.size();
    return true;
  }
  size_t bytes = 0;
};

void Bench(const char* name, const ApiContext& ctx,
           ApiReply (*fn)(const ApiContext&, const ApiCall&), const nlohmann::json& body,
           int64_t tokens) {
  ApiCall call;
  call.body = body.dump();
  call.header = [](const std::string&) { return std::string(); };
  const auto t0 = std::chrono::steady_clock::now();
  ApiReply r = fn(ctx, call);
  NullSink sink;
  if (r.stream) r.stream(sink);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%-28s %8lld tokens  %7.3f s  %9.0f tok/s  %6.2f us/token  %zu bytes\n", name,
              static_cast<long long>(tokens), s, tokens / s, 1e6 * s / tokens,
              r.stream ? sink.bytes : r.body.size());
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t n = argc > 1 ? std::atoll(argv[1]) : 20000;
  testing::FakeEngineOptions o;
  o.n_ctx = n + 1000;
  o.reply.assign(static_cast<size_t>(n), 'a');
  auto fm = testing::MakeFakeModel("fake", "", o);
  ModelRegistry reg;
  if (!reg.Add(fm.entry).ok()) return 1;
  Metrics metrics;
  ApiContext ctx;
  ctx.models = &reg;
  ctx.metrics = &metrics;
  const nlohmann::json msgs = {{{"role", "user"}, {"content", "Hi"}}};
  nlohmann::json chat = {{"model", "fake"}, {"messages", msgs}, {"max_tokens", n}};
  Bench("openai chat", ctx, openai::ChatCompletions, chat, n);
  chat["stream"] = true;
  Bench("openai chat stream", ctx, openai::ChatCompletions, chat, n);
  chat["stop"] = {"zzz", "STOP"};
  chat["logprobs"] = true;
  chat["top_logprobs"] = 5;
  Bench("openai stream+stop+logprobs", ctx, openai::ChatCompletions, chat, n);
  nlohmann::json msg = {{"model", "fake"}, {"messages", msgs}, {"max_tokens", n}, {"stream", true}};
  Bench("anthropic stream", ctx, anthropic::Messages, msg, n);
  return 0;
}
