#include "api/anthropic/anthropic.h"

#include <gtest/gtest.h>

#include "api/testing/api_fixture.h"
#ifdef CACHET_API_HAS_PARSERS
#include "api/model_output_parser.h"
#endif

namespace cachet::api::anthropic {
namespace {

using nlohmann::json;

class AnthropicTest : public testing::ApiFixture {};

json Msg(json extra = json::object()) {
  json b = {
      {"model", "fake"}, {"max_tokens", 64}, {"messages", {{{"role", "user"}, {"content", "Hi"}}}}};
  b.update(extra);
  return b;
}

TEST_F(AnthropicTest, NonStreamingShapeAndUsageExcludesCacheReads) {
  testing::FakeEngineOptions o;
  o.cached_tokens = 64;
  Init("Hello", o);
  ApiReply r = Messages(ctx_, Call(Msg({{"system", std::string(100, 's')}})));
  ASSERT_EQ(r.status, 200) << r.body;
  json j = Body(r);
  EXPECT_EQ(j["type"], "message");
  EXPECT_EQ(j["role"], "assistant");
  EXPECT_EQ(j["content"][0]["type"], "text");
  EXPECT_EQ(j["content"][0]["text"], "Hello");
  EXPECT_EQ(j["stop_reason"], "end_turn");
  EXPECT_TRUE(j["stop_sequence"].is_null());
  const int64_t prompt = static_cast<int64_t>(model_.engine->last_request().prompt.size());
  EXPECT_EQ(j["usage"]["input_tokens"], prompt - 64);
  EXPECT_EQ(j["usage"]["cache_read_input_tokens"], 64);
  EXPECT_EQ(j["usage"]["cache_creation_input_tokens"], 0);
  EXPECT_EQ(j["usage"]["output_tokens"], 5);
}

TEST_F(AnthropicTest, StopSequenceAndMaxTokens) {
  Init("one two three");
  json j = Body(Messages(ctx_, Call(Msg({{"stop_sequences", {"two"}}}))));
  EXPECT_EQ(j["content"][0]["text"], "one ");
  EXPECT_EQ(j["stop_reason"], "stop_sequence");
  EXPECT_EQ(j["stop_sequence"], "two");
  j = Body(Messages(ctx_, Call(Msg({{"max_tokens", 3}}))));
  EXPECT_EQ(j["content"][0]["text"], "one");
  EXPECT_EQ(j["stop_reason"], "max_tokens");
}

TEST_F(AnthropicTest, Errors) {
  Init("x");
  json no_max = Msg();
  no_max.erase("max_tokens");
  ApiReply r = Messages(ctx_, Call(no_max));
  EXPECT_EQ(r.status, 400);
  json j = Body(r);
  EXPECT_EQ(j["type"], "error");
  EXPECT_EQ(j["error"]["type"], "invalid_request_error");
  EXPECT_NE(j["error"]["message"].get<std::string>().find("max_tokens"), std::string::npos);
  r = Messages(ctx_, Call(Msg({{"model", "claude-nope"}})));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(Body(r)["error"]["type"], "not_found_error");
  r = Messages(ctx_, Call(Msg({{"temperature", 1.5}})));
  EXPECT_EQ(r.status, 400);
  r = Messages(ctx_, Call(Msg({{"messages", {{{"role", "system"}, {"content", "x"}}}}})));
  EXPECT_EQ(r.status, 400);
  r = Messages(ctx_,
               Call(Msg({{"messages", {{{"role", "user"}, {"content", {{{"type", "image"}}}}}}}})));
  EXPECT_EQ(r.status, 400);
}

TEST_F(AnthropicTest, BlocksToolsResultsAndThinkingRender) {
  Init("x");
  json msgs = {
      {{"role", "user"}, {"content", {{{"type", "text"}, {"text", "weather?"}}}}},
      {{"role", "assistant"},
       {"content",
        {{{"type", "thinking"}, {"thinking", "hmm"}, {"signature", "s"}},
         {{"type", "tool_use"}, {"id", "t1"}, {"name", "get"}, {"input", {{"c", "P"}}}}}}},
      {{"role", "user"},
       {"content", {{{"type", "tool_result"}, {"tool_use_id", "t1"}, {"content", "sunny"}}}}}};
  ApiReply r = Messages(
      ctx_, Call(Msg({{"messages", msgs}, {"system", {{{"type", "text"}, {"text", "S"}}}}})));
  ASSERT_EQ(r.status, 200) << r.body;
  std::string prompt = model_.entry.tokenizer->Decode(model_.engine->last_request().prompt);
  EXPECT_NE(prompt.find("<|im_start|>system\nS<|im_end|>"), std::string::npos) << prompt;
  EXPECT_NE(prompt.find("\"name\": \"get\""), std::string::npos) << prompt;
  EXPECT_NE(prompt.find("<|im_start|>tool\nsunny<|im_end|>"), std::string::npos) << prompt;
}

TEST_F(AnthropicTest, StreamingEventSequence) {
  testing::FakeEngineOptions o;
  o.cached_tokens = 64;
  Init("Hi there", o);
  ApiReply r = Messages(ctx_, Call(Msg({{"stream", true}, {"system", std::string(100, 's')}})));
  ASSERT_EQ(r.status, 200) << r.body;
  auto sink = Stream(r);
  std::vector<std::string> events;
  size_t pos = 0;
  while ((pos = sink.text.find("event: ", pos)) != std::string::npos) {
    size_t end = sink.text.find('\n', pos);
    std::string e = sink.text.substr(pos + 7, end - pos - 7);
    if (e != "ping" && (events.empty() || events.back() != e)) events.push_back(e);
    pos = end;
  }
  EXPECT_EQ(events,
            (std::vector<std::string>{"message_start", "content_block_start", "content_block_delta",
                                      "content_block_stop", "message_delta", "message_stop"}));
  auto data = sink.DataLines();
  json start = json::parse(data[0]);
  EXPECT_EQ(start["message"]["usage"]["cache_read_input_tokens"], 64);
  std::string text;
  json last_delta;
  for (auto& d : data) {
    json j = json::parse(d);
    if (j["type"] == "content_block_delta") text += j["delta"]["text"].get<std::string>();
    if (j["type"] == "message_delta") last_delta = j;
  }
  EXPECT_EQ(text, "Hi there");
  EXPECT_EQ(last_delta["delta"]["stop_reason"], "end_turn");
  EXPECT_EQ(last_delta["usage"]["output_tokens"], 8);
}

#ifdef CACHET_API_HAS_PARSERS
TEST_F(AnthropicTest, ThinkingAndToolUseBlocksStreamed) {
  Init(
      "<think>hmm</think>Let me check.<tool_call>\n{\"name\": \"get\", \"arguments\": {\"c\": "
      "\"P\"}}\n</tool_call>");
  registry_ = ModelRegistry();
  model_.entry.make_parser = QwenStyleParserFactory();
  ASSERT_TRUE(registry_.Add(model_.entry).ok());
  json tools = json::array({{{"name", "get"}, {"input_schema", {{"type", "object"}}}}});
  json j = Body(Messages(ctx_, Call(Msg({{"tools", tools}, {"max_tokens", 500}}))));
  ASSERT_EQ(j["content"].size(), 3u)
      << j.dump() << "\nPROMPT "
      << model_.entry.tokenizer->Decode(model_.engine->last_request().prompt);
  EXPECT_EQ(j["content"][0]["type"], "thinking");
  EXPECT_EQ(j["content"][0]["thinking"], "hmm");
  EXPECT_EQ(j["content"][1]["text"], "Let me check.");
  EXPECT_EQ(j["content"][2]["type"], "tool_use");
  EXPECT_EQ(j["content"][2]["input"]["c"], "P");
  EXPECT_EQ(j["stop_reason"], "tool_use");
  auto sink =
      Stream(Messages(ctx_, Call(Msg({{"tools", tools}, {"stream", true}, {"max_tokens", 500}}))));
  std::vector<std::string> blocks, deltas;
  std::string partial;
  for (const std::string& d : sink.DataLines()) {
    json e = json::parse(d);
    if (e["type"] == "content_block_start") blocks.push_back(e["content_block"]["type"]);
    if (e["type"] == "content_block_delta") {
      if (deltas.empty() || deltas.back() != e["delta"]["type"])
        deltas.push_back(e["delta"]["type"]);
      if (e["delta"]["type"] == "input_json_delta")
        partial += e["delta"]["partial_json"].get<std::string>();
    }
    if (e["type"] == "message_delta") {
      EXPECT_EQ(e["delta"]["stop_reason"], "tool_use");
    }
  }
  EXPECT_EQ(blocks, (std::vector<std::string>{"thinking", "text", "tool_use"}));
  EXPECT_EQ(deltas, (std::vector<std::string>{"thinking_delta", "signature_delta", "text_delta",
                                              "input_json_delta"}));
  EXPECT_EQ(json::parse(partial)["c"], "P");
}
#endif

TEST_F(AnthropicTest, CountTokens) {
  Init("x");
  json b = Msg();
  b.erase("max_tokens");
  ApiReply r = CountTokens(ctx_, Call(b));
  ASSERT_EQ(r.status, 200) << r.body;
  // "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n": 1+5+2+1+1+1+10.
  EXPECT_EQ(Body(r)["input_tokens"], 21);
  EXPECT_EQ(model_.engine->submitted(), 0);
}

}  // namespace
}  // namespace cachet::api::anthropic
