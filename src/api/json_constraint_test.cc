// response_format json_object / json_schema: the request reaches the engine with a token
// constraint that accepts exactly the schema's outputs; schema errors are 400s naming the field.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api/openai/openai.h"
#include "api/testing/api_fixture.h"

namespace cachet::api {
namespace {

using nlohmann::json;
using openai::ChatCompletions;

class JsonConstraintApiTest : public testing::ApiFixture {
 protected:
  static json Chat(json extra) {
    json body = {{"model", "fake"}, {"messages", {{{"role", "user"}, {"content", "Hi"}}}}};
    for (auto& [k, v] : extra.items()) body[k] = v;
    return body;
  }
  // Tokens of `text` fed to the constraint one by one; false at the first one the mask refuses.
  static bool Drive(engine::TokenConstraint& c, const tok::Tokenizer& t, const std::string& text) {
    std::vector<uint8_t> mask(t.n_vocab());
    for (int32_t id : t.Encode(text, false, false)) {
      std::fill(mask.begin(), mask.end(), 1);
      if (!c.Allowed(mask) || !mask[id]) return false;
      c.Accept(id);
    }
    return true;
  }
};

TEST_F(JsonConstraintApiTest, JsonSchemaConstrainsTheEngineRequest) {
  Init("{\"name\":\"x\"}");
  // ordered_json so the test's body keeps "name" before "n", as a client's would.
  nlohmann::ordered_json schema = {
      {"type", "object"},
      {"properties", {{"name", {{"type", "string"}}}, {"n", {{"type", "integer"}}}}},
      {"required", {"name"}}};
  auto with_schema = [&] {
    ApiCall c = Call(Chat(json::object()));
    std::string body = c.body;
    body.pop_back();  // drop '}' and append the ordered response_format
    c.body = body + ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{" +
             "\"name\":\"t\",\"schema\":" + schema.dump() + "}}}";
    return c;
  };
  ApiReply r = ChatCompletions(ctx_, with_schema());
  ASSERT_EQ(r.status, 200) << r.body;
  auto req = model_.engine->last_request();
  ASSERT_NE(req.constraint, nullptr);
  const tok::Tokenizer& t = *model_.entry.tokenizer;
  // Properties come in the client's order (the API parses with ordered_json).
  EXPECT_TRUE(Drive(*req.constraint, t, "{\"name\":\"Bo\",\"n\":-4}"));
  EXPECT_TRUE(req.constraint->Done());

  // A fresh request: a wrong type and a missing required property are refused by the mask.
  ASSERT_EQ(ChatCompletions(ctx_, with_schema()).status, 200);
  auto c2 = model_.engine->last_request().constraint;
  ASSERT_NE(c2, nullptr);
  EXPECT_FALSE(Drive(*c2, t, "{\"name\":1"));
  ASSERT_EQ(ChatCompletions(ctx_, with_schema()).status, 200);
  auto c3 = model_.engine->last_request().constraint;
  EXPECT_FALSE(Drive(*c3, t, "{\"n\":1}"));
}

TEST_F(JsonConstraintApiTest, JsonObjectMode) {
  Init("{}");
  ApiReply r = ChatCompletions(ctx_, Call(Chat({{"response_format", {{"type", "json_object"}}}})));
  ASSERT_EQ(r.status, 200) << r.body;
  auto c = model_.engine->last_request().constraint;
  ASSERT_NE(c, nullptr);
  const tok::Tokenizer& t = *model_.entry.tokenizer;
  std::vector<uint8_t> mask(t.n_vocab(), 1);
  ASSERT_TRUE(c->Allowed(mask));
  for (int32_t id : t.eog_ids()) EXPECT_EQ(mask[id], 0);  // nothing generated yet
  EXPECT_EQ(mask[t.Encode("[", false, false)[0]], 0);     // an object, not an array
  EXPECT_EQ(mask[t.Encode("{", false, false)[0]], 1);
  EXPECT_TRUE(Drive(*c, t, "{\"a\":[1,{\"b\":null}]}"));
  EXPECT_TRUE(c->Done());
  // Without response_format there is no constraint.
  ASSERT_EQ(ChatCompletions(ctx_, Call(Chat(json::object()))).status, 200);
  EXPECT_EQ(model_.engine->last_request().constraint, nullptr);
}

TEST_F(JsonConstraintApiTest, SchemaErrorsAre400NamingTheField) {
  Init("x");
  const json bad[] = {
      {{"type", "json_schema"}},
      {{"type", "json_schema"}, {"json_schema", {{"schema", {{"type", "date"}}}}}},
      {{"type", "json_schema"},
       {"json_schema",
        {{"schema", {{"type", "object"}, {"properties", {{"a", {{"$ref", "#"}}}}}}}}}},
      {{"type", "json_schema"},
       {"json_schema", {{"schema", {{"anyOf", {{{"type", "string"}}, {{"enum", {"x"}}}}}}}}}},
  };
  const char* params[] = {"response_format.json_schema", "response_format.json_schema.schema",
                          "response_format.json_schema.schema",
                          "response_format.json_schema.schema"};
  for (size_t i = 0; i < std::size(bad); ++i) {
    ApiReply r = ChatCompletions(ctx_, Call(Chat({{"response_format", bad[i]}})));
    EXPECT_EQ(r.status, 400) << bad[i].dump();
    EXPECT_EQ(Body(r)["error"]["param"], params[i]) << r.body;
  }
  ApiReply r = ChatCompletions(
      ctx_,
      Call(Chat({{"response_format",
                  {{"type", "json_schema"},
                   {"json_schema",
                    {{"schema",
                      {{"type", "object"}, {"properties", {{"a", {{"type", "date"}}}}}}}}}}}})));
  EXPECT_NE(Body(r)["error"]["message"].get<std::string>().find(
                "response_format.json_schema.schema.properties.a.type"),
            std::string::npos)
      << r.body;
  ApiReply t = ChatCompletions(ctx_, Call(Chat({{"response_format", {{"type", "json_object"}}},
                                                {"thinking", {{"type", "enabled"}}}})));
  EXPECT_EQ(t.status, 400);
  EXPECT_EQ(Body(t)["error"]["param"], "response_format") << t.body;
  EXPECT_EQ(model_.engine->submitted(), 0);
}

}  // namespace
}  // namespace cachet::api
