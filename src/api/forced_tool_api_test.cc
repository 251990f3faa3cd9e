// tool_choice that forces a call (OpenAI "required" / named, Anthropic any / tool): the request
// reaches the engine with a constraint that accepts exactly a call of the allowed tools in the
// model's syntax; the call comes back as tool_calls / tool_use, streaming and not; everything
// that cannot be forced is a 400 naming the field.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api/anthropic/anthropic.h"
#include "api/openai/openai.h"
#include "api/testing/api_fixture.h"

#ifdef CACHET_API_HAS_PARSERS
#include "api/model_output_parser.h"

namespace cachet::api {
namespace {

using nlohmann::json;

const char* kCall =
    "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\":\"Paris\",\"days\":2}}\n"
    "</tool_call>";

class ForcedToolApiTest : public testing::ApiFixture {
 protected:
  // The fake model speaks Qwen's tool-call syntax; `reply` is what its engine plays back.
  void InitQwen(const std::string& reply, bool with_format = true) {
    registry_ = ModelRegistry();
    Init(reply);
    registry_ = ModelRegistry();
    model_.entry.make_parser = QwenStyleParserFactory();
    if (with_format) model_.entry.tool_format = parsers::ToolCallFormat::kQwen;
    ASSERT_TRUE(registry_.Add(model_.entry).ok());
  }
  static json OpenAITools() {
    return json::parse(R"([
      {"type":"function","function":{"name":"get_weather","parameters":{"type":"object",
        "properties":{"city":{"type":"string"},"days":{"type":"integer"}},"required":["city"]}}},
      {"type":"function","function":{"name":"get_time","parameters":{"type":"object",
        "properties":{"zone":{"enum":["utc","local"]}},"required":["zone"]}}}])");
  }
  static json AnthropicTools() {
    json out = json::array();
    for (const json& t : OpenAITools()) {
      out.push_back(
          {{"name", t["function"]["name"]}, {"input_schema", t["function"]["parameters"]}});
    }
    return out;
  }
  static json Chat(json extra) {
    json body = {{"model", "fake"},
                 {"messages", {{{"role", "user"}, {"content", "Weather?"}}}},
                 {"tools", OpenAITools()}};
    for (auto& [k, v] : extra.items()) body[k] = v;
    return body;
  }
  static json Msg(json extra) {
    json body = {{"model", "fake"},
                 {"max_tokens", 500},
                 {"messages", {{{"role", "user"}, {"content", "Weather?"}}}},
                 {"tools", AnthropicTools()}};
    for (auto& [k, v] : extra.items()) body[k] = v;
    return body;
  }
  // Feeds `text`'s tokens to the constraint the last request carried; true when all were
  // allowed and the constraint is then complete.
  bool LastConstraintAccepts(const std::string& text) {
    auto c = model_.engine->last_request().constraint;
    if (c == nullptr) return false;
    const tok::Tokenizer& t = *model_.entry.tokenizer;
    std::vector<uint8_t> mask(t.n_vocab());
    for (int32_t id : t.Encode(text, false, false)) {
      std::fill(mask.begin(), mask.end(), 1);
      if (!c->Allowed(mask) || !mask[id]) return false;
      c->Accept(id);
    }
    return c->Done();
  }
  void ExpectOpenAIError(const json& body, const std::string& param) {
    ApiReply r = openai::ChatCompletions(ctx_, Call(body));
    EXPECT_EQ(r.status, 400) << body.dump();
    EXPECT_EQ(Body(r)["error"]["param"], param) << r.body;
  }
  void ExpectAnthropicError(const json& body, const std::string& param) {
    ApiReply r = anthropic::Messages(ctx_, Call(body));
    EXPECT_EQ(r.status, 400) << body.dump();
    EXPECT_EQ(Body(r)["error"]["type"], "invalid_request_error") << r.body;
    EXPECT_NE(Body(r)["error"]["message"].get<std::string>().find(param), std::string::npos)
        << r.body;
  }
};

TEST_F(ForcedToolApiTest, OpenAIRequiredForcesACallOfAnyTool) {
  InitQwen(kCall);
  ApiReply r = openai::ChatCompletions(ctx_, Call(Chat({{"tool_choice", "required"}})));
  ASSERT_EQ(r.status, 200) << r.body;
  json j = Body(r);
  ASSERT_EQ(j["choices"][0]["message"]["tool_calls"].size(), 1u) << j.dump();
  const json& tc = j["choices"][0]["message"]["tool_calls"][0];
  EXPECT_EQ(tc["function"]["name"], "get_weather");
  EXPECT_EQ(json::parse(tc["function"]["arguments"].get<std::string>())["days"], 2);
  EXPECT_EQ(j["choices"][0]["finish_reason"], "tool_calls");
  EXPECT_TRUE(LastConstraintAccepts(kCall));
  // Each request gets a fresh constraint: the other tool is just as acceptable...
  ASSERT_EQ(openai::ChatCompletions(ctx_, Call(Chat({{"tool_choice", "required"}}))).status, 200);
  EXPECT_TRUE(LastConstraintAccepts(
      "<tool_call>\n{\"name\": \"get_time\", \"arguments\": {\"zone\":\"utc\"}}\n</tool_call>"));
  // ... but not text, a call with invalid arguments, or an unknown tool.
  for (const char* bad :
       {"Sure", "<tool_call>\n{\"name\": \"get_time\", \"arguments\": {\"zone\":\"mars\"}}",
        "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"days\":2}}",
        "<tool_call>\n{\"name\": \"get_date\""}) {
    ASSERT_EQ(openai::ChatCompletions(ctx_, Call(Chat({{"tool_choice", "required"}}))).status, 200);
    EXPECT_FALSE(LastConstraintAccepts(bad)) << bad;
  }
}

TEST_F(ForcedToolApiTest, OpenAINamedToolStreamed) {
  InitQwen(kCall);
  json named = {{"type", "function"}, {"function", {{"name", "get_weather"}}}};
  auto sink =
      Stream(openai::ChatCompletions(ctx_, Call(Chat({{"tool_choice", named}, {"stream", true}}))));
  std::string name, args, finish;
  for (const std::string& line : sink.DataLines()) {
    if (line == "[DONE]") break;
    json c = json::parse(line);
    if (c["choices"].empty()) continue;
    const json& d = c["choices"][0]["delta"];
    if (d.contains("tool_calls")) {
      name = d["tool_calls"][0]["function"]["name"];
      args += d["tool_calls"][0]["function"]["arguments"].get<std::string>();
    }
    if (!c["choices"][0]["finish_reason"].is_null()) finish = c["choices"][0]["finish_reason"];
  }
  EXPECT_EQ(name, "get_weather");
  EXPECT_EQ(json::parse(args)["city"], "Paris");
  EXPECT_EQ(finish, "tool_calls");
  // Named: only that tool.
  ASSERT_EQ(openai::ChatCompletions(ctx_, Call(Chat({{"tool_choice", named}}))).status, 200);
  EXPECT_FALSE(LastConstraintAccepts(
      "<tool_call>\n{\"name\": \"get_time\", \"arguments\": {\"zone\":\"utc\"}}\n</tool_call>"));
  ASSERT_EQ(openai::ChatCompletions(ctx_, Call(Chat({{"tool_choice", named}}))).status, 200);
  EXPECT_TRUE(LastConstraintAccepts(kCall));
  // auto / none / no tool_choice: no constraint.
  for (json choice : {json("auto"), json("none"), json(nullptr)}) {
    ASSERT_EQ(openai::ChatCompletions(ctx_, Call(Chat({{"tool_choice", choice}}))).status, 200);
    EXPECT_EQ(model_.engine->last_request().constraint, nullptr) << choice.dump();
  }
}

TEST_F(ForcedToolApiTest, OpenAIErrorsNameTheField) {
  InitQwen(kCall);
  ExpectOpenAIError(
      Chat({{"tool_choice", {{"type", "function"}, {"function", {{"name", "nope"}}}}}}),
      "tool_choice.function.name");
  ExpectOpenAIError(Chat({{"tool_choice", "sometimes"}}), "tool_choice");
  ExpectOpenAIError(Chat({{"tool_choice", {{"type", "function"}, {"function", {{"name", ""}}}}}}),
                    "tool_choice.function.name");
  ExpectOpenAIError(Chat({{"tool_choice", {{"type", "function"}}}}), "tool_choice");
  json no_tools = Chat({{"tool_choice", "required"}});
  no_tools.erase("tools");
  ExpectOpenAIError(no_tools, "tool_choice");
  json bad = Chat({{"tool_choice", "required"}});
  bad["tools"][1]["function"]["parameters"]["properties"]["zone"] = {{"type", "date"}};
  ExpectOpenAIError(bad, "tools[1].function.parameters");
  // Naming the other tool does not compile the unsupported one; auto keeps accepting it.
  bad["tool_choice"] = {{"type", "function"}, {"function", {{"name", "get_weather"}}}};
  EXPECT_EQ(openai::ChatCompletions(ctx_, Call(bad)).status, 200);
  bad["tool_choice"] = "auto";
  EXPECT_EQ(openai::ChatCompletions(ctx_, Call(bad)).status, 200);
  ExpectOpenAIError(Chat({{"tool_choice", "required"}, {"thinking", {{"type", "enabled"}}}}),
                    "tool_choice");
  // A model without a known tool-call syntax cannot be forced.
  InitQwen(kCall, /*with_format=*/false);
  ExpectOpenAIError(Chat({{"tool_choice", "required"}}), "tool_choice");
}

// A template that opens a reasoning block at the end of the prompt (DeepSeek-R1 style).
class OpensThinkTemplate : public ChatTemplate {
 public:
  Result<std::string> Render(const std::vector<ChatMessage>& messages,
                             const RenderOptions& options) const override {
    auto text = chatml_->Render(messages, options);
    if (!text.ok()) return text;
    return *text + "<think>\n";
  }
  bool SupportsTools() const override { return true; }

