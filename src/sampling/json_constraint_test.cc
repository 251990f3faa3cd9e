// Constrained decoding at the token level over the llama3 vocabulary with a random sampler; every
// complete output is checked by an independent validator written here and by /usr/bin/python3's
// json module.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "sampling/json_matcher.h"
#include "sampling/json_schema.h"
#include "sampling/json_value.h"
#include "sampling/sampler.h"
#include "sampling/token_constraint.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace cachet::sampling {
namespace {

using VK = JsonValue::Kind;

JsonGrammar MustCompile(const std::string& schema) {
  auto g = CompileJsonSchema(schema, "schema");
  EXPECT_TRUE(g.ok()) << g.status().ToString();
  return g.ok() ? std::move(g).value() : JsonObjectGrammar();
}

// ---- independent validator (semantics of the supported subset, straight from the schema) ----

bool IsInteger(const std::string& num) { return num.find_first_of(".eE") == std::string::npos; }

bool Validate(const JsonValue& v, const JsonValue& s) {
  if (s.kind == VK::kBool) return s.boolean;
  if (const JsonValue* c = s.Find("const")) return SerializeJson(*c) == SerializeJson(v);
  if (const JsonValue* e = s.Find("enum")) {
    for (const auto& x : e->items) {
      if (SerializeJson(x) == SerializeJson(v)) return true;
    }
    return false;
  }
  if (const JsonValue* a = s.Find("anyOf")) {
    for (const auto& x : a->items) {
      if (Validate(v, x)) return true;
    }
    return false;
  }
  if (const JsonValue* t = s.Find("type")) {
    std::vector<std::string> types;
    if (t->kind == VK::kString) types.push_back(t->text);
    for (const auto& x : t->items) types.push_back(x.text);
    bool ok = false;
    for (const auto& ty : types) {
      ok |= (ty == "string" && v.kind == VK::kString) ||
            (ty == "number" && v.kind == VK::kNumber) ||
            (ty == "integer" && v.kind == VK::kNumber && IsInteger(v.text)) ||
            (ty == "boolean" && v.kind == VK::kBool) || (ty == "null" && v.kind == VK::kNull) ||
            (ty == "object" && v.kind == VK::kObject) || (ty == "array" && v.kind == VK::kArray);
    }
    if (!ok) return false;
  }
  if (v.kind == VK::kObject) {
    const JsonValue* props = s.Find("properties");
    if (const JsonValue* req = s.Find("required")) {
      for (const auto& r : req->items) {
        if (!v.Find(r.text)) return false;
      }
    }
    const JsonValue* extra = s.Find("additionalProperties");
    for (const auto& [k, x] : v.members) {
      const JsonValue* ps = props ? props->Find(k) : nullptr;
      if (ps) {
        if (!Validate(x, *ps)) return false;
      } else if (extra && extra->kind == VK::kBool && !extra->boolean) {
        return false;
      }
    }
  }
  if (v.kind == VK::kArray) {
    if (const JsonValue* items = s.Find("items")) {
      for (const auto& x : v.items) {
        if (!Validate(x, *items)) return false;
      }
    }
  }
  return true;
}

// ---- token level over the llama3 vocabulary ----

struct Vocab {
  std::unique_ptr<tok::Tokenizer> tok;
  std::shared_ptr<const TokenTrie> trie;
  std::vector<int32_t> eog;
};

const Vocab& Llama3() {
  static Vocab* v = [] {
    auto* out = new Vocab;
    auto spec = tok::LoadTokenizerSpec(CACHET_SAMPLING_TEST_SHARED_DIR "/tokenizers/llama3");
    if (!spec.ok()) return out;
    auto t = tok::Tokenizer::Create(*spec);
    if (!t.ok()) return out;
    out->tok = std::move(t).value();
    std::vector<std::string> bytes;
    std::vector<int32_t> excluded;
    for (int32_t id = 0; id < out->tok->n_vocab(); ++id) {
      bytes.push_back(out->tok->TokenBytes(id));
      if (out->tok->spec().token_types[id] == tok::TokenType::kControl) excluded.push_back(id);
    }
    out->trie = std::make_shared<TokenTrie>(std::move(bytes), excluded);
    out->eog = out->tok->eog_ids();
    return out;
  }();
  return *v;
}

// Draws one allowed token: uniform over the mask, except that with a probability growing with
// the step it prefers a token that closes something (", }, ], end of generation), so outputs
// end within the budget.
int32_t Draw(const std::vector<uint8_t>& mask, const Vocab& v, int step, Rng* rng) {
  std::vector<int32_t> allowed, closers;
  for (int32_t id = 0; id < static_cast<int32_t>(mask.size()); ++id) {
    if (!mask[id]) continue;
    allowed.push_back(id);
    const std::string& b = v.trie->bytes(id);
    bool eog = std::find(v.eog.begin(), v.eog.end(), id) != v.eog.end();
    if (eog || b == "\"" || b == "}" || b == "]" || b == "\"}" || b == "]}" || b == "}]") {
      closers.push_back(id);
    }
  }
  double p_close = std::min(0.95, step / 40.0);
  double u = static_cast<double>(rng->NextU64() >> 11) / 9007199254740992.0;
  const auto& pool = (!closers.empty() && u < p_close) ? closers : allowed;
  return pool[rng->NextU64() % pool.size()];
}

struct Generated {
  std::string text;
  bool complete = false;
};

Generated Generate(std::shared_ptr<const JsonGrammar> g, const Vocab& v, uint64_t seed) {
  JsonTokenConstraint c(std::move(g), v.trie, v.eog);
  std::vector<uint8_t> mask(v.tok->n_vocab());
  Rng rng(seed);
  Generated out;
  for (int step = 0; step < 300; ++step) {
    std::fill(mask.begin(), mask.end(), 1);
    if (!c.Allowed(mask)) break;
    int32_t id = Draw(mask, v, step, &rng);
    bool eog = std::find(v.eog.begin(), v.eog.end(), id) != v.eog.end();
    if (eog) {
      out.complete = c.Complete();
      return out;
    }
    out.text += v.trie->bytes(id);
    c.Accept(id);
    if (c.Done()) {
      out.complete = c.Complete();
      return out;
    }
  }
  return out;
}

const char* const kSchemas[] = {
    "json_object",
    R"({"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},
        "score":{"type":"number"},"ok":{"type":"boolean"}},"required":["name","ok"],
        "additionalProperties":false})",
    R"({"type":"object","properties":{"items":{"type":"array","items":{"type":"object",
        "properties":{"id":{"type":"integer"},"kind":{"enum":["a","b","c d",3,null]}},
        "required":["id","kind"]}},"note":{"type":["string","null"]}},"required":["items"]})",
    R"({"type":"object","properties":{"v":{"anyOf":[{"type":"number"},{"type":"string"},
        {"type":"object","properties":{"x":{"const":"fixed"}},"required":["x"]},{"type":"null"}]},
        "any":{},"arr":{"type":"array"}},"required":["v","any","arr"]})",
    R"({"type":"number"})",
};

