// Forced tool calls per model family over the real vocabularies (../shared/tokenizers): the
// grammar accepts exactly the family's call syntax with schema-valid arguments (marker tokens as
// tokens, the rest in any tokenization), and what it accepts is what the family's output parser
// (tokenizer/parsers) turns into a tool call.
#include "api/forced_tool_call.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>

#include "api/json_constraint.h"
#include "tokenizer/parsers/output_parser.h"
#include "tokenizer/vocab.h"

namespace cachet::api {
namespace {

using nlohmann::json;
using parsers::ToolCallFormat;

std::shared_ptr<const tok::Tokenizer> LoadTok(const std::string& name) {
  static std::map<std::string, std::shared_ptr<const tok::Tokenizer>> cache;
  auto it = cache.find(name);
  if (it != cache.end()) return it->second;
  auto spec = tok::LoadTokenizerSpec(CACHET_API_TEST_SHARED_DIR "/tokenizers/" + name);
  EXPECT_TRUE(spec.ok()) << spec.status().ToString();
  if (!spec.ok()) return nullptr;
  auto t = tok::Tokenizer::Create(*spec);
  EXPECT_TRUE(t.ok());
  if (!t.ok()) return nullptr;
  return cache[name] = std::shared_ptr<const tok::Tokenizer>(std::move(*t));
}

// Two tools, no free-form strings (so a random walk ends quickly): enums, integers, booleans, a
// nested object, an optional property.
const char* kWeatherSchema =
    R"({"type":"object","properties":{"unit":{"enum":["celsius","fahrenheit"]},
        "days":{"type":"integer"},"hourly":{"type":"boolean"},
        "where":{"type":"object","properties":{"zone":{"enum":["eu","us"]}},"required":["zone"]}},
        "required":["unit","days"]})";

std::vector<ForcedTool> Tools() {
  std::vector<ForcedTool> out;
  for (auto [name, schema] : {std::pair{"get_weather", kWeatherSchema},
                              std::pair{"get", R"({"type":"object","properties":{
                                  "n":{"type":"integer"}},"required":["n"]})"}}) {
    ToolDefinition d{name, "", schema};
    ForcedTool t;
    EXPECT_FALSE(CompileForcedTool(d, "name", "parameters", &t).has_value());
    out.push_back(t);
  }
  return out;
}

struct Family {
  const char* tokenizer;
  ToolCallFormat format;
  std::string (*call)(const std::string& name, const std::string& args);
};

std::string DeepSeekV3(const std::string& n, const std::string& a) {
  return "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>" + n + "\n```json\n" +
         a + "\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>";
}
std::string DeepSeekV31(const std::string& n, const std::string& a) {
  return "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>" + n + "<｜tool▁sep｜>" + a +
         "<｜tool▁call▁end｜><｜tool▁calls▁end｜>";
}
std::string Qwen(const std::string& n, const std::string& a) {
  return "<tool_call>\n{\"name\": \"" + n + "\", \"arguments\": " + a + "}\n</tool_call>";
}
std::string Llama31(const std::string& n, const std::string& a) {
  return "{\"name\": \"" + n + "\", \"parameters\": " + a + "}";
}

const Family kFamilies[] = {
    {"deepseek-v3", ToolCallFormat::kDeepSeekV3, DeepSeekV3},
    {"deepseek-v3", ToolCallFormat::kDeepSeekV31, DeepSeekV31},
    {"qwen3", ToolCallFormat::kQwen, Qwen},
    {"llama3", ToolCallFormat::kLlama31, Llama31},
};

class ForcedToolFamilyTest : public ::testing::TestWithParam<Family> {
 protected:
  void SetUp() override {
    tok_ = LoadTok(GetParam().tokenizer);
    ASSERT_NE(tok_, nullptr);
    auto g = ForcedToolCallGrammar(GetParam().format, *tok_, Tools(), false);
    ASSERT_TRUE(g.ok()) << g.status().ToString();
    grammar_ = std::make_shared<const sampling::ToolCallGrammar>(std::move(g).value());
  }
  sampling::ToolCallTokenConstraint Constraint() {
    return sampling::ToolCallTokenConstraint(grammar_, VocabTrie(tok_), tok_->eog_ids());
  }
  // Drives the constraint with `ids`; true when every one was allowed. *done: complete after.
  bool Drive(const std::vector<int32_t>& ids, bool* done) {
    auto c = Constraint();
    std::vector<uint8_t> mask(tok_->n_vocab());
    for (int32_t id : ids) {
      std::fill(mask.begin(), mask.end(), 1);
      if (!c.Allowed(mask) || !mask[id]) return false;
      c.Accept(id);
    }
    *done = c.Done();
    return true;
  }
  bool Accepts(const std::string& text, bool parse_special = true) {
    bool done = false;
    return Drive(tok_->Encode(text, false, parse_special), &done) && done;
  }
  std::vector<parsers::OutputEvent> Parse(const std::string& text) {
    parsers::OutputParserConfig c;
    c.tools = GetParam().format;
    parsers::OutputParser p(c);
    std::vector<parsers::OutputEvent> ev;
    p.Feed(text, &ev);
    p.Finish(&ev);
    return ev;
  }
  std::shared_ptr<const tok::Tokenizer> tok_;
  std::shared_ptr<const sampling::ToolCallGrammar> grammar_;
};