 private:
  std::unique_ptr<ChatTemplate> chatml_ = MakeChatMlTemplate();
};

TEST_F(ForcedToolApiTest, ReasoningOpenedByTheTemplateIsClosedFirst) {
  const std::string reply = std::string("</think>\n\n") + kCall;
  InitQwen(reply);
  registry_ = ModelRegistry();
  model_.entry.chat_template = std::make_shared<OpensThinkTemplate>();
  ASSERT_TRUE(registry_.Add(model_.entry).ok());
  ApiReply r = openai::ChatCompletions(ctx_, Call(Chat({{"tool_choice", "required"}})));
  ASSERT_EQ(r.status, 200) << r.body;
  json j = Body(r);
  const json& m = j["choices"][0]["message"];
  ASSERT_EQ(m["tool_calls"].size(), 1u) << j.dump();
  EXPECT_EQ(m["tool_calls"][0]["function"]["name"], "get_weather");
  EXPECT_FALSE(m.contains("reasoning_content")) << j.dump();  // empty reasoning is not shown
  EXPECT_EQ(m["content"], "") << j.dump();
  EXPECT_EQ(j["choices"][0]["finish_reason"], "tool_calls");
  EXPECT_TRUE(LastConstraintAccepts(reply));
  ASSERT_EQ(openai::ChatCompletions(ctx_, Call(Chat({{"tool_choice", "required"}}))).status, 200);
  EXPECT_FALSE(LastConstraintAccepts(kCall));  // the block must be closed first
}

TEST_F(ForcedToolApiTest, AnthropicAnyAndToolGiveToolUse) {
  InitQwen(kCall);
  ApiReply r = anthropic::Messages(ctx_, Call(Msg({{"tool_choice", {{"type", "any"}}}})));
  ASSERT_EQ(r.status, 200) << r.body;
  json j = Body(r);
  ASSERT_EQ(j["content"].size(), 1u) << j.dump();
  EXPECT_EQ(j["content"][0]["type"], "tool_use");
  EXPECT_EQ(j["content"][0]["name"], "get_weather");
  EXPECT_EQ(j["content"][0]["input"]["city"], "Paris");
  EXPECT_EQ(j["stop_reason"], "tool_use");
  EXPECT_TRUE(LastConstraintAccepts(kCall));
  json tool = {{"type", "tool"}, {"name", "get_time"}};
  ASSERT_EQ(anthropic::Messages(ctx_, Call(Msg({{"tool_choice", tool}}))).status, 200);
  EXPECT_FALSE(LastConstraintAccepts(kCall));  // only get_time may be called
  auto sink = Stream(anthropic::Messages(
      ctx_,
      Call(Msg({{"tool_choice", {{"type", "tool"}, {"name", "get_weather"}}}, {"stream", true}}))));
  std::string partial, stop;
  std::vector<std::string> blocks;
  for (const std::string& d : sink.DataLines()) {
    json e = json::parse(d);
    if (e["type"] == "content_block_start") blocks.push_back(e["content_block"]["type"]);
    if (e["type"] == "content_block_delta" && e["delta"]["type"] == "input_json_delta") {
      partial += e["delta"]["partial_json"].get<std::string>();
    }
    if (e["type"] == "message_delta") stop = e["delta"]["stop_reason"];
  }
  EXPECT_EQ(blocks, std::vector<std::string>{"tool_use"});
  EXPECT_EQ(json::parse(partial)["days"], 2);
  EXPECT_EQ(stop, "tool_use");
}

TEST_F(ForcedToolApiTest, AnthropicErrorsNameTheField) {
  InitQwen(kCall);
  ExpectAnthropicError(Msg({{"tool_choice", {{"type", "tool"}, {"name", "nope"}}}}),
                       "tool_choice.name");
  ExpectAnthropicError(Msg({{"tool_choice", {{"type", "tool"}}}}), "tool_choice");
  ExpectAnthropicError(Msg({{"tool_choice", {{"type", "tool"}, {"name", ""}}}}),
                       "tool_choice.name");
  ExpectAnthropicError(Msg({{"tool_choice", {{"type", "sometimes"}}}}), "tool_choice.type");
  json no_tools = Msg({{"tool_choice", {{"type", "any"}}}});
  no_tools.erase("tools");
  ExpectAnthropicError(no_tools, "tool_choice");
  json bad = Msg({{"tool_choice", {{"type", "any"}}}});
  bad["tools"][0]["input_schema"]["properties"]["city"] = {{"$ref", "#/defs/city"}};
  ExpectAnthropicError(bad, "tools[0].input_schema");
  bad["tool_choice"] = {{"type", "auto"}};
  EXPECT_EQ(anthropic::Messages(ctx_, Call(bad)).status, 200);
  ExpectAnthropicError(Msg({{"tool_choice", {{"type", "any"}}},
                            {"thinking", {{"type", "enabled"}, {"budget_tokens", 1024}}}}),
                       "tool_choice");
  EXPECT_EQ(model_.engine->submitted(), 1);  // only the auto request reached the engine
  InitQwen(kCall, /*with_format=*/false);
  ExpectAnthropicError(Msg({{"tool_choice", {{"type", "any"}}}}), "tool_choice");
  EXPECT_EQ(model_.engine->submitted(), 0);
}

}  // namespace
}  // namespace cachet::api
#endif  // CACHET_API_HAS_PARSERS
