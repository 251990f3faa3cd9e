#include "api/chat_template.h"

namespace cachet::api {
namespace {

class ChatMlTemplate final : public ChatTemplate {
 public:
  Result<std::string> Render(const std::vector<ChatMessage>& messages,
                             const RenderOptions& options) const override {
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
