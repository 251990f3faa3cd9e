// Chat-template render speed: the shared templates over a long tool-using conversation.
//   jinja_bench [SHARED_DIR]   (default ../shared relative to the source tree)
// Prints microseconds per render and prompt bytes per second for each template.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tokenizer/jinja/template.h"

using cachet::jinja::ChatRequest;
using cachet::jinja::Template;
using Json = nlohmann::ordered_json;

int main(int argc, char** argv) {
  std::string shared = argc > 1 ? argv[1] : CACHET_JINJA_BENCH_SHARED_DIR;
  ChatRequest req;
  req.messages = Json::array();
  req.messages.push_back({{"role", "system"}, {"content", "You are a helpful assistant."}});
  for (int i = 0; i < 50; ++i) {  // 50 turns, every fifth with a tool call and result
    req.messages.push_back(
        {{"role", "user"},
         {"content", "Question " + std::to_string(i) + ": what is the weather like today?"}});
    if (i % 5 == 4) {
      Json call = {{"id", "c"},
                   {"type", "function"},
                   {"function", {{"name", "get_weather"}, {"arguments", "{\"city\": \"Paris\"}"}}}};
      req.messages.push_back(
          {{"role", "assistant"}, {"content", ""}, {"tool_calls", Json::array({call})}});
      req.messages.push_back({{"role", "tool"}, {"content", "{\"temp\": 21}"}});
    }
    req.messages.push_back({{"role", "assistant"}, {"content", std::string(400, 'x')}});
  }
  req.tools = Json::parse(
      R"([{"type":"function","function":{"name":"get_weather","description":"Weather.","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}])");
  req.bos_token = "<s>";
  for (const char* name : {"deepseek-v3", "qwen3", "llama3"}) {
    std::ifstream in(shared + "/tokenizers/" + name + "/tokenizer_config.json");
    Json cfg = Json::parse(in, nullptr, false);
    if (cfg.is_discarded()) {
      std::fprintf(stderr, "cannot read %s\n", name);
      return 1;
    }
    auto t = Template::Parse(cfg["chat_template"].get<std::string>());
    if (!t.ok()) return 1;
    const int n = 200;
    size_t bytes = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) {
      auto r = RenderChat(*t, req);
      if (!r.ok()) {
        std::fprintf(stderr, "%s: %s\n", name, r.status().ToString().c_str());
        return 1;
      }
      bytes += r->size();
    }
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%-12s %4zu messages  %8.1f us/render  %6.1f MB/s of prompt\n", name,
                req.messages.size(), 1e6 * s / n, bytes / s / 1e6);
  }
  return 0;
}
