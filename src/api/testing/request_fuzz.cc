#include "api/testing/request_fuzz.h"

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "api/anthropic/anthropic.h"
#include "api/openai/openai.h"
#include "api/testing/fake_model.h"
#include "api/testing/string_sink.h"

namespace cachet::api::testing {

namespace {

struct World {
  World() {
    FakeEngineOptions o;
    o.n_ctx = 512;
    model = MakeFakeModel("fake", "fuzz <think>x</think> reply STOP", o);
    // A tool-call syntax, so that forced tool_choice seeds reach the constraint builder.
    model.entry.tool_format = parsers::ToolCallFormat::kQwen;
    if (!registry.Add(model.entry).ok()) std::abort();
    ctx.models = &registry;
    ctx.metrics = &metrics;
    ctx.keepalive_interval = std::chrono::milliseconds(1);
  }
  FakeModel model;
  ModelRegistry registry;
  Metrics metrics;
  ApiContext ctx;
};

}  // namespace

int FuzzOneRequest(const uint8_t* data, size_t size) {
  static World* world = new World();
  if (size == 0) return 0;
  ApiCall call;
  call.body.assign(reinterpret_cast<const char*>(data) + 1, size - 1);
  call.header = [](const std::string&) { return std::string(); };
  ApiReply r;
  switch (data[0] % 4) {
    case 0:
      r = openai::ChatCompletions(world->ctx, call);
      break;
    case 1:
      r = openai::Completions(world->ctx, call);
      break;
    case 2:
      r = anthropic::Messages(world->ctx, call);
      break;
    default:
      r = anthropic::CountTokens(world->ctx, call);
      break;
  }
  if (r.status < 200 || r.status > 599) std::abort();
  if (r.stream) {
    StringSink sink;
    r.stream(sink);
    if (sink.text.empty()) std::abort();
  } else if (nlohmann::json::parse(r.body, nullptr, false).is_discarded()) {
    std::abort();
  }
  return r.status;
}

}  // namespace cachet::api::testing