TEST_P(ForcedToolFamilyTest, AcceptsValidCallsThatTheParserReadsBack) {
  const auto call = GetParam().call;
  const std::pair<std::string, std::string> valid[] = {
      {"get_weather", R"({"unit":"celsius","days":3})"},
      {"get_weather", R"({"unit":"fahrenheit","days":-10,"hourly":true,"where":{"zone":"us"}})"},
      {"get", R"({"n":0})"},
  };
  for (const auto& [name, args] : valid) {
    const std::string text = call(name, args);
    EXPECT_TRUE(Accepts(text)) << text;
    auto ev = Parse(text);
    ASSERT_EQ(ev.size(), 3u) << text;  // start, arguments, end
    EXPECT_EQ(ev[0].kind, parsers::OutputEvent::Kind::kToolCallStart);
    EXPECT_EQ(ev[0].tool_name, name);
    EXPECT_EQ(ev[1].text, args);
  }
  // Another tokenization of the same bytes is just as good (markers aside): byte by byte.
  const std::string text = call("get", R"({"n":12})");
  std::vector<int32_t> ids;
  for (int32_t id : tok_->Encode(text, false, true)) {
    const std::string& b = tok_->TokenBytes(id);
    bool marker = id >= 0 && tok_->spec().token_types[id] != tok::TokenType::kNormal;
    if (marker || b.size() == 1) {
      ids.push_back(id);
      continue;
    }
    for (char c : b) {  // each byte as the token of that single byte
      auto one = tok_->Encode(std::string(1, c), false, false);
      ASSERT_EQ(one.size(), 1u);
      ids.push_back(one[0]);
    }
  }
  bool done = false;
  EXPECT_TRUE(Drive(ids, &done));
  EXPECT_TRUE(done);
}

TEST_P(ForcedToolFamilyTest, RejectsInvalidCalls) {
  const auto call = GetParam().call;
  const std::string invalid[] = {
      call("get_time", R"({"n":1})"),                        // not an offered tool
      call("get_weather", R"({"unit":"kelvin","days":3})"),  // not in the enum
      call("get_weather", R"({"days":3})"),                  // required property missing
      call("get", R"({"n":"1"})"),                           // wrong type
      call("get", R"({"n":1,"m":2})"),                       // unknown property
      call("get", R"({"n": 1})"),                            // not compact
      call("get", R"([1])"),                                 // not an object
      "Sure! " + call("get", R"({"n":1})"),                  // text before the call
      call("get", R"({"n":1})") + "\nDone.",                 // text after the call
  };
  for (const std::string& text : invalid) EXPECT_FALSE(Accepts(text)) << text;
  // Markers written as their text (not the marker tokens) are refused where the vocabulary has
  // them as tokens.
  const std::string text = call("get", R"({"n":1})");
  auto special = tok_->Encode(text, false, true), plain = tok_->Encode(text, false, false);
  if (special != plain) EXPECT_FALSE(Accepts(text, /*parse_special=*/false));
}

// The value of "key" in compact JSON `args` is an integer literal (by its text: a long one does
// not fit nlohmann's integers).
bool IsInteger(const std::string& args, const std::string& key) {
  return std::regex_search(args, std::regex("\"" + key + "\":-?(0|[1-9][0-9]*)[,}]"));
}

