// JSON schema compilation (errors, limits) and the byte-level JSON matcher on hand-written
// accept / reject cases. Token-level tests over a real vocabulary: json_constraint_test.cc.
#include "sampling/json_matcher.h"

#include <gtest/gtest.h>

#include <string>

#include "sampling/json_schema.h"
#include "sampling/json_value.h"

namespace cachet::sampling {
namespace {

JsonGrammar MustCompile(const std::string& schema) {
  auto g = CompileJsonSchema(schema, "schema");
  EXPECT_TRUE(g.ok()) << g.status().ToString();
  return g.ok() ? std::move(g).value() : JsonObjectGrammar();
}

bool Accepts(const JsonGrammar& g, const std::string& text) {
  JsonMatcher m(&g);
  return m.FeedAll(text) && m.CanEnd();
}

// ---- schema compilation ----

TEST(JsonSchema, ErrorsNameThePath) {
  struct Case {
    const char* schema;
    const char* path;
  } cases[] = {
      {R"({"type":"object","properties":{"a":{"type":"date"}}})", "schema.properties.a.type"},
      {R"({"type":"object","properties":{"a":{"$ref":"#/x"}}})", "schema.properties.a.$ref"},
      {R"({"type":"object","properties":{"a":{}},"required":["b"]})", "schema.required"},
      {R"({"anyOf":[{"type":"string"},{"enum":["x"]}]})", "schema.anyOf"},
      {R"({"type":"array","items":[{"type":"string"}]})", "schema.items"},
      {R"({"enum":[]})", "schema.enum"},
      {R"(false)", "schema"},
      {R"({"type":)", "schema"},
      {R"(42)", "schema"},
  };
  for (const auto& c : cases) {
    auto g = CompileJsonSchema(c.schema, "schema");
    ASSERT_FALSE(g.ok()) << c.schema;
    EXPECT_EQ(g.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(g.status().message().rfind(std::string(c.path) + ":", 0), 0u)
        << c.schema << " -> " << g.status().message();
  }
}

TEST(JsonSchema, DepthAndSizeAreBounded) {
  std::string deep = "{\"type\":\"string\"}";
  for (int i = 0; i < 40; ++i) deep = "{\"type\":\"array\",\"items\":" + deep + "}";
  EXPECT_FALSE(CompileJsonSchema(deep, "s").ok());
  std::string wide = "{\"type\":\"object\",\"properties\":{";
  for (int i = 0; i < 70; ++i) wide += (i ? ",\"p" : "\"p") + std::to_string(i) + "\":{}";
  wide += "}}";
  auto g = CompileJsonSchema(wide, "s");
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("s.properties"), std::string::npos);
  std::string many = "{\"enum\":[0";
  for (int i = 1; i <= kMaxEnumValues; ++i) many += "," + std::to_string(i);
  auto e = CompileJsonSchema(many + "]}", "s");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().message().rfind("s.enum:", 0), 0u) << e.status().message();
}

// ---- byte-level matcher ----

TEST(JsonMatcher, JsonObjectMode) {
  JsonGrammar g = JsonObjectGrammar();
  for (const char* ok : {"{}", R"({"a":1})", R"({"a":[1,2.5e-3,"x",true,null,{}],"b":{"c":-0}})",
                         R"({"\u00e9\n":"\"\\"})", "{\"\xc3\xa9\":\"\xf0\x9f\x98\x80\"}"}) {
    EXPECT_TRUE(Accepts(g, ok)) << ok;
  }
  for (const char* bad :
       {"[]", "1", R"({"a":01})", R"({"a":1,})", R"({ "a":1})", R"({"a" :1})", R"({"a":tru})",
        R"({"a":"\x"})", "{\"a\":\"\xc3\"}", "{\"a\":\"\xed\xa0\x80\"}", R"({"a":1.})",
        R"({"a":-})", "{\"a\":\"\n\"}", R"({"a":1}})"}) {
    EXPECT_FALSE(Accepts(g, bad)) << bad;
  }
  std::string deep(100, '[');
  EXPECT_FALSE(Accepts(g, "{\"a\":" + deep));  // nesting is bounded
}

TEST(JsonMatcher, ObjectPropertiesInOrder) {
  JsonGrammar g = MustCompile(R"({"type":"object","properties":{
      "name":{"type":"string"},"age":{"type":"integer"},"nick":{"type":"string"},
      "tags":{"type":"array","items":{"enum":["a","ab",1,null]}}},
      "required":["name","tags"],"additionalProperties":false})");
  for (const char* ok : {R"({"name":"x","tags":[]})", R"({"name":"x","age":-12,"tags":["ab",1]})",
                         R"({"name":"","nick":"n","tags":[null,"a"]})"}) {
    EXPECT_TRUE(Accepts(g, ok)) << ok;
  }
  for (const char* bad :
       {R"({"name":"x"})", R"({"tags":[],"name":"x"})", R"({"name":"x","age":1.5,"tags":[]})",
        R"({"name":"x","tags":["b"]})", R"({"name":"x","tags":[],"age":1})",
        R"({"name":"x","extra":1,"tags":[]})", R"({"name":1,"tags":[]})", R"({})"}) {
    EXPECT_FALSE(Accepts(g, bad)) << bad;
  }
}

TEST(JsonMatcher, TopLevelScalarsAndAnyOf) {
  JsonGrammar num = MustCompile(R"({"type":"number"})");
  JsonMatcher m(&num);
  ASSERT_TRUE(m.FeedAll("12"));
  EXPECT_TRUE(m.CanEnd());
  EXPECT_FALSE(m.Done());  // a number can still grow
  ASSERT_TRUE(m.FeedAll(".5e+3"));
  EXPECT_TRUE(m.CanEnd());
  EXPECT_FALSE(m.Feed(','));

  JsonGrammar alt = MustCompile(R"({"type":["string","null","integer"]})");
  EXPECT_TRUE(Accepts(alt, R"("s")"));
  EXPECT_TRUE(Accepts(alt, "null"));
  EXPECT_TRUE(Accepts(alt, "-7"));
  EXPECT_FALSE(Accepts(alt, "true"));
  EXPECT_FALSE(Accepts(alt, "1.5"));

  JsonGrammar e = MustCompile(R"({"enum":[1,12,"x",{"k":[1]}]})");
  EXPECT_TRUE(Accepts(e, "1"));
  EXPECT_TRUE(Accepts(e, "12"));
  EXPECT_TRUE(Accepts(e, R"({"k":[1]})"));
  EXPECT_FALSE(Accepts(e, "123"));
  EXPECT_FALSE(Accepts(e, R"("y")"));
  JsonMatcher s(&e);
  ASSERT_TRUE(s.FeedAll(R"("x")"));
  EXPECT_TRUE(s.Done());
}

}  // namespace
}  // namespace cachet::sampling
