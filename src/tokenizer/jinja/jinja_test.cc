// Unit tests of the Jinja interpreter. Expected strings are what jinja2 3.1 renders (with
// trim_blocks / lstrip_blocks); the python reference test (tools/jinja_render.py) checks the
// full chat templates byte for byte.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tokenizer/jinja/template.h"

namespace cachet::jinja {
namespace {

Value Ctx(const char* json) { return *FromJson(nlohmann::ordered_json::parse(json)); }

std::string R(const std::string& src, const char* ctx = "{}") {
  auto t = Template::Parse(src);
  if (!t.ok()) return "PARSE ERROR: " + t.status().ToString();
  auto r = t->Render(Ctx(ctx));
  if (!r.ok()) return "RENDER ERROR: " + r.status().ToString();
  return *r;
}

TEST(Jinja, TextAndExpressions) {
  EXPECT_EQ(R("a{{ 1 + 2 }}b"), "a3b");
  EXPECT_EQ(R("{{ 'x' ~ 1 ~ none }}"), "x1None");
  EXPECT_EQ(R("{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 3 / 2 }} {{ 2 ** 10 }}"),
            "3 -4 1 2 1.5 1024");
  EXPECT_EQ(R("{{ [1, 'a', {'b': none}] }} {{ 1.0 }} {{ 1e20 }} {{ (1,) }} {{ true }}"),
            "[1, 'a', {'b': None}] 1.0 1e+20 (1,) True");
  EXPECT_EQ(R("{{ \"it's\" }} {{ [\"it's\"] }} {{ ['a\\nb'] }}"), "it's [\"it's\"] ['a\\nb']");
  EXPECT_EQ(R("{{ 'a' if x else 'b' }}{{ 'c' if not x }}", "{\"x\": 0}"), "bc");
  EXPECT_EQ(R("{{ 1 < 2 < 3 }} {{ 'b' in 'abc' }} {{ 2 not in [1] }} {{ 1 == 1.0 }}"),
            "True True True True");
  EXPECT_EQ(R("{{ 0 or 'x' }} {{ 1 and 'y' }} {{ none or [] }}"), "x y []");
}

TEST(Jinja, UndefinedBehavesLikeJinja2) {
  EXPECT_EQ(R("[{{ nope }}]{% if nope %}x{% endif %}{{ nope | length }}{{ nope is defined }}"),
            "[]0False");
  EXPECT_EQ(R("{{ m.missing is defined }}|{{ m.missing }}|", "{\"m\": {}}"), "False||");
  EXPECT_NE(R("{{ nope.attr }}").find("RENDER ERROR"), std::string::npos);
  EXPECT_NE(R("{{ nope + 1 }}").find("RENDER ERROR"), std::string::npos);
  EXPECT_EQ(R("{{ none.x is defined }}"), "False");
}

TEST(Jinja, WhitespaceControlMatchesHfSettings) {
  // trim_blocks removes the newline after a tag; lstrip_blocks the indentation before it.
  EXPECT_EQ(R("{% if true %}\n  x\n{% endif %}\ny"), "  x\ny");
  EXPECT_EQ(R("  {% if true %}\nx\n  {% endif %}\n"), "x\n");
  EXPECT_EQ(R("a  {%- if true -%}  b  {%- endif %}"), "ab");
  EXPECT_EQ(R("a\n  {{- 'b' -}}\n  c"), "abc");
  EXPECT_EQ(R("  {%+ if true %}x{% endif %}"), "  x");
  EXPECT_EQ(R("a {# c #}\nb"), "a b");
  EXPECT_EQ(R("text\n"), "text");  // keep_trailing_newline=False
  EXPECT_EQ(R("{% raw %}{{ x }}{% endraw %}"), "{{ x }}");
}

TEST(Jinja, LoopsScopesAndNamespaces) {
  EXPECT_EQ(R("{% for x in [1,2,3] %}{{ loop.index }}{{ x }}{% if not loop.last %},{% endif %}"
              "{% endfor %}"),
            "11,22,33");
  EXPECT_EQ(
      R("{% set x = 0 %}{% for i in [1,2] %}{{ x }}{% set x = i %}{{ x }}{% endfor %}{{ x }}"),
      "01020");
  EXPECT_EQ(R("{% set ns = namespace(n=0) %}{% for i in range(4) %}{% set ns.n = ns.n + i %}"
              "{% endfor %}{{ ns.n }}"),
            "6");
  EXPECT_EQ(
      R("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", "{\"d\":{\"b\":1,\"a\":2}}"),
      "b=1;a=2;");
  EXPECT_EQ(R("{% for x in [] %}x{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(R("{% for x in range(10) if x is odd %}{{ x }}{% if x > 4 %}{% break %}{% endif %}"
              "{% endfor %}"),
            "135");
  EXPECT_EQ(R("{% for x in [1,2,3] %}{% if x == 2 %}{% continue %}{% endif %}{{ x }}{% endfor %}"),
            "13");
  EXPECT_EQ(R("{% for m in ms[::-1] %}{{ m }}{% endfor %}", "{\"ms\":[1,2,3]}"), "321");
}

TEST(Jinja, MacrosAndCall) {
  EXPECT_EQ(R("{% macro f(a, b='x') %}[{{ a }}{{ b }}]{% endmacro %}{{ f(1) }}{{ f(2, b='y') }}"),
            "[1x][2y]");
  EXPECT_EQ(R("{% macro w() %}<{{ caller() }}>{% endmacro %}{% call w() %}in{% endcall %}"),
            "<in>");
  EXPECT_EQ(R("{% set s %}a{{ 1 }}{% endset %}{{ s }}|{% filter upper %}abc{% endfilter %}"),
            "a1|ABC");
}

TEST(Jinja, FiltersAndMethods) {
  EXPECT_EQ(R("{{ '  a b  ' | trim }}|{{ 'xxaxx'.strip('x') }}|{{ 'a,b,,c'.split(',') }}"),
            "a b|a|['a', 'b', '', 'c']");
  EXPECT_EQ(R("{{ ' a  b '.split() }}{{ 'a.b.c'.rsplit('.', 1) }}"), "['a', 'b']['a.b', 'c']");
  EXPECT_EQ(R("{{ [3,1,2] | sort | join('-') }} {{ ['a','b'] | first }}{{ 'xyz' | last }}"),
            "1-2-3 az");
  EXPECT_EQ(R("{{ 'héllo'[1:3] }} {{ 'héllo' | length }} {{ 'héllo'[-1] }}"), "él 5 o");
  EXPECT_EQ(R("{{ ms | selectattr('role', 'equalto', 'user') | map(attribute='c') | list }}",
              "{\"ms\":[{\"role\":\"user\",\"c\":1},{\"role\":\"x\",\"c\":2}]}"),
            "[1]");
  EXPECT_EQ(R("{{ x | default('d') }}{{ '' | default('e', true) }}{{ 'aXb' | lower }}"), "deaxb");
  EXPECT_EQ(R("{{ 'hello world' | title }} {{ 'a-b' | replace('-', '+') }} {{ '12' | int + 1 }}"),
            "Hello World a+b 13");
  EXPECT_EQ(R("{{ '{} and {name}'.format(1, name='x') }}"), "1 and x");
}

TEST(Jinja, ToJsonMatchesPythonJsonDumps) {
  const char* ctx = R"({"t": {"name": "f", "n": 1.5, "k": [1, true, null], "u": "é<\n"}})";
  EXPECT_EQ(R("{{ t | tojson }}", ctx),
            R"({"name": "f", "n": 1.5, "k": [1, true, null], "u": "é<\n"})");
  EXPECT_EQ(R("{{ t.k | tojson(indent=2) }}", ctx), "[\n  1,\n  true,\n  null\n]");
  EXPECT_EQ(R("{{ t.u | tojson(ensure_ascii=true) }}", ctx), R"("\u00e9<\n")");
  EXPECT_EQ(R("{{ {'b': 1, 'a': {}} | tojson(sort_keys=true, separators=(',', ':')) }}"),
            R"({"a":{},"b":1})");
  EXPECT_EQ(R("{{ '😀' | tojson(ensure_ascii=true) }}"), R"("\ud83d\ude00")");
}

TEST(Jinja, UnsupportedConstructsFailAtParse) {
  for (const char* src : {"{% extends 'x' %}", "{% include 'x' %}", "{{ x | nosuchfilter }}",
                          "{% if x is nosuchtest %}{% endif %}",
                          "{% for x in y recursive %}{% endfor %}", "{{ f(*args) }}"}) {
    auto t = Template::Parse(src);
    ASSERT_FALSE(t.ok()) << src;
    EXPECT_EQ(t.status().code(), StatusCode::kUnsupported) << src;
    EXPECT_NE(t.status().message().find("line 1"), std::string::npos);
  }
  for (const char* src : {"{% if x %}", "{{ x ", "{{ 'abc }}", "{% for %}", "{{ ) }}"}) {
    auto t = Template::Parse(src);
    EXPECT_FALSE(t.ok()) << src;
  }
}

TEST(Jinja, RaiseExceptionAndLimits) {
  auto r = R("{{ raise_exception('bad role') }}");
  EXPECT_NE(r.find("template raised an exception: bad role"), std::string::npos);
  auto t = Template::Parse(
      "{% for i in range(100) %}{% for j in range(100) %}x{% endfor %}"
      "{% endfor %}");
  ASSERT_TRUE(t.ok());
  RenderLimits small;
  small.max_iterations = 1000;
  auto out = t->Render(Ctx("{}"), small);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kResourceExhausted);
  small = RenderLimits{};
  small.max_output_bytes = 100;
  out = t->Render(Ctx("{}"), small);
  EXPECT_EQ(out.status().code(), StatusCode::kResourceExhausted);
  auto rec = Template::Parse("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->Render(Ctx("{}")).status().code(), StatusCode::kResourceExhausted);
  std::string deep(5000, '(');
  EXPECT_FALSE(Template::Parse("{{ " + deep + " }}").ok());  // no stack overflow
  // Values nested without bound, and namespace cycles, are refused or printed finitely.
  auto nest = Template::Parse(
      "{% set ns = namespace(a=[]) %}{% for i in range(100000) %}"
      "{% set ns.a = [ns.a] %}{% endfor %}{{ ns.a | length }}");
  ASSERT_TRUE(nest.ok());
  EXPECT_EQ(nest->Render(Ctx("{}")).status().code(), StatusCode::kInvalidArgument);
  auto cycle = Template::Parse("{% set ns = namespace() %}{% set ns.self = ns %}{{ ns }}");
  ASSERT_TRUE(cycle.ok());
  auto printed = cycle->Render(Ctx("{}"));
  ASSERT_TRUE(printed.ok());
  EXPECT_NE(printed->find("..."), std::string::npos);
  nlohmann::ordered_json deep_json = nlohmann::ordered_json::array();
  for (int i = 0; i < 1000; ++i) deep_json = nlohmann::ordered_json::array({deep_json});
  ChatRequest req;
  req.messages = nlohmann::ordered_json::array({{{"role", "user"}, {"content", deep_json}}});
  EXPECT_EQ(RenderChat(*rec, req).status().code(), StatusCode::kInvalidArgument);
}

TEST(Jinja, RenderChatPassesHfVariables) {
  auto t = Template::Parse(
      "{{ bos_token }}{% for m in messages %}{{ m.role }}:{{ m.content }};{% endfor %}"
      "{{ tools is none }}{{ add_generation_prompt }}{{ enable_thinking }}");
  ASSERT_TRUE(t.ok());
  ChatRequest req;
  req.messages = nlohmann::ordered_json::parse(R"([{"role":"user","content":"hi"}])");
  req.bos_token = "<s>";
  req.extra = {{"enable_thinking", false}};
  auto r = RenderChat(*t, req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, "<s>user:hi;TrueTrueFalse");
}

#ifndef CACHET_JINJA_RANDOM_ITERATIONS
#define CACHET_JINJA_RANDOM_ITERATIONS 3000
#endif

// Random token soup never crashes the lexer, parser or interpreter: each input either fails
// with a Status or renders.
TEST(Jinja, RandomTemplatesAreSafe) {
  const std::vector<std::string> parts = {
      "{{",     "}}",    "{%",       "%}",      "{#",     "#}",     "-",      "+",         " ",
      "\n",     "if",    "for",      "in",      "endif",  "endfor", "else",   "set",       "=",
      "x",      "ns",    ".",        "a",       "[",      "]",      "(",      ")",         "{",
      "}",      ",",     ":",        "'s'",     "\"",     "1",      "2.5",    "|",         "trim",
      "length", "is",    "not",      "defined", "~",      "*",      "/",      "//",        "%",
      "**",     "macro", "endmacro", "call",    "caller", "raw",    "endraw", "namespace", "range",
      "loop",   "and",   "or",       "none",    "true",   "tojson", "items",  "\\",        "é"};
  std::mt19937 rng(11);
  int rendered = 0;
  for (int iter = 0; iter < CACHET_JINJA_RANDOM_ITERATIONS; ++iter) {
    std::string src;
    int n = 1 + rng() % 16;
    for (int i = 0; i < n; ++i) src += parts[rng() % parts.size()];
    auto t = Template::Parse(src);
    if (!t.ok()) continue;
    RenderLimits limits;
    limits.max_iterations = 10000;
    auto r = t->Render(Ctx(R"({"x": [1, "a", {"b": null}], "a": "text"})"), limits);
    rendered += r.ok();
  }
  EXPECT_GT(rendered, 100);
}

// A parsed Template is shared by request threads: concurrent renders give the same text.
TEST(Jinja, ConcurrentRendersOfOneTemplate) {
  auto t = Template::Parse(
      "{% macro m(x) %}<{{ x }}>{% endmacro %}{% set ns = namespace(n=0) %}"
      "{% for msg in messages %}{% set ns.n = ns.n + 1 %}{{ m(msg.content | upper) }}{% endfor %}"
      "{{ ns.n }}{{ tools | tojson }}");
  ASSERT_TRUE(t.ok());
  ChatRequest req;
  req.messages = nlohmann::ordered_json::parse(
      R"([{"role":"user","content":"a"},{"role":"user","content":"b"}])");
  req.tools = nlohmann::ordered_json::parse(R"([{"name":"f"}])");
  const std::string want = "<A><B>2[{\"name\": \"f\"}]";
  std::vector<int> bad(4, 0);
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] {
      for (int i = 0; i < 200; ++i) {
        auto r = RenderChat(*t, req);
        bad[k] += !r.ok() || *r != want;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace cachet::jinja
