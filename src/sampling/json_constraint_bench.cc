// Time per JsonTokenConstraint::Allowed() over the llama3 vocabulary (128k tokens) in typical
// states: value start, inside a string (the worst case: most tokens stay viable), inside a
// number, at a key. Compare with a decode step (llama-1b on CPU: ~70 ms): the issue allows
// <= 10% slowdown.
//   ./json_constraint_bench [iterations]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "sampling/json_schema.h"
#include "sampling/token_constraint.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

using namespace cachet;
using namespace cachet::sampling;

int main(int argc, char** argv) {
  int iters = argc > 1 ? std::atoi(argv[1]) : 20;
  auto spec = tok::LoadTokenizerSpec(CACHET_SAMPLING_TEST_SHARED_DIR "/tokenizers/llama3");
  if (!spec.ok()) return std::fprintf(stderr, "%s\n", spec.status().ToString().c_str()), 1;
  auto t = tok::Tokenizer::Create(*spec);
  if (!t.ok()) return 1;
  const tok::Tokenizer& tk = **t;
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::string> bytes;
  std::vector<int32_t> excluded;
  for (int32_t id = 0; id < tk.n_vocab(); ++id) {
    bytes.push_back(tk.TokenBytes(id));
    if (tk.spec().token_types[id] == tok::TokenType::kControl) excluded.push_back(id);
  }
  auto trie = std::make_shared<const TokenTrie>(std::move(bytes), excluded);
  double build_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::printf("vocab %d tokens, trie %zu nodes, built in %.1f ms\n", tk.n_vocab(), trie->n_nodes(),
              build_ms);
  auto g = std::make_shared<const JsonGrammar>(
      CompileJsonSchema(R"({"type":"object","properties":{"name":{"type":"string"},
        "age":{"type":"integer"},"tags":{"type":"array","items":{"type":"string"}}},
        "required":["name","age","tags"]})",
                        "schema")
          .value());
  auto any = std::make_shared<const JsonGrammar>(JsonObjectGrammar());
  struct Case {
    const char* name;
    std::shared_ptr<const JsonGrammar> g;
    const char* prefix;
  } cases[] = {
      {"schema: start", g, ""},
      {"schema: in string", g, R"({"name":"Jo)"},
      {"schema: in integer", g, R"({"name":"Jo","age":4)"},
      {"schema: in array", g, R"({"name":"Jo","age":4,"tags":["a")"},
      {"json_object: after {", any, "{"},
      {"json_object: in string", any, R"({"key":"some text)"},
      {"json_object: in nested value", any, R"({"a":[{"b":)"},
      {"json_object: value start", any, R"({"a":)"},
      {"json_object: after backslash", any, R"({"a":"x\)"},
      {"json_object: mid UTF-8", any, "{\"a\":\"\xe4"},
  };
  std::vector<uint8_t> mask(tk.n_vocab());
  for (const auto& c : cases) {
    JsonTokenConstraint tc(c.g, trie, tk.eog_ids());
    for (int32_t id : tk.Encode(c.prefix, false, false)) tc.Accept(id);
    std::vector<double> ms;
    int allowed = 0;
    for (int i = 0; i < iters; ++i) {
      std::fill(mask.begin(), mask.end(), 1);
      auto a = std::chrono::steady_clock::now();
      (void)tc.Allowed(mask);
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count());
    }
    for (uint8_t m : mask) allowed += m;
    std::sort(ms.begin(), ms.end());
    std::printf("%-32s allowed %6d  median %7.3f ms  max %7.3f ms  (%.1f%% of a 70 ms step)\n",
                c.name, allowed, ms[ms.size() / 2], ms.back(), 100.0 * ms[ms.size() / 2] / 70.0);
  }
  return 0;
}
