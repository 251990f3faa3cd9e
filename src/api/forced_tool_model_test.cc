// Forced tool calls end to end on synthetic random-weight models (model/synthetic.h) served by the
// real engine, with the real tokenizers and chat templates of each family (../shared/tokenizers):
// whatever the random model would write, the reply is one parsed tool call of an offered tool
// whose arguments validate against its schema, through both protocols.
//   qwen3-tiny + qwen3 tokenizer: Qwen syntax (the template's own <tool_call>)
//   ds2-tiny + deepseek-v3 tokenizer: DeepSeek V3 syntax, its markers as the vocabulary's tokens
//   llama-tiny + llama3 tokenizer: Llama 3.1 JSON syntax
// (the shared DeepSeek V3 and Llama 3 templates render no tools section, so those two entries
// use the ChatML template and set the syntax explicitly).
// The schemas have no free-form strings: a random model rarely closes a string, and the test
// must end in a bounded number of steps.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>

#include "api/anthropic/anthropic.h"
#include "api/model_output_parser.h"
#include "api/openai/openai.h"
#include "engine/create_engine.h"
#include "model/model.h"
#include "model/synthetic.h"
#include "tokenizer/vocab.h"
#ifdef CACHET_API_HAS_JINJA
#include "api/jinja_chat_template.h"
#endif

namespace cachet::api {
namespace {

using nlohmann::json;

struct Case {
  const char* preset;
  const char* tokenizer;
  // The tokenizer's chat template renders tools; else ChatML (which lists the tools as text) and
  // the syntax set explicitly, with the parser of a template that has that syntax's markers.
  bool own_template;
  parsers::ToolCallFormat format;
  const char* marker_template;
};

const Case kCases[] = {
    {"qwen3-tiny", "qwen3", true, parsers::ToolCallFormat::kNone, ""},
    {"ds2-tiny", "deepseek-v3", false, parsers::ToolCallFormat::kDeepSeekV3,
     "<｜tool▁call▁begin｜>```json"},
    {"llama-tiny", "llama3", false, parsers::ToolCallFormat::kLlama31, "<|python_tag|>"},
};

std::string CaseName(const ::testing::TestParamInfo<Case>& info) {
  std::string s = info.param.preset;
  std::replace(s.begin(), s.end(), '-', '_');
  return s;
}

const char* kTools = R"([
  {"type":"function","function":{"name":"get_weather","parameters":{"type":"object",
    "properties":{"unit":{"enum":["celsius","fahrenheit"]},"days":{"type":"integer"},
    "hourly":{"type":"boolean"}},"required":["unit","days"]}}},
  {"type":"function","function":{"name":"get_time","parameters":{"type":"object",
    "properties":{"zone":{"enum":["utc","local"]}},"required":["zone"]}}}])";

// The arguments are valid for `name` (schemas above; checked on the text, so that integers of
// any length count).
void ExpectValid(const std::string& name, const std::string& args) {
  json a = json::parse(args, nullptr, false);
  ASSERT_TRUE(a.is_object()) << args;
  if (name == "get_time") {
    EXPECT_EQ(a.size(), 1u) << args;
    EXPECT_TRUE(a["zone"] == "utc" || a["zone"] == "local") << args;
    return;
  }
  ASSERT_EQ(name, "get_weather");
  EXPECT_TRUE(a["unit"] == "celsius" || a["unit"] == "fahrenheit") << args;
  EXPECT_TRUE(std::regex_search(args, std::regex("\"days\":-?(0|[1-9][0-9]*)[,}]"))) << args;
  if (a.contains("hourly")) EXPECT_TRUE(a["hourly"].is_boolean()) << args;
  for (auto& [k, v] : a.items()) EXPECT_TRUE(k == "unit" || k == "days" || k == "hourly") << k;
}

class ForcedToolModelTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    const Case& c = GetParam();
    auto spec = tok::LoadTokenizerSpec(CACHET_API_TEST_SHARED_DIR "/tokenizers/" +
                                       std::string(c.tokenizer));
    ASSERT_TRUE(spec.ok()) << spec.status().ToString();
    auto t = tok::Tokenizer::Create(*spec);
    ASSERT_TRUE(t.ok());
    ModelEntry e;
    e.name = "m";
    e.tokenizer = std::shared_ptr<const tok::Tokenizer>(std::move(*t));
    const std::string& src = e.tokenizer->spec().chat_template;
    if (c.own_template) {
#ifdef CACHET_API_HAS_JINJA
      auto tpl = MakeJinjaChatTemplate(src, e.tokenizer->TokenText(e.tokenizer->bos_id()),
                                       e.tokenizer->TokenText(e.tokenizer->eos_id()));
      ASSERT_TRUE(tpl.ok()) << tpl.status().ToString();
      e.chat_template = std::move(*tpl);
#else
      GTEST_SKIP() << "no chat-template interpreter in this build";
#endif
      e.make_parser = ModelOutputParserFactory(src);
    } else {
      e.chat_template = MakeChatMlTemplate();
      e.tool_format = c.format;
      e.make_parser = ModelOutputParserFactory(c.marker_template);
    }
    auto sm = model::MakeSyntheticModel(*model::FindPreset(c.preset), DType::kF32, 11,
                                        e.tokenizer->n_vocab(), nullptr);
    ASSERT_TRUE(sm.ok()) << sm.status().ToString();
    auto m = model::LoadModel(
        std::shared_ptr<const model::ModelFile>(model::InMemoryModelFile(std::move(sm).value())));
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    engine::EngineConfig ec;
    ec.model_name = "m";
    ec.kv_budget_bytes = int64_t{16} << 20;
    ec.n_ctx = 2048;
    ec.threads = 2;
    ec.seed = 5;
    ec.prefix_cache = false;
    auto eng = engine::CreateEngine(std::shared_ptr<model::Model>(std::move(*m)), ec);
    ASSERT_TRUE(eng.ok()) << eng.status().ToString();
    e.engine = std::shared_ptr<engine::Engine>(std::move(*eng));
    ASSERT_TRUE(registry_.Add(e).ok());
    ctx_.models = &registry_;
  }
  void TearDown() override {
    if (!registry_.models().empty()) {
      registry_.models()[0]->engine->Shutdown(std::chrono::milliseconds(0));
    }
  }
  ApiCall Call(const json& body) {
    ApiCall c;
    c.body = body.dump();
    c.header = [](const std::string&) { return std::string(); };
    return c;
  }
  ModelRegistry registry_;
  ApiContext ctx_;
};

TEST_P(ForcedToolModelTest, OpenAIRequiredAndNamedGiveValidCalls) {
  json tools = json::parse(kTools);
  json choices[] = {
      "required", {{"type", "function"}, {"function", {{"name", "get_time"}}}}, "required"};
  int seed = 1;
  for (const json& choice : choices) {
    json body = {{"model", "m"},
                 {"messages", {{{"role", "user"}, {"content", "What is the weather?"}}}},
                 {"tools", tools},
                 {"tool_choice", choice},
                 {"max_tokens", 300},
                 {"seed", seed++}};
    ApiReply r = openai::ChatCompletions(ctx_, Call(body));
    ASSERT_EQ(r.status, 200) << r.body;
    json j = json::parse(r.body);
    const json& msg = j["choices"][0]["message"];
    ASSERT_EQ(msg["tool_calls"].size(), 1u) << j.dump();
    EXPECT_EQ(j["choices"][0]["finish_reason"], "tool_calls");
    EXPECT_EQ(msg["content"], "") << j.dump();
    const std::string name = msg["tool_calls"][0]["function"]["name"];
    if (choice.is_object()) EXPECT_EQ(name, "get_time");
    ExpectValid(name, msg["tool_calls"][0]["function"]["arguments"]);
  }
}

TEST_P(ForcedToolModelTest, AnthropicAnyGivesToolUse) {
  json tools = json::array();
  for (const json& t : json::parse(kTools)) {
    tools.push_back(
        {{"name", t["function"]["name"]}, {"input_schema", t["function"]["parameters"]}});
  }
  json body = {{"model", "m"},
               {"max_tokens", 300},
               {"messages", {{{"role", "user"}, {"content", "Weather?"}}}},
               {"tools", tools},
               {"tool_choice", {{"type", "any"}}}};
  ApiReply r = anthropic::Messages(ctx_, Call(body));
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  ASSERT_EQ(j["content"].size(), 1u) << j.dump();
  EXPECT_EQ(j["content"][0]["type"], "tool_use");
  EXPECT_EQ(j["stop_reason"], "tool_use");
  ExpectValid(j["content"][0]["name"], j["content"][0]["input"].dump());
}

INSTANTIATE_TEST_SUITE_P(Presets, ForcedToolModelTest, ::testing::ValuesIn(kCases), CaseName);

}  // namespace
}  // namespace cachet::api
