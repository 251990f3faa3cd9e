// ToolCallGrammar / ToolCallMatcher at the unit level and ToolCallTokenConstraint over a small
// hand-made vocabulary (the family syntaxes over real vocabularies are tested in
// api/forced_tool_call_test.cc).
#include "sampling/tool_call_grammar.h"

#include <gtest/gtest.h>

namespace cachet::sampling {
namespace {

constexpr int32_t kBegin = 96;  // a marker token id in the test vocabulary
constexpr int32_t kEnd = 97;

std::shared_ptr<const JsonGrammar> Schema(const std::string& s) {
  auto g = CompileJsonSchema(s, "schema");
  EXPECT_TRUE(g.ok()) << g.status().ToString();
  return std::make_shared<const JsonGrammar>(g.ok() ? std::move(g).value() : JsonObjectGrammar());
}

// <B>NAME:ARGS;<E> with marker tokens B and E.
ToolCallGrammar::Alternative Alt(const std::string& name, std::shared_ptr<const JsonGrammar> args) {
  ToolCallGrammar::Alternative a;
  a.name = name;
  a.head.push_back(kTokenUnit + kBegin);
  AppendBytes(name + ":", &a.head);
  a.arguments = std::move(args);
  AppendBytes(";", &a.tail);
  a.tail.push_back(kTokenUnit + kEnd);
  return a;
}

ToolCallGrammar Grammar() {
  auto g = MakeToolCallGrammar(
      {Alt("get_weather", Schema(R"({"type":"object","properties":{"unit":{"enum":["c","f"]}},
                                   "required":["unit"]})")),
       Alt("get", Schema(R"({"type":"object","properties":{"n":{"type":"integer"}}})")),
       Alt("ping", std::make_shared<const JsonGrammar>(JsonObjectGrammar()))});
  EXPECT_TRUE(g.ok()) << g.status().ToString();
  return std::move(g).value();
}

// Feeds marker tokens as units and text as bytes: {"<B>", "get:{...};", "<E>"}.
bool Match(const ToolCallGrammar& g, const std::vector<std::string>& pieces, bool* done) {
  ToolCallMatcher m(&g);
  for (const std::string& p : pieces) {
    bool ok = p == "<B>"   ? m.Feed(kTokenUnit + kBegin)
              : p == "<E>" ? m.Feed(kTokenUnit + kEnd)
                           : m.FeedBytes(p);
    if (!ok) return false;
  }
  *done = m.Done();
  return true;
}

TEST(ToolCallGrammar, AcceptsEachToolsCallAndRejectsOthers) {
  ToolCallGrammar g = Grammar();
  bool done = false;
  EXPECT_TRUE(Match(g, {"<B>", "get_weather:{\"unit\":\"f\"};", "<E>"}, &done));
  EXPECT_TRUE(done);
  EXPECT_TRUE(Match(g, {"<B>", "get:{\"n\":-12};", "<E>"}, &done));
  EXPECT_TRUE(done);
  EXPECT_TRUE(Match(g, {"<B>", "get:{};", "<E>"}, &done));
  EXPECT_TRUE(Match(g, {"<B>", "ping:{\"any\":[1,{\"x\":null}]};", "<E>"}, &done));
  EXPECT_TRUE(done);
  // A prefix is accepted but not done.
  EXPECT_TRUE(Match(g, {"<B>", "get_weather:{\"unit\":"}, &done));
  EXPECT_FALSE(done);

  EXPECT_FALSE(Match(g, {"<B>", "get_time:"}, &done));                     // unknown tool
  EXPECT_FALSE(Match(g, {"<B>", "get_weather:{\"unit\":\"k\"}"}, &done));  // not in the enum
  EXPECT_FALSE(Match(g, {"<B>", "get_weather:{}"}, &done));                // required missing
  EXPECT_FALSE(Match(g, {"<B>", "get:{\"n\":1.5}"}, &done));               // not an integer
  EXPECT_FALSE(Match(g, {"<B>", "get:[]"}, &done));                        // not an object
  EXPECT_FALSE(Match(g, {"<B>", "get:{} ;"}, &done));                      // glue is exact
  EXPECT_FALSE(Match(g, {"<B>", "get:{};<E>"}, &done));  // the marker's text is not the marker
  EXPECT_FALSE(Match(g, {"<B>get:{};"}, &done));         // nor at the start
  EXPECT_FALSE(Match(g, {"<B>", "get:{};", "<E>", "x"}, &done));  // nothing after the call
  EXPECT_FALSE(Match(g, {"<E>"}, &done));
}

TEST(ToolCallGrammar, RefusesAmbiguousOrNonObjectTools) {
  auto obj = std::make_shared<const JsonGrammar>(JsonObjectGrammar());
  EXPECT_FALSE(MakeToolCallGrammar({}).ok());
  EXPECT_FALSE(MakeToolCallGrammar({Alt("a", obj), Alt("a", obj)}).ok());  // same name
  ToolCallGrammar::Alternative prefix = Alt("a", obj);
  prefix.head.pop_back();  // "<B>a" prefixes "<B>a:"
  EXPECT_FALSE(MakeToolCallGrammar({Alt("a", obj), prefix}).ok());
  EXPECT_FALSE(MakeToolCallGrammar({Alt("n", Schema(R"({"type":"integer"})"))}).ok());
  EXPECT_FALSE(MakeToolCallGrammar({Alt("any", Schema("{}"))}).ok());  // may be a non-object
  ToolCallGrammar::Alternative none = Alt("x", nullptr);
  EXPECT_FALSE(MakeToolCallGrammar({none}).ok());
}

// Vocabulary: ids 0..94 single printable bytes ' '..'~', 95 "get", 96/97 markers "<B>"/"<E>"
// (their text is also reachable by bytes), 98 "{}", 99 "};", 100 "al" (control token, never
// allowed), 101 EOS.
class ToolCallConstraintTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<std::string> bytes;
    for (int c = ' '; c <= '~'; ++c) bytes.push_back(std::string(1, static_cast<char>(c)));
    bytes.push_back("get");
    bytes.push_back("<B>");
    bytes.push_back("<E>");
    bytes.push_back("{}");
    bytes.push_back("};");
    bytes.push_back("al");
    bytes.push_back("");  // EOS: no bytes
    std::vector<int32_t> excluded = {100};
    trie_ = std::make_shared<const TokenTrie>(bytes, excluded);
    grammar_ = std::make_shared<const ToolCallGrammar>(Grammar());
  }
  int32_t Id(char c) const { return c - ' '; }
  std::vector<uint8_t> Mask(ToolCallTokenConstraint& c) const {
    std::vector<uint8_t> m(102, 1);
    EXPECT_TRUE(c.Allowed(m));
    return m;
  }
  std::shared_ptr<const TokenTrie> trie_;
  std::shared_ptr<const ToolCallGrammar> grammar_;
};