TEST(JsonTokenConstraint, RandomSamplingOnLlama3ProducesValidJson) {
  const Vocab& v = Llama3();
  ASSERT_NE(v.tok, nullptr) << "llama3 tokenizer not found under ../shared/tokenizers";
  std::string lines;
  int total_complete = 0;
  for (const char* schema : kSchemas) {
    bool object_mode = std::string(schema) == "json_object";
    auto g = std::make_shared<const JsonGrammar>(object_mode ? JsonObjectGrammar()
                                                             : MustCompile(schema));
    auto parsed_schema = object_mode ? ParseJson(R"({"type":"object"})") : ParseJson(schema);
    ASSERT_TRUE(parsed_schema.ok());
    int complete = 0;
    const int kSeeds = 12;
    for (uint64_t seed = 1; seed <= kSeeds; ++seed) {
      Generated out = Generate(g, v, seed * 7919 + 13);
      if (!out.complete) continue;
      ++complete;
      auto parsed = ParseJson(out.text);
      ASSERT_TRUE(parsed.ok()) << schema << "\n" << out.text << "\n" << parsed.status().ToString();
      EXPECT_TRUE(Validate(*parsed, *parsed_schema)) << schema << "\n" << out.text;
      EXPECT_EQ(out.text.find_first_of("\n\r\t"), std::string::npos);  // no whitespace, no raw
      lines += out.text + "\n";
    }
    // The closing bias makes almost every run finish within its budget.
    EXPECT_GE(complete, kSeeds * 3 / 4) << schema;
    total_complete += complete;
  }
  // Second, independent parser: Python's json module (strict UTF-8 decoding).
  std::string path = ::testing::TempDir() + "/json_constraint_outputs.txt";
  {
    std::ofstream f(path, std::ios::binary);
    f << lines;
  }
  std::string cmd =
      "/usr/bin/python3 -c \"import json,sys\n"
      "n=0\n"
      "for l in open(sys.argv[1],'rb').read().split(b'\\n')[:-1]:\n"
      "  json.loads(l.decode('utf-8')); n+=1\n"
      "print(n)\" " +
      path;
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[64] = {};
  size_t got = fread(buf, 1, sizeof(buf) - 1, p);
  int rc = pclose(p);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(std::string(buf, got), std::to_string(total_complete) + "\n");
}

