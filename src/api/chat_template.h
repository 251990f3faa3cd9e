// Rendering chat messages to prompt text: the seam where the model's own chat template (a Jinja
// interpreter, src/tokenizer/jinja/) plugs in. Both protocols translate their messages to
// ChatMessage at the edge; nothing here knows which protocol a request came from.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"

namespace cachet::api {

struct ToolCall {
  std::string id;         // "call_..."
  std::string name;       // function name
  std::string arguments;  // JSON text of the arguments object
};

struct ChatMessage {
  std::string role;                  // "system" | "user" | "assistant" | "tool"
  std::string content;               // text (parts already concatenated)
  std::string reasoning;             // assistant thinking text, may be empty
  std::string name;                  // optional participant name
  std::string tool_call_id;          // role "tool": the call it answers
  std::vector<ToolCall> tool_calls;  // role "assistant"
};

struct ToolDefinition {
  std::string name;
  std::string description;
  std::string parameters_json;  // JSON schema text ("{}" when absent)
};

struct RenderOptions {
  // Append the assistant turn opener so the model answers. False when the last assistant message
  // is a prefix to continue (assistant prefix completion): it is rendered open-ended instead.
  bool add_generation_prompt = true;
  bool continue_final_message = false;
  bool enable_thinking = false;
  std::vector<ToolDefinition> tools;
};

// Thread-safety: Render may be called from many HTTP threads at once (implementations are
// immutable after construction).
class ChatTemplate {
 public:
  virtual ~ChatTemplate() = default;
  // Prompt text for the messages (special tokens as text: the caller encodes with
  // parse_special). Errors: InvalidArgument when the template rejects the conversation (e.g. it
  // raises on an unsupported role order); the message says why.
  virtual Result<std::string> Render(const std::vector<ChatMessage>& messages,
                                     const RenderOptions& options) const = 0;
  // Whether the template renders `tools` (if false, requests with tools get a 400).
  virtual bool SupportsTools() const { return false; }
};

// ChatML (<|im_start|>role\ncontent<|im_end|>\n ... <|im_start|>assistant\n): the fallback for
// models whose GGUF has no chat template and for tests (the byte-level test vocabulary has these
// special tokens). Tool calls and tool results are rendered as plain text.
std::unique_ptr<ChatTemplate> MakeChatMlTemplate();

}  // namespace cachet::api
