// Output parsers: every case is fed whole, byte by byte, and split in two at every byte
// boundary; all chunkings must give the same content, reasoning and tool calls.
#include "tokenizer/parsers/output_parser.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "tokenizer/parsers/stages.h"

namespace cachet::parsers {
namespace {

struct Call {
  std::string id, name, args;
  bool operator==(const Call& o) const { return id == o.id && name == o.name && args == o.args; }
};

struct Result {
  std::string content, reasoning;
  std::vector<Call> calls;
  bool operator==(const Result& o) const {
    return content == o.content && reasoning == o.reasoning && calls == o.calls;
  }
};

std::ostream& operator<<(std::ostream& os, const Result& r) {
  os << "content=[" << r.content << "] reasoning=[" << r.reasoning << "] calls=";
  for (const auto& c : r.calls) os << "{" << c.id << " " << c.name << " " << c.args << "}";
  return os;
}

Result Collect(const std::vector<OutputEvent>& events) {
  Result r;
  int open = -1;
  for (const auto& e : events) {
    switch (e.kind) {
      case OutputEvent::Kind::kContent:
        EXPECT_EQ(open, -1) << "content inside a tool call";
        r.content += e.text;
        break;
      case OutputEvent::Kind::kReasoning:
        r.reasoning += e.text;
        break;
      case OutputEvent::Kind::kToolCallStart:
        EXPECT_EQ(open, -1);
        open = e.tool_index;
        EXPECT_EQ(e.tool_index, static_cast<int>(r.calls.size()));
        r.calls.push_back({e.tool_id, e.tool_name, ""});
        break;
      case OutputEvent::Kind::kToolCallArguments:
        EXPECT_EQ(e.tool_index, open);
        if (!r.calls.empty()) r.calls.back().args += e.text;
        break;
      case OutputEvent::Kind::kToolCallEnd:
        EXPECT_EQ(e.tool_index, open);
        open = -1;
        break;
    }
  }
  EXPECT_EQ(open, -1) << "unterminated tool call";
  return r;
}

Result RunParser(const OutputParserConfig& cfg, const std::vector<std::string>& chunks) {
  OutputParser p(cfg);
  std::vector<OutputEvent> events;
  for (const auto& c : chunks) p.Feed(c, &events);
  p.Finish(&events);
  return Collect(events);
}

// Parses `text` whole, byte by byte and split at every boundary; all must agree.
Result ParseAllChunkings(const OutputParserConfig& cfg, const std::string& text) {
  Result whole = RunParser(cfg, {text});
  std::vector<std::string> bytes;
  for (char c : text) bytes.emplace_back(1, c);
  EXPECT_EQ(RunParser(cfg, bytes), whole) << "byte by byte: " << text;
  for (size_t k = 0; k <= text.size(); ++k) {
    Result split = RunParser(cfg, {text.substr(0, k), text.substr(k)});
    EXPECT_EQ(split, whole) << "split at " << k << ": " << text;
    if (!(split == whole)) break;
  }
  return whole;
}

OutputParserConfig Reasoning(bool starts_inside = false) {
  OutputParserConfig c;
  c.reasoning = true;
  c.starts_in_reasoning = starts_inside;
  return c;
}

OutputParserConfig Tools(ToolCallFormat f, bool reasoning = false) {
  OutputParserConfig c;
  c.tools = f;
  c.reasoning = reasoning;
  return c;
}

TEST(Reasoning, SplitsThinkBlock) {
  Result r =
      ParseAllChunkings(Reasoning(), "<think>\nLet me think.\nOK.\n</think>\n\nThe answer is 4.");
  EXPECT_EQ(r.reasoning, "Let me think.\nOK.");
  EXPECT_EQ(r.content, "The answer is 4.");
}

TEST(Reasoning, PromptAlreadyOpenedThink) {
  Result r =
      ParseAllChunkings(Reasoning(true), "Reasoning < here </thin not yet</think>Done <think>");
  EXPECT_EQ(r.reasoning, "Reasoning < here </thin not yet");
  EXPECT_EQ(r.content, "Done <think>");
}

TEST(Reasoning, NoThinkBlockIsContent) {
  Result r = ParseAllChunkings(Reasoning(), "  Hello <think>x</think>");
  EXPECT_EQ(r.reasoning, "");
  EXPECT_EQ(r.content, "  Hello <think>x</think>");
  r = ParseAllChunkings(Reasoning(), "<thin");
  EXPECT_EQ(r.content, "<thin");
  r = ParseAllChunkings(Reasoning(), " \n ");
  EXPECT_EQ(r.content, " \n ");
}

TEST(Reasoning, UnterminatedReasoningStaysReasoning) {
  Result r = ParseAllChunkings(Reasoning(), "<think>still thinking </thi");
  EXPECT_EQ(r.reasoning, "still thinking </thi");
  EXPECT_EQ(r.content, "");
}

TEST(Reasoning, Utf8IsNeverSplit) {
  OutputParserConfig cfg = Reasoning();
  std::string text = "<think>思考 é</think>答案😀";
  std::vector<std::string> bytes;
  for (char c : text) bytes.emplace_back(1, c);
  OutputParser p(cfg);
  std::vector<OutputEvent> events;
  for (const auto& b : bytes) p.Feed(b, &events);
  p.Finish(&events);
  for (const auto& e : events) {
    // Every event's text is complete UTF-8: no continuation byte at the start.
    if (!e.text.empty()) EXPECT_NE(static_cast<unsigned char>(e.text[0]) & 0xc0, 0x80);
  }
  EXPECT_EQ(Collect(events).content, "答案😀");
}

TEST(ToolCalls, DeepSeekV3) {
  std::string text =
      "Let me check.<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n"
      "```json\n{\"city\": \"Paris\"}\n```<｜tool▁call▁end｜>\n<｜tool▁call▁begin｜>function"
      "<｜tool▁sep｜>search\n```json\n{\"q\": \"a<b\"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>";
  Result r = ParseAllChunkings(Tools(ToolCallFormat::kDeepSeekV3), text);
  EXPECT_EQ(r.content, "Let me check.");
  ASSERT_EQ(r.calls.size(), 2u);
  EXPECT_EQ(r.calls[0], (Call{"call_0", "get_weather", R"({"city": "Paris"})"}));
  EXPECT_EQ(r.calls[1], (Call{"call_1", "search", R"({"q": "a<b"})"}));
}

TEST(ToolCalls, DeepSeekR1WithReasoning) {
  std::string text =
      "I need the weather.\n</think>\n\n<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function"
      "<｜tool▁sep｜>get_weather\n```json\n{}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>";
  OutputParserConfig cfg = Tools(ToolCallFormat::kDeepSeekV3, true);
  cfg.starts_in_reasoning = true;
  Result r = ParseAllChunkings(cfg, text);
  EXPECT_EQ(r.reasoning, "I need the weather.");
  EXPECT_EQ(r.content, "");
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls[0].args, "{}");
}

TEST(ToolCalls, DeepSeekV31) {
  std::string text =
      "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{\"city\": \"東京\"}"
      "<｜tool▁call▁end｜><｜tool▁call▁begin｜>search<｜tool▁sep｜>{\"q\": 1}<｜tool▁call▁end｜>"
      "<｜tool▁calls▁end｜>";
  Result r = ParseAllChunkings(Tools(ToolCallFormat::kDeepSeekV31), text);
  EXPECT_EQ(r.content, "");
  ASSERT_EQ(r.calls.size(), 2u);
  EXPECT_EQ(r.calls[0], (Call{"call_0", "get_weather", R"({"city": "東京"})"}));
  EXPECT_EQ(r.calls[1], (Call{"call_1", "search", R"({"q": 1})"}));
}

TEST(ToolCalls, DeepSeekMalformedIsContent) {
  std::string bad =
      "x<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{not json"
      "<｜tool▁call▁end｜>";
  Result r = ParseAllChunkings(Tools(ToolCallFormat::kDeepSeekV31), bad);
  EXPECT_TRUE(r.calls.empty());
  EXPECT_EQ(r.content,
            "x<｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{not json<｜tool▁call▁end｜>");
  r = ParseAllChunkings(Tools(ToolCallFormat::kDeepSeekV31),
                        "<｜tool▁call▁begin｜>f<｜tool▁sep｜>{\"a\":");  // output stopped mid-call
  EXPECT_TRUE(r.calls.empty());
  EXPECT_EQ(r.content, "<｜tool▁call▁begin｜>f<｜tool▁sep｜>{\"a\":");
  r = ParseAllChunkings(Tools(ToolCallFormat::kDeepSeekV3), "just text <｜tool");
  EXPECT_EQ(r.content, "just text <｜tool");
}

TEST(ToolCalls, Qwen) {
  std::string text =
      "Checking both.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": "
      "\"Paris\", \"days\": [1, 2]}}\n</tool_call>\n<tool_call>\n{\"name\": \"search\", "
      "\"arguments\": \"{\\\"q\\\": \\\"x\\\"}\"}\n</tool_call>";
  Result r = ParseAllChunkings(Tools(ToolCallFormat::kQwen), text);
  EXPECT_EQ(r.content, "Checking both.\n");
  ASSERT_EQ(r.calls.size(), 2u);
  EXPECT_EQ(r.calls[0], (Call{"call_0", "get_weather", R"({"city": "Paris", "days": [1, 2]})"}));
  EXPECT_EQ(r.calls[1], (Call{"call_1", "search", R"({"q": "x"})"}));
}

TEST(ToolCalls, QwenThinkingThenCall) {
  std::string text =
      "<think>\nuse the tool\n</think>\n\n<tool_call>\n{\"name\": \"f\", "
      "\"arguments\": {}}\n</tool_call>";
  Result r = ParseAllChunkings(Tools(ToolCallFormat::kQwen, true), text);
  EXPECT_EQ(r.reasoning, "use the tool");
  EXPECT_EQ(r.content, "");
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls[0].name, "f");
}

