// Time per mask of a forced tool call (ToolCallTokenConstraint::Allowed) over the real
// vocabularies, in the states a call goes through: the first token (a marker or the head's first
// byte), inside the tool name, inside an argument string (the worst case: most tokens stay
// viable), inside an integer, in the tail. The plain JSON constraint inside a string is the
// reference. Compare with a decode step (llama-1b q8_0 on CPU: ~70 ms): the issue allows <= 10%.
//   ./forced_tool_bench [iterations]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "api/forced_tool_call.h"
#include "api/json_constraint.h"
#include "sampling/json_schema.h"
#include "tokenizer/vocab.h"

using namespace cachet;
using namespace cachet::api;
using parsers::ToolCallFormat;

namespace {

const char* kSchema = R"({"type":"object","properties":{"city":{"type":"string"},
  "days":{"type":"integer"},"tags":{"type":"array","items":{"type":"string"}}},
  "required":["city","days"]})";

double MedianMs(int iters, const std::function<void()>& f, double* max_ms) {
  std::vector<double> ms;
  for (int i = 0; i < iters; ++i) {
    auto a = std::chrono::steady_clock::now();
    f();
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count());
  }
  std::sort(ms.begin(), ms.end());
  *max_ms = ms.back();
  return ms[ms.size() / 2];
}

int Run(const char* tokenizer, ToolCallFormat format, const char* prefix_fmt, int iters) {
  auto spec =
      tok::LoadTokenizerSpec(std::string(CACHET_API_TEST_SHARED_DIR "/tokenizers/") + tokenizer);
  if (!spec.ok()) return std::fprintf(stderr, "%s\n", spec.status().ToString().c_str()), 1;
  auto t = tok::Tokenizer::Create(*spec);
  if (!t.ok()) return 1;
  std::shared_ptr<const tok::Tokenizer> tk(std::move(*t));
  std::vector<ForcedTool> tools;
  for (const char* name : {"get_weather", "get_time", "search_documents"}) {
    ForcedTool f;
    if (CompileForcedTool({name, "", kSchema}, "n", "p", &f)) return 1;
    tools.push_back(f);
  }
  auto g = ForcedToolCallGrammar(format, *tk, tools, false);
  if (!g.ok()) return std::fprintf(stderr, "%s\n", g.status().ToString().c_str()), 1;
  auto grammar = std::make_shared<const sampling::ToolCallGrammar>(std::move(g).value());
  auto trie = VocabTrie(tk);
  std::printf("%s (%d tokens):\n", tokenizer, tk->n_vocab());
  // The call text up to each measured state (prefix_fmt: the call with %s for the arguments).
  struct Case {
    const char* name;
    std::string text;
  } cases[] = {
      {"first token", ""},
      {"in the tool name", "get_"},
      {"in an argument string", "{\"city\":\"Par"},
      {"in an integer", "{\"city\":\"Paris\",\"days\":1"},
      {"in the tail", "{\"city\":\"Paris\",\"days\":1}"},
  };
  std::vector<uint8_t> mask(tk->n_vocab());
  char buf[512];
  for (const Case& c : cases) {
    std::string text;
    if (std::string(c.name) == "first token") {
      text = "";
    } else if (std::string(c.name) == "in the tool name") {
      std::snprintf(buf, sizeof(buf), prefix_fmt, "get_weather", "");
      text = std::string(buf);
      text = text.substr(0, text.find("get_weather") + 4);
    } else {
      std::snprintf(buf, sizeof(buf), prefix_fmt, "get_weather", c.text.c_str());
      text = buf;
    }
    sampling::ToolCallTokenConstraint tc(grammar, trie, tk->eog_ids());
    for (int32_t id : tk->Encode(text, false, true)) tc.Accept(id);
    if (tc.Done()) return std::fprintf(stderr, "%s: the prefix was refused\n", c.name), 1;
    double max_ms = 0;
    double med = MedianMs(
        iters,
        [&] {
          std::fill(mask.begin(), mask.end(), 1);
          (void)tc.Allowed(mask);
        },
        &max_ms);
    int allowed = 0;
    for (uint8_t m : mask) allowed += m;
    std::printf("  %-26s allowed %6d  median %7.3f ms  max %7.3f ms  (%.2f%% of a 70 ms step)\n",
                c.name, allowed, med, max_ms, 100.0 * med / 70.0);
  }
  auto json = MakeJsonConstraint(tk, std::make_shared<const sampling::JsonGrammar>(
                                         sampling::CompileJsonSchema(kSchema, "s").value()));
  for (int32_t id : tk->Encode("{\"city\":\"Par", false, false)) json->Accept(id);
  double max_ms = 0;
  double med = MedianMs(
      iters,
      [&] {
        std::fill(mask.begin(), mask.end(), 1);
        (void)json->Allowed(mask);
      },
      &max_ms);
  std::printf("  %-26s                 median %7.3f ms  max %7.3f ms  (reference)\n",
              "json_schema, in a string", med, max_ms);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int iters = argc > 1 ? std::atoi(argv[1]) : 20;
  if (int rc = Run("qwen3", ToolCallFormat::kQwen,
                   "<tool_call>\n{\"name\": \"%s\", \"arguments\": %s", iters)) {
    return rc;
  }
  if (int rc =
          Run("deepseek-v3", ToolCallFormat::kDeepSeekV3,
              "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>%s\n```json\n%s",
              iters)) {
    return rc;
  }
  return Run("llama3", ToolCallFormat::kLlama31, "{\"name\": \"%s\", \"parameters\": %s", iters);
}
