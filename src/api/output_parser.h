// Splitting generated text into what the client sees as content, reasoning and tool calls: the
// seam where the model-specific parsers (src/tokenizer/parsers/) plug in.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "api/chat_template.h"

namespace cachet::api {

struct ParsedDelta {
  std::string content;
  std::string reasoning;
  // Tool calls completed by this delta (streaming sends each call whole once it is parsed).
  std::vector<ToolCall> tool_calls;
};

// One per request; not thread-safe. Push gets decoded text in order (already cut at stop strings);
// Finish flushes what a parser held back (an unterminated tag is returned as content).
class OutputParser {
 public:
  virtual ~OutputParser() = default;
  virtual ParsedDelta Push(std::string_view text) = 0;
  virtual ParsedDelta Finish() = 0;
};

// Everything is content.
std::unique_ptr<OutputParser> MakePassthroughParser();

}  // namespace cachet::api