TEST(ToolCalls, QwenMalformedIsContent) {
  Result r = ParseAllChunkings(Tools(ToolCallFormat::kQwen),
                               "a<tool_call>{\"arguments\": {}}</tool_call>b");
  EXPECT_TRUE(r.calls.empty());
  EXPECT_EQ(r.content, "a<tool_call>{\"arguments\": {}}</tool_call>b");
  r = ParseAllChunkings(Tools(ToolCallFormat::kQwen), "<tool_call>{\"name\": \"f\", \"argu");
  EXPECT_TRUE(r.calls.empty());
  EXPECT_EQ(r.content, "<tool_call>{\"name\": \"f\", \"argu");
  // A complete object without the closing tag (generation stopped on EOS) is still a call.
  r = ParseAllChunkings(Tools(ToolCallFormat::kQwen), "<tool_call>\n{\"name\": \"f\"}\n");
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls[0].args, "{}");
}

TEST(ToolCalls, Llama31) {
  Result r =
      ParseAllChunkings(Tools(ToolCallFormat::kLlama31),
                        " {\"name\": \"get_weather\", \"parameters\": {\"city\": \"{Paris}\"}}");
  EXPECT_EQ(r.content, "");
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls[0], (Call{"call_0", "get_weather", R"({"city": "{Paris}"})"}));
  r = ParseAllChunkings(Tools(ToolCallFormat::kLlama31),
                        "<|python_tag|>{\"name\": \"a\", \"parameters\": {}}; {\"name\": \"b\", "
                        "\"parameters\": {\"x\": \"}\"}}");
  ASSERT_EQ(r.calls.size(), 2u);
  EXPECT_EQ(r.calls[1], (Call{"call_1", "b", R"({"x": "}"})"}));
  r = ParseAllChunkings(Tools(ToolCallFormat::kLlama31), "{\"answer\": 42} is JSON");
  EXPECT_TRUE(r.calls.empty());
  EXPECT_EQ(r.content, "{\"answer\": 42} is JSON");
  r = ParseAllChunkings(Tools(ToolCallFormat::kLlama31),
                        "Hello {\"name\": \"x\", \"parameters\": {}}");
  EXPECT_TRUE(r.calls.empty());
  r = ParseAllChunkings(Tools(ToolCallFormat::kLlama31),
                        "<|python_tag|>brave_search.call(query=\"x\")");
  EXPECT_EQ(r.content, "<|python_tag|>brave_search.call(query=\"x\")");
  r = ParseAllChunkings(Tools(ToolCallFormat::kLlama31), "  {\"name\": \"a\", \"param");
  EXPECT_EQ(r.content, "  {\"name\": \"a\", \"param");
}