TEST_F(ToolCallConstraintTest, MarkersOnlyAsTokensAndTextAnyTokenization) {
  ToolCallTokenConstraint c(grammar_, trie_, {101});
  auto m = Mask(c);
  // Only the begin marker token, not '<' (its text by bytes), not EOS.
  for (int32_t id = 0; id < 102; ++id) EXPECT_EQ(m[id], id == kBegin ? 1 : 0) << id;
  c.Accept(kBegin);
  m = Mask(c);
  EXPECT_EQ(m[95], 1);  // "get" (a prefix of get_weather and get)
  EXPECT_EQ(m[Id('g')], 1);
  EXPECT_EQ(m[Id('p')], 1);
  EXPECT_EQ(m[Id('x')], 0);
  EXPECT_EQ(m[kBegin], 0);
  c.Accept(95);
  c.Accept(Id(':'));
  m = Mask(c);
  EXPECT_EQ(m[98], 1);  // "{}" spans the whole arguments
  EXPECT_EQ(m[99], 0);
  c.Accept(98);
  m = Mask(c);
  EXPECT_EQ(m[Id(';')], 1);
  EXPECT_EQ(m[Id('<')], 0);  // the end marker is not written as text
  c.Accept(Id(';'));
  m = Mask(c);
  for (int32_t id = 0; id < 102; ++id) EXPECT_EQ(m[id], id == kEnd ? 1 : 0) << id;
  c.Accept(kEnd);
  EXPECT_TRUE(c.Done());
  EXPECT_EQ(c.matcher().chosen(), 0);  // "get" sorts first
}

TEST_F(ToolCallConstraintTest, TokensSpanHeadArgumentsAndTail) {
  ToolCallTokenConstraint c(grammar_, trie_, {101});
  c.Accept(kBegin);
  for (char ch : std::string("ping:{\"a\":\"x")) c.Accept(Id(ch));
  auto m = Mask(c);
  EXPECT_EQ(m[Id('<')], 1);  // inside a string, '<' is content
  EXPECT_EQ(m[kBegin], 0);   // but a marker token is not
  EXPECT_EQ(m[100], 0);      // control tokens never
  c.Accept(Id('"'));
  m = Mask(c);
  EXPECT_EQ(m[99], 1);  // "};" closes the arguments and starts the tail
  c.Accept(99);
  EXPECT_FALSE(c.Done());
  c.Accept(kEnd);
  EXPECT_TRUE(c.Done());
  m = Mask(c);
  for (int32_t id = 0; id < 102; ++id) EXPECT_EQ(m[id], id == 101 ? 1 : 0) << id;
}

TEST_F(ToolCallConstraintTest, PaddedIdsPastTheVocabularyAreNeverAllowed) {
  ToolCallTokenConstraint c(grammar_, trie_, {101});
  c.Accept(kBegin);
  std::vector<uint8_t> m(110, 1);  // a model with 8 padded rows
  ASSERT_TRUE(c.Allowed(m));
  for (size_t id = 102; id < m.size(); ++id) EXPECT_EQ(m[id], 0) << id;
  JsonGrammar any = JsonObjectGrammar();
  JsonTokenConstraint j(std::shared_ptr<const JsonGrammar>(&any, [](const JsonGrammar*) {}), trie_,
                        {101});
  std::fill(m.begin(), m.end(), 1);
  ASSERT_TRUE(j.Allowed(m));
  for (size_t id = 102; id < m.size(); ++id) EXPECT_EQ(m[id], 0) << id;
}

TEST_F(ToolCallConstraintTest, AnUnallowedTokenFinishes) {
  ToolCallTokenConstraint c(grammar_, trie_, {101});
  c.Accept(Id('<'));  // the begin marker's text, not the marker
  EXPECT_TRUE(c.Done());
  ToolCallTokenConstraint d(grammar_, trie_, {101});
  d.Accept(kBegin);
  d.Accept(kEnd);  // a marker out of place
  EXPECT_TRUE(d.Done());
}

}  // namespace
}  // namespace cachet::sampling
