#include "api/chat_template.h"

namespace cachet::api {
namespace {

// Tool definitions in the Qwen style (the format the fallback's tool-call parser reads).
std::string ToolsBlock(const std::vector<ToolDefinition>& tools) {
  std::string out =
      "# Tools\n\nYou may call one or more functions. Function signatures:\n<tools>\n";
  for (const ToolDefinition& t : tools) {
    out += "{\"type\": \"function\", \"function\": {\"name\": \"" + t.name +
           "\", \"parameters\": " + t.parameters_json + "}}\n";
  }
  return out +
         "</tools>\n\nTo call a function, reply with:\n<tool_call>\n{\"name\": <name>, "
         "\"arguments\": <args-json-object>}\n</tool_call>";
}

class ChatMlTemplate final : public ChatTemplate {
 public:
  bool SupportsTools() const override { return true; }

  Result<std::string> Render(const std::vector<ChatMessage>& in,
                             const RenderOptions& options) const override {
    std::vector<ChatMessage> messages = in;
    if (!options.tools.empty()) {
      if (messages.empty() || messages[0].role != "system") {
        messages.insert(messages.begin(), ChatMessage{"system", ""});
      }
      std::string& sys = messages[0].content;
      sys += (sys.empty() ? "" : "\n\n") + ToolsBlock(options.tools);
    }
    std::string out;
    for (size_t i = 0; i < messages.size(); ++i) {
      const ChatMessage& m = messages[i];
      const bool open_end = options.continue_final_message && i + 1 == messages.size();
      out += "<|im_start|>" + m.role + "\n";
      if (!m.reasoning.empty() && open_end) out += "<think>\n" + m.reasoning + "\n</think>\n";
      out += m.content;
      for (const ToolCall& c : m.tool_calls) {
        out += "<tool_call>\n{\"name\": \"" + c.name + "\", \"arguments\": " + c.arguments +
               "}\n</tool_call>";
      }
      if (open_end) return out;
      out += "<|im_end|>\n";
    }
    if (options.add_generation_prompt) out += "<|im_start|>assistant\n";
    return out;
  }
};

}  // namespace

std::unique_ptr<ChatTemplate> MakeChatMlTemplate() { return std::make_unique<ChatMlTemplate>(); }

}  // namespace cachet::api
