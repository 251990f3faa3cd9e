#include "api/model_output_parser.h"

#include "api/service.h"
#include "tokenizer/parsers/output_parser.h"

namespace cachet::api {

namespace {

class ModelOutputParser final : public OutputParser {
 public:
  explicit ModelOutputParser(parsers::OutputParserConfig config) : parser_(std::move(config)) {}

  ParsedDelta Push(std::string_view text) override {
    events_.clear();
    parser_.Feed(text, &events_);
    return Convert();
  }
  ParsedDelta Finish() override {
    events_.clear();
    parser_.Finish(&events_);
    return Convert();
  }

 private:
  ParsedDelta Convert() {
    using Kind = parsers::OutputEvent::Kind;
    ParsedDelta d;
    for (parsers::OutputEvent& e : events_) {
      switch (e.kind) {
        case Kind::kContent:
          d.content += e.text;
          break;
        case Kind::kReasoning:
          d.reasoning += e.text;
          break;
        case Kind::kToolCallStart:
          pending_ = ToolCall{std::move(e.tool_id), std::move(e.tool_name), ""};
          break;
        case Kind::kToolCallArguments:
          pending_.arguments += e.text;
          break;
        case Kind::kToolCallEnd:
          if (pending_.arguments.empty()) pending_.arguments = "{}";
          d.tool_calls.push_back(std::move(pending_));
          pending_ = ToolCall{};
          break;
      }
    }
    return d;
  }

  parsers::OutputParser parser_;
  std::vector<parsers::OutputEvent> events_;
  ToolCall pending_;
};

std::function<std::unique_ptr<OutputParser>(const ParserOptions&)> Factory(
    parsers::ToolCallFormat format, bool reasoning) {
  return [format, reasoning](const ParserOptions& o) -> std::unique_ptr<OutputParser> {
    parsers::OutputParserConfig c;
    c.reasoning = reasoning;
    c.starts_in_reasoning = reasoning && parsers::PromptOpensReasoning(o.prompt_tail);
    c.tools = o.tools ? format : parsers::ToolCallFormat::kNone;
    // Unique per response, as the APIs expect ("call_<hex>_0", ...).
    c.tool_id_prefix = NewRequestId("call_") + "_";
    if (!c.reasoning && c.tools == parsers::ToolCallFormat::kNone) return nullptr;
    return std::make_unique<ModelOutputParser>(std::move(c));
  };
}

}  // namespace

std::function<std::unique_ptr<OutputParser>(const ParserOptions&)> ModelOutputParserFactory(
    const std::string& chat_template) {
  return Factory(parsers::ToolCallFormatForTemplate(chat_template),
                 chat_template.find("<think>") != std::string::npos);
}

std::function<std::unique_ptr<OutputParser>(const ParserOptions&)> QwenStyleParserFactory() {
  return Factory(parsers::ToolCallFormat::kQwen, true);
}

}  // namespace cachet::api
