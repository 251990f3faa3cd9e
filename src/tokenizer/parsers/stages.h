// Internal stages of OutputParser: the reasoning splitter and the tool-call parsers.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/parsers/output_parser.h"

namespace cachet::parsers {

// Splits <think>...</think> (markers configurable) from content. Reasoning is emitted as events;
// content text is appended to *content for the tool-call stage. Whitespace right after either
// marker and right before the end marker is dropped.
class ReasoningSplitter {
 public:
  ReasoningSplitter(std::string start, std::string end, bool starts_in_reasoning);
  void Feed(std::string_view text, std::vector<OutputEvent>* out, std::string* content);
  void Finish(std::vector<OutputEvent>* out, std::string* content);

 private:
  enum class State { kStart, kReasoning, kContent };
  void Reasoning(std::vector<OutputEvent>* out, std::string* content);
  std::string start_, end_;
  State state_;
  bool strip_leading_ = true;
  size_t start_scanned_ = 0;  // kStart: leading whitespace bytes already scanned
  std::string buf_;
  std::string pending_ws_;  // kReasoning: whitespace held until non-space text follows
};

// Turns content text into content and tool-call events.
class ToolCallParser {
 public:
  ToolCallParser(std::string id_prefix, bool stream)
      : id_prefix_(std::move(id_prefix)), stream_(stream) {}
  virtual ~ToolCallParser() = default;
  virtual void Feed(std::string_view text, std::vector<OutputEvent>* out) = 0;
  virtual void Finish(std::vector<OutputEvent>* out) = 0;

 protected:
  void EmitContent(std::string_view text, std::vector<OutputEvent>* out);
  // Content between or after tool calls: whitespace-only runs are dropped (held until a
  // non-space character decides), other text is emitted as is.
  void EmitTrailingContent(std::string_view text, std::vector<OutputEvent>* out);
  void DropPendingSpace() { pending_space_.clear(); }
  void EmitCall(const std::string& name, const std::string& arguments,
                std::vector<OutputEvent>* out);
  int calls() const { return next_index_; }

  // Streaming mode (OutputParserConfig::stream_tool_arguments): a parser calls StreamArguments
  // with each newly certain piece of a call's arguments once its name is known; the first call
  // opens the call. CloseStreamedCall ends it: when the complete call parsed (`ok`) and its
  // arguments extend what was streamed, the rest is emitted first.
  static constexpr size_t kMaxStreamHeader = 4096;  // bytes to find a call's name and arguments
  bool streaming() const { return stream_; }
  bool call_open() const { return open_; }
  void StreamArguments(const std::string& name, std::string_view delta,
                       std::vector<OutputEvent>* out);
  void CloseStreamedCall(bool ok, const std::string& args, std::vector<OutputEvent>* out);

 private:
  void EmitStart(const std::string& name, std::vector<OutputEvent>* out);
  void EmitArguments(std::string_view text, std::vector<OutputEvent>* out);
  void EmitEnd(std::vector<OutputEvent>* out);

  std::string id_prefix_;
  bool stream_;
  std::string pending_space_;
  int next_index_ = 0;
  bool open_ = false;
  std::string streamed_;  // arguments emitted so far for the open call
};

std::unique_ptr<ToolCallParser> MakeToolCallParser(ToolCallFormat format, std::string id_prefix,
                                                   bool stream);
std::unique_ptr<ToolCallParser> MakeDeepSeekParser(bool v31, std::string id_prefix, bool stream);
std::unique_ptr<ToolCallParser> MakeQwenParser(std::string id_prefix, bool stream);
std::unique_ptr<ToolCallParser> MakeLlamaParser(std::string id_prefix);

// Helpers shared by the parsers.
bool IsSpace(char c);
std::string_view TrimSpace(std::string_view s);
// Arguments of a tool call are the model's own text (validated as JSON, not re-serialized), so a
// client that sends the call back gets the same prompt bytes re-rendered (prefix-cache hits).
// `json` trimmed; a JSON string value is unquoted (the arguments were encoded as a string).
// Returns false when `json` is not valid JSON.
bool ArgumentsText(std::string_view json, std::string* out);
// The raw text of member `key` of the top-level JSON object `obj` (which must be valid JSON);
// false when absent.
bool MemberText(std::string_view obj, std::string_view key, std::string_view* value);

}  // namespace cachet::parsers