// A random walk over the allowed tokens always ends in a complete call that the parser reads
// back, naming an offered tool, with arguments valid under its schema (checked here by hand).
TEST_P(ForcedToolFamilyTest, RandomWalksEndInSchemaValidCalls) {
  std::mt19937 rng(7);
  std::vector<uint8_t> mask(tok_->n_vocab());
  for (int run = 0; run < 6; ++run) {
    auto c = Constraint();
    std::vector<int32_t> ids;
    while (!c.Done() && ids.size() < 400) {
      std::fill(mask.begin(), mask.end(), 1);
      ASSERT_TRUE(c.Allowed(mask));
      std::vector<int32_t> ok;
      for (int32_t i = 0; i < tok_->n_vocab(); ++i) {
        if (mask[i]) ok.push_back(i);
      }
      int32_t id = ok[rng() % ok.size()];
      c.Accept(id);
      ids.push_back(id);
    }
    ASSERT_TRUE(c.Done()) << tok_->Decode(ids);
    std::string text;
    for (int32_t id : ids) text += tok_->TokenBytes(id);
    auto ev = Parse(text);
    ASSERT_EQ(ev.size(), 3u) << text;
    const std::string& name = ev[0].tool_name;
    json args = json::parse(ev[1].text);
    ASSERT_TRUE(args.is_object()) << text;
    if (name == "get") {
      ASSERT_TRUE(args.contains("n") && IsInteger(ev[1].text, "n")) << text;
      EXPECT_EQ(args.size(), 1u);
    } else {
      ASSERT_EQ(name, "get_weather") << text;
      ASSERT_TRUE(args.contains("unit") && args.contains("days")) << text;
      EXPECT_TRUE(args["unit"] == "celsius" || args["unit"] == "fahrenheit") << text;
      EXPECT_TRUE(IsInteger(ev[1].text, "days")) << text;
      if (args.contains("hourly")) EXPECT_TRUE(args["hourly"].is_boolean()) << text;
      if (args.contains("where"))
        EXPECT_TRUE(args["where"]["zone"] == "eu" || args["where"]["zone"] == "us") << text;
    }
  }
}

std::string FamilyName(const ::testing::TestParamInfo<Family>& info) {
  switch (info.param.format) {
    case ToolCallFormat::kDeepSeekV3:
      return "DeepSeekV3";
    case ToolCallFormat::kDeepSeekV31:
      return "DeepSeekV31";
    case ToolCallFormat::kQwen:
      return "Qwen";
    default:
      return "Llama31";
  }
}

INSTANTIATE_TEST_SUITE_P(Families, ForcedToolFamilyTest, ::testing::ValuesIn(kFamilies),
                         FamilyName);

TEST(ForcedToolCall, MarkersThatAreSingleTokensBecomeTokenUnits) {
  auto ds = LoadTok("deepseek-v3");
  ASSERT_NE(ds, nullptr);
  auto g = ForcedToolCallGrammar(ToolCallFormat::kDeepSeekV31, *ds, {Tools()[1]}, false);
  ASSERT_TRUE(g.ok());
  const auto& head = g->alts[0].head;
  ASSERT_GE(head.size(), 3u);
  EXPECT_EQ(head[0], sampling::kTokenUnit + ds->Encode("<｜tool▁calls▁begin｜>", false, true)[0]);
  EXPECT_EQ(head[2], 'g');  // the name, as bytes
  auto q = LoadTok("qwen3");
  ASSERT_NE(q, nullptr);
  auto gq =
      ForcedToolCallGrammar(ToolCallFormat::kQwen, *q, {Tools()[1]}, /*close_reasoning=*/true);
  ASSERT_TRUE(gq.ok());
  // </think> is a token of the Qwen3 vocabulary; then "\n\n", then <tool_call>.
  EXPECT_EQ(gq->alts[0].head[0], sampling::kTokenUnit + q->Encode("</think>", false, true)[0]);
  EXPECT_EQ(gq->alts[0].head[1], '\n');
  EXPECT_EQ(gq->alts[0].head[3], sampling::kTokenUnit + q->Encode("<tool_call>", false, true)[0]);
  EXPECT_FALSE(ForcedToolCallGrammar(ToolCallFormat::kNone, *q, Tools(), false).ok());
}

TEST(ForcedToolCall, CompileRefusesBadNamesAndNonObjectSchemas) {
  ForcedTool t;
  auto e = CompileForcedTool({"bad name", "", "{}"}, "tools[0].name", "tools[0].input_schema", &t);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->param, "tools[0].name");
  e = CompileForcedTool({"f", "", R"({"type":"string"})"}, "n", "tools[1].function.parameters", &t);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->param, "tools[1].function.parameters");
  e = CompileForcedTool({"f", "", R"({"type":"object","properties":{"a":{"$ref":"#/x"}}})"}, "n",
                        "p", &t);
  ASSERT_TRUE(e.has_value());
  EXPECT_NE(e->message.find("p.properties.a"), std::string::npos) << e->message;
  EXPECT_FALSE(CompileForcedTool({"f.g:h-1_2", "", "{}"}, "n", "p", &t).has_value());
  EXPECT_FALSE(CompileForcedTool({"f", "", R"({"type":"object"})"}, "n", "p", &t).has_value());
}

}  // namespace
}  // namespace cachet::api