// Arguments keep the model's bytes: a client sending the call back re-renders the same prompt.
TEST(ToolCalls, ArgumentsAreTheModelsText) {
  std::string_view v;
  const std::string obj =
      R"( {"arguments" : {"a": {"arguments": 1}, "s": "}\"{"} , "name": "f", "n": -1.5e3, "t": true} )";
  ASSERT_TRUE(MemberText(obj, "arguments", &v));
  EXPECT_EQ(v, R"({"a": {"arguments": 1}, "s": "}\"{"})");
  ASSERT_TRUE(MemberText(obj, "name", &v));
  EXPECT_EQ(v, R"("f")");
  ASSERT_TRUE(MemberText(obj, "n", &v));
  EXPECT_EQ(v, "-1.5e3");
  ASSERT_TRUE(MemberText(obj, "t", &v));
  EXPECT_EQ(v, "true");
  EXPECT_FALSE(MemberText(obj, "a", &v));  // nested keys are not members
  std::string args;
  ASSERT_TRUE(ArgumentsText("  {\"x\":  [1,2]} \n", &args));
  EXPECT_EQ(args, "{\"x\":  [1,2]}");
  ASSERT_TRUE(ArgumentsText("\"{\\\"x\\\": 1}\"", &args));  // arguments encoded as a string
  EXPECT_EQ(args, "{\"x\": 1}");
  EXPECT_FALSE(ArgumentsText("{\"x\": ", &args));
  Result r = ParseAllChunkings(
      Tools(ToolCallFormat::kQwen),
      "<tool_call>\n{\"arguments\": {\"k\":\"v\" ,\"n\": 1}, \"name\": \"g\"}\n</tool_call>");
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls[0], (Call{"call_0", "g", "{\"k\":\"v\" ,\"n\": 1}"}));
}

