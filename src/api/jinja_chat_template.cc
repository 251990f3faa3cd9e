#include "api/jinja_chat_template.h"

#include "tokenizer/jinja/template.h"

namespace cachet::api {

namespace {

using ojson = nlohmann::ordered_json;

ojson MessageJson(const ChatMessage& m) {
  ojson j = {{"role", m.role}, {"content", m.content}};
  if (!m.reasoning.empty()) j["reasoning_content"] = m.reasoning;
  if (!m.name.empty()) j["name"] = m.name;
  if (!m.tool_call_id.empty()) j["tool_call_id"] = m.tool_call_id;
  if (!m.tool_calls.empty()) {
    ojson calls = ojson::array();
    for (const ToolCall& c : m.tool_calls) {
      ojson args = ojson::parse(c.arguments, nullptr, false);
      if (args.is_discarded()) args = c.arguments;  // not JSON: pass the text through
      calls.push_back({{"id", c.id},
                       {"type", "function"},
                       {"function", {{"name", c.name}, {"arguments", args}}}});
    }
    j["tool_calls"] = std::move(calls);
    if (m.content.empty()) j["content"] = nullptr;
  }
  return j;
}

std::string_view Strip(std::string_view s, bool left, bool right) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (left && !s.empty() && space(s.front())) s.remove_prefix(1);
  while (right && !s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

// Cuts the rendered conversation right after the final message's content, as transformers'
// continue_final_message does (templates often trim the content: match it stripped).
Result<std::string> CutAfterFinal(const std::string& text, const std::string& content) {
  const std::string_view stripped = Strip(content, true, true);
  const size_t at = stripped.empty() ? std::string::npos : text.rfind(stripped);
  if (at == std::string::npos) {
    return InvalidArgument(
        "the chat template does not render the final message's content; "
        "prefix completion is not possible with this model");
  }
  const std::string_view left = Strip(content, true, false);
  if (text.compare(at, left.size(), left) == 0) return text.substr(0, at + left.size());
  return text.substr(0, at + stripped.size());
}

class JinjaChatTemplate final : public ChatTemplate {
 public:
  JinjaChatTemplate(jinja::Template t, std::string bos, std::string eos, bool tools)
      : template_(std::move(t)), bos_(std::move(bos)), eos_(std::move(eos)), tools_(tools) {}

  Result<std::string> Render(const std::vector<ChatMessage>& messages,
                             const RenderOptions& options) const override {
    jinja::ChatRequest req;
    for (const ChatMessage& m : messages) req.messages.push_back(MessageJson(m));
    if (!options.tools.empty()) {
      req.tools = ojson::array();
      for (const ToolDefinition& t : options.tools) {
        ojson params = ojson::parse(t.parameters_json, nullptr, false);
        if (params.is_discarded()) params = ojson::object();
        ojson fn = {{"name", t.name}};
        if (!t.description.empty()) fn["description"] = t.description;
        fn["parameters"] = std::move(params);
        req.tools.push_back({{"type", "function"}, {"function", std::move(fn)}});
      }
    }
    req.add_generation_prompt = options.add_generation_prompt && !options.continue_final_message;
    req.bos_token = bos_;
    req.eos_token = eos_;
    req.extra = {{"enable_thinking", options.enable_thinking},
                 {"thinking", options.enable_thinking}};
    CACHET_ASSIGN_OR_RETURN(std::string text, jinja::RenderChat(template_, req));
    if (!options.continue_final_message || messages.empty()) return text;
    return CutAfterFinal(text, messages.back().content);
  }

  bool SupportsTools() const override { return tools_; }

 private:
  jinja::Template template_;
  std::string bos_, eos_;
  bool tools_;
};

}  // namespace

Result<std::unique_ptr<ChatTemplate>> MakeJinjaChatTemplate(const std::string& source,
                                                            const std::string& bos_token,
                                                            const std::string& eos_token) {
  CACHET_ASSIGN_OR_RETURN(jinja::Template t, jinja::Template::Parse(source));
  const bool tools = source.find("tools") != std::string::npos;
  return std::unique_ptr<ChatTemplate>(
      std::make_unique<JinjaChatTemplate>(std::move(t), bos_token, eos_token, tools));
}

}  // namespace cachet::api
