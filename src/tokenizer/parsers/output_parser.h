// Incremental parsers for model output (used by the API layer while streaming): split reasoning
// (<think>...</think>) from content, and turn tool-call markup into structured calls.
//
// Feed() takes text deltas as the model produces them (any split, even inside a UTF-8 sequence
// or a marker) and appends events; Finish() flushes what is held back at the end of generation.
// Feeding the same text with any chunking gives the same concatenated content, the same
// concatenated reasoning and the same tool calls.
//
// Holding back: text that might be the start of a marker ("<thi", "<｜tool") is held only while
// it can still become one; incomplete UTF-8 sequences are held until complete. By default a tool
// call is emitted as a whole when its end marker arrives (start, one arguments delta, end), so
// malformed tool-call markup (bad JSON, missing name, output that stops inside a call) is
// returned as plain content instead, never as a broken call; stream_tool_arguments trades that
// for earlier argument deltas.
//
// Cost: linear in the output length (no regex; marker search over a bounded window).
// Thread-safety: one parser per response stream; not shared between threads.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace cachet::parsers {

struct OutputEvent {
  enum class Kind { kContent, kReasoning, kToolCallStart, kToolCallArguments, kToolCallEnd };
  Kind kind = Kind::kContent;
  // Content / reasoning delta, or the arguments: the model's JSON text as generated (validated,
  // trimmed, not re-serialized; a JSON string is unquoted), so sending the call back in the next
  // request re-renders the same prompt bytes.
  std::string text;
  int tool_index = -1;    // 0, 1, ... for tool-call events
  std::string tool_id;    // kToolCallStart
  std::string tool_name;  // kToolCallStart
};

enum class ToolCallFormat {
  kNone,
  kDeepSeekV3,  // <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME\n```json\nARGS\n```<｜tool▁call▁end｜>...
  kDeepSeekV31,  // <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>NAME<｜tool▁sep｜>ARGS<｜tool▁call▁end｜>...
  kQwen,         // <tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>
  kLlama31,      // the whole reply is {"name": ..., "parameters": {...}} (optionally after
                 // <|python_tag|>)
};

struct OutputParserConfig {
  bool reasoning = false;            // split <think>...</think>
  bool starts_in_reasoning = false;  // the prompt already opened <think>: output starts inside it
  std::string think_start = "<think>";
  std::string think_end = "</think>";
  ToolCallFormat tools = ToolCallFormat::kNone;
  std::string tool_id_prefix = "call_";  // ids are prefix + index
  // Stream tool calls (DeepSeek, Qwen): open a call as soon as its name is known and emit its
  // arguments as they are generated, holding back only what may still be a closing marker or
  // trimmed whitespace. The concatenated arguments equal the non-streaming ones for every
  // well-formed call. Trade-off: once opened, a call whose arguments then turn out malformed or
  // unfinished is still closed as a call (its arguments as generated), not returned as content.
  // Qwen calls stream when written name-first with object/array arguments; other shapes and
  // Llama 3.1 calls are emitted whole.
  bool stream_tool_arguments = false;
};

class OutputParser {
 public:
  explicit OutputParser(OutputParserConfig config);
  ~OutputParser();
  OutputParser(const OutputParser&) = delete;
  OutputParser& operator=(const OutputParser&) = delete;

  void Feed(std::string_view delta, std::vector<OutputEvent>* out);
  void Finish(std::vector<OutputEvent>* out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The tool-call format a chat template renders (looks for its markers); kNone when unknown.
ToolCallFormat ToolCallFormatForTemplate(const std::string& chat_template);
// True when a rendered prompt ends inside an opened reasoning block ("<think>" / "<think>\n"),
// so the output starts with reasoning (DeepSeek-R1, Qwen3 thinking templates).
bool PromptOpensReasoning(const std::string& prompt, const std::string& think_start = "<think>",
                          const std::string& think_end = "</think>");

// Longest suffix of `s` that is a proper prefix of `marker` (0 if none).
size_t PartialMarkerSuffix(std::string_view s, std::string_view marker);

}  // namespace cachet::parsers