TEST(ToolCalls, FormatDetection) {
  EXPECT_EQ(ToolCallFormatForTemplate("{{'<｜tool▁call▁begin｜>' + t + '```json'}}"),
            ToolCallFormat::kDeepSeekV3);
  EXPECT_EQ(ToolCallFormatForTemplate("{{'<｜tool▁call▁begin｜>' + name + '<｜tool▁sep｜>'}}"),
            ToolCallFormat::kDeepSeekV31);
  EXPECT_EQ(ToolCallFormatForTemplate("<tool_call>"), ToolCallFormat::kQwen);
  EXPECT_EQ(ToolCallFormatForTemplate("<|python_tag|>"), ToolCallFormat::kLlama31);
  EXPECT_EQ(ToolCallFormatForTemplate("plain"), ToolCallFormat::kNone);
  EXPECT_TRUE(PromptOpensReasoning("<｜Assistant｜><think>\n"));
  EXPECT_FALSE(PromptOpensReasoning("<think>\n\n</think>\n\n"));
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The formats of the real templates: the shared tokenizer configs and the test templates.
TEST(ToolCalls, FormatOfKnownTemplates) {
  const std::string shared = CACHET_PARSERS_TEST_SHARED_DIR;
  auto cfg_template = [&](const std::string& name) {
    auto j =
        nlohmann::json::parse(ReadFile(shared + "/tokenizers/" + name + "/tokenizer_config.json"));
    return j["chat_template"].get<std::string>();
  };
  EXPECT_EQ(ToolCallFormatForTemplate(cfg_template("deepseek-v3")), ToolCallFormat::kDeepSeekV3);
  EXPECT_EQ(ToolCallFormatForTemplate(cfg_template("qwen3")), ToolCallFormat::kQwen);
  EXPECT_EQ(ToolCallFormatForTemplate(cfg_template("llama3")), ToolCallFormat::kNone);
  const std::string dir = CACHET_PARSERS_TEST_TEMPLATES_DIR;
  EXPECT_EQ(ToolCallFormatForTemplate(ReadFile(dir + "/deepseek_r1.jinja")),
            ToolCallFormat::kDeepSeekV3);
  EXPECT_EQ(ToolCallFormatForTemplate(ReadFile(dir + "/deepseek_v31.jinja")),
            ToolCallFormat::kDeepSeekV31);
  EXPECT_EQ(ToolCallFormatForTemplate(ReadFile(dir + "/qwen25_tools.jinja")),
            ToolCallFormat::kQwen);
  EXPECT_EQ(ToolCallFormatForTemplate(ReadFile(dir + "/llama31_tools.jinja")),
            ToolCallFormat::kLlama31);
  EXPECT_EQ(ToolCallFormatForTemplate(ReadFile(dir + "/mistral.jinja")), ToolCallFormat::kNone);
}

// Streaming mode: same content, reasoning and calls as the whole-call mode for well-formed
// output, under every chunking; arguments arrive in several deltas before the call ends.
TEST(ToolCalls, StreamingMatchesWholeCalls) {
  struct Case {
    ToolCallFormat format;
    std::string text;
  };
  const std::vector<Case> cases = {
      {ToolCallFormat::kDeepSeekV3,
       "Hi.<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n"
       "{\"city\": \"Paris `x`\"}\n```<｜tool▁call▁end｜>\n<｜tool▁call▁begin｜>function"
       "<｜tool▁sep｜>f\n{\"a\": [1, 2]}  <｜tool▁call▁end｜><｜tool▁calls▁end｜>"},
      {ToolCallFormat::kDeepSeekV31,
       "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>  {\"city\": \"東京\"} "
       "\n"
       "<｜tool▁call▁end｜><｜tool▁call▁begin｜>s<｜tool▁sep｜>\"{\\\"q\\\": "
       "1}\"<｜tool▁call▁end｜>"
       "<｜tool▁calls▁end｜>"},
      {ToolCallFormat::kQwen,
       "Checking.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"P}\\\"]\", "
       "\"d\": [1, {\"x\": 2}]}}\n</tool_call>\n<tool_call>\n{\"arguments\": {}, \"name\": \"g\"}\n"
       "</tool_call><tool_call>{\"name\": \"h\", \"arguments\": \"{}\"}</tool_call>"},
  };
  for (const Case& c : cases) {
    OutputParserConfig whole_cfg = Tools(c.format);
    OutputParserConfig stream_cfg = whole_cfg;
    stream_cfg.stream_tool_arguments = true;
    Result whole = RunParser(whole_cfg, {c.text});
    ASSERT_GE(whole.calls.size(), 2u) << c.text;
    EXPECT_EQ(ParseAllChunkings(stream_cfg, c.text), whole) << c.text;
    // Byte by byte, the first call's arguments come in several deltas, before its end.
    OutputParser p(stream_cfg);
    std::vector<OutputEvent> events;
    for (char ch : c.text) p.Feed(std::string(1, ch), &events);
    p.Finish(&events);
    int deltas = 0;
    for (const auto& e : events) {
      if (e.kind == OutputEvent::Kind::kToolCallArguments && e.tool_index == 0) ++deltas;
      if (e.kind == OutputEvent::Kind::kToolCallEnd) break;
    }
    EXPECT_GT(deltas, 3) << c.text;
  }
}