TEST(JsonTokenConstraint, MaskMatchesByteMatcherOnEveryToken) {
  // Brute force reference: a token is allowed iff feeding its bytes to a copy of the matcher
  // succeeds (end-of-generation: iff the value can end).
  const Vocab& v = Llama3();
  ASSERT_NE(v.tok, nullptr);
  auto g = std::make_shared<const JsonGrammar>(MustCompile(kSchemas[2]));
  for (const char* prefix : {"", R"({"items":[{"id":1)", R"({"items":[{"id":12,"kind":"c)",
                             R"({"items":[],"note":"h\u00)", R"({"items":[],"note":"hello wor)",
                             R"({"items":[{"id":3,"kind":"a)"}) {
    JsonTokenConstraint c(g, v.trie, v.eog);
    JsonMatcher ref(g.get());
    ASSERT_TRUE(ref.FeedAll(prefix));
    for (int32_t id : v.tok->Encode(prefix, false, false)) c.Accept(id);
    ASSERT_FALSE(c.Done()) << prefix;
    std::vector<uint8_t> mask(v.tok->n_vocab(), 1);
    ASSERT_TRUE(c.Allowed(mask));
    int n_allowed = 0;
    for (int32_t id = 0; id < v.tok->n_vocab(); ++id) {
      bool eog = std::find(v.eog.begin(), v.eog.end(), id) != v.eog.end();
      bool want;
      if (eog) {
        want = ref.CanEnd();
      } else if (!v.trie->usable(id)) {
        want = false;
      } else {
        JsonMatcher m = ref;
        want = m.FeedAll(v.trie->bytes(id));
      }
      ASSERT_EQ(mask[id] != 0, want)
          << prefix << " token " << id << " '" << v.trie->bytes(id) << "'";
      n_allowed += want;
    }
    EXPECT_GT(n_allowed, 0);
  }
}

TEST(JsonTokenConstraint, EndOfGenerationOnlyWhenComplete) {
  const Vocab& v = Llama3();
  ASSERT_NE(v.tok, nullptr);
  auto g = std::make_shared<const JsonGrammar>(MustCompile(R"({"type":"integer"})"));
  JsonTokenConstraint c(g, v.trie, v.eog);
  std::vector<uint8_t> mask(v.tok->n_vocab(), 1);
  ASSERT_TRUE(c.Allowed(mask));
  for (int32_t id : v.eog) EXPECT_EQ(mask[id], 0);
  for (int32_t id : v.tok->Encode("42", false, false)) c.Accept(id);
  std::fill(mask.begin(), mask.end(), 1);
  ASSERT_TRUE(c.Allowed(mask));
  for (int32_t id : v.eog) EXPECT_EQ(mask[id], 1);
  EXPECT_EQ(mask[v.tok->Encode(".", false, false)[0]], 0);  // integer: no fraction
  c.Accept(v.eog[0]);
  EXPECT_TRUE(c.Done());
}

}  // namespace
}  // namespace cachet::sampling
