// Qwen / Hermes tool calls: <tool_call>\n{"name": "f", "arguments": {...}}\n</tool_call>, any
// number of them, possibly after some content.
#include <nlohmann/json.hpp>

#include "tokenizer/parsers/stages.h"

namespace cachet::parsers {
namespace {

constexpr std::string_view kBegin = "<tool_call>";
constexpr std::string_view kEnd = "</tool_call>";

class QwenParser : public ToolCallParser {
 public:
  using ToolCallParser::ToolCallParser;

  void Feed(std::string_view text, std::vector<OutputEvent>* out) override {
    buf_.append(text);
    while (in_call_ ? Call(out, false) : Text(out)) {
    }
  }

  void Finish(std::vector<OutputEvent>* out) override {
    if (in_call_) {
      Call(out, true);
    } else {
      EmitTrailingContent(buf_, out);
    }
    buf_.clear();
    DropPendingSpace();
  }

 private:
  bool Text(std::vector<OutputEvent>* out) {
    size_t pos = buf_.find(kBegin);
    if (pos == std::string::npos) {
      size_t hold = PartialMarkerSuffix(buf_, kBegin);
      EmitTrailingContent(std::string_view(buf_).substr(0, buf_.size() - hold), out);
      buf_.erase(0, buf_.size() - hold);
      return false;
    }
    EmitTrailingContent(std::string_view(buf_).substr(0, pos), out);
    DropPendingSpace();
    buf_.erase(0, pos + kBegin.size());
    in_call_ = true;
    scan_ = 0;
    return true;
  }

  // At the end marker (or at the end of output when `final`), parse the body.
  bool Call(std::vector<OutputEvent>* out, bool final) {
    size_t pos = buf_.find(kEnd, scan_);
    if (pos == std::string::npos && !final) {
      scan_ = buf_.size() >= kEnd.size() ? buf_.size() - kEnd.size() + 1 : 0;
      return false;
    }
    std::string body = pos == std::string::npos ? buf_ : buf_.substr(0, pos);
    std::string raw = std::string(kBegin) + body + (pos == std::string::npos ? "" : std::string(kEnd));
    buf_.erase(0, pos == std::string::npos ? buf_.size() : pos + kEnd.size());
    in_call_ = false;
    std::string name, args;
    if (ParseBody(body, &name, &args)) {
      EmitCall(name, args, out);
    } else {
      EmitContent(raw, out);
    }
    return true;
  }

  static bool ParseBody(std::string_view body, std::string* name, std::string* args) {
    body = TrimSpace(body);
    auto j = nlohmann::ordered_json::parse(body.begin(), body.end(), nullptr, false);
    if (j.is_discarded() || !j.is_object()) return false;
    auto n = j.find("name");
    if (n == j.end() || !n->is_string() || n->get<std::string>().empty()) return false;
    *name = n->get<std::string>();
    std::string_view raw;
    if (MemberText(body, "arguments", &raw) || MemberText(body, "parameters", &raw)) {
      return ArgumentsText(raw, args);
    }
    *args = "{}";
    return true;
  }

  std::string buf_;
  bool in_call_ = false;
  size_t scan_ = 0;
};

}  // namespace

std::unique_ptr<ToolCallParser> MakeQwenParser(std::string id_prefix) {
  return std::make_unique<QwenParser>(std::move(id_prefix));
}

}  // namespace cachet::parsers