TEST(ToolCalls, StreamingClosesCutOffCalls) {
  OutputParserConfig cfg = Tools(ToolCallFormat::kDeepSeekV31);
  cfg.stream_tool_arguments = true;
  Result r = ParseAllChunkings(cfg, "<｜tool▁call▁begin｜>f<｜tool▁sep｜>{\"a\": 1");
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls[0].args, "{\"a\": 1");
  EXPECT_EQ(r.content, "");
  cfg.tools = ToolCallFormat::kQwen;
  r = ParseAllChunkings(cfg, "<tool_call>{\"name\": \"f\", \"arguments\": {\"a\": ");
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls[0].args, "{\"a\": ");
  // Before the name is certain nothing is opened: malformed headers are still content.
  r = ParseAllChunkings(cfg, "<tool_call>{\"nam");
  EXPECT_TRUE(r.calls.empty());
  EXPECT_EQ(r.content, "<tool_call>{\"nam");
  // Once the header is certain the call stands, whatever the chunking (here: bad arguments).
  r = ParseAllChunkings(cfg, "<tool_call>{\"name\": \"f\", \"arguments\": {x}}</tool_call>");
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls[0].args, "{x}");
  cfg.tools = ToolCallFormat::kDeepSeekV3;
  r = ParseAllChunkings(
      cfg,
      "<｜tool▁call▁begin｜>function<｜tool▁sep｜>f\n```json\n{bad ``` \n```<｜tool▁call▁end｜>");
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls[0].args, "{bad");
}

#ifndef CACHET_PARSERS_RANDOM_ITERATIONS
#define CACHET_PARSERS_RANDOM_ITERATIONS 150
#endif
constexpr int kRandomIterations = CACHET_PARSERS_RANDOM_ITERATIONS;

// Random mixtures of marker fragments and text never crash and are chunking-invariant.
TEST(ToolCalls, RandomInputsAreSafeAndChunkingInvariant) {
  const std::vector<std::string> pieces = {"<think>",
                                           "</think>",
                                           "<tool_call>",
                                           "</tool_call>",
                                           "{\"name\": \"f\", \"arguments\": {}}",
                                           "<｜tool▁calls▁begin｜>",
                                           "<｜tool▁call▁begin｜>",
                                           "<｜tool▁sep｜>",
                                           "<｜tool▁call▁end｜>",
                                           "<｜tool▁calls▁end｜>",
                                           "function",
                                           "\n```json\n",
                                           "{",
                                           "}",
                                           "\"",
                                           "\\",
                                           " ",
                                           "\n",
                                           "x",
                                           "<|python_tag|>",
                                           "<",
                                           "｜",
                                           "é",
                                           ";",
                                           "{\"name\": \"f\", \"arguments\": ",
                                           "```",
                                           "[",
                                           "]"};
  std::mt19937 rng(7);
  for (ToolCallFormat f : {ToolCallFormat::kDeepSeekV3, ToolCallFormat::kDeepSeekV31,
                           ToolCallFormat::kQwen, ToolCallFormat::kLlama31}) {
    for (int iter = 0; iter < kRandomIterations; ++iter) {
      std::string text;
      int n = rng() % 12;
      for (int i = 0; i < n; ++i) text += pieces[rng() % pieces.size()];
      OutputParserConfig cfg = Tools(f, iter % 2 == 0);
      cfg.stream_tool_arguments = iter % 3 == 0;
      Result whole = RunParser(cfg, {text});
      std::vector<std::string> chunks;
      for (size_t i = 0; i < text.size();) {
        size_t len = 1 + rng() % 5;
        chunks.push_back(text.substr(i, len));
        i += len;
      }
      EXPECT_EQ(RunParser(cfg, chunks), whole) << text;
    }
  }
}

TEST(ToolCalls, LinearTimeOnAdversarialInput) {
  auto t0 = std::chrono::steady_clock::now();
  for (ToolCallFormat f :
       {ToolCallFormat::kDeepSeekV3, ToolCallFormat::kQwen, ToolCallFormat::kLlama31}) {
    for (const std::string& unit :
         {std::string("<"), std::string(" "), std::string("<｜tool▁"), std::string("{\"a\":[")}) {
      OutputParserConfig cfg = Tools(f, true);
      cfg.stream_tool_arguments = true;
      OutputParser p(cfg);
      std::vector<OutputEvent> events;
      size_t total = 0;
      while (total < (1u << 16)) {  // 64 KiB fed in small deltas (quadratic would take minutes)
        p.Feed(unit, &events);
        total += unit.size();
      }
      p.Finish(&events);
    }
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(s, 5.0);
}

}  // namespace
}  // namespace cachet::parsers
