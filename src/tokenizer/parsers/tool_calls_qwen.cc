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
  QwenParser(std::string id_prefix, bool stream) : ToolCallParser(std::move(id_prefix), stream) {}

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
    args_from_ = std::string::npos;
    no_stream_ = false;
    depth_ = 0;
    in_string_ = escape_ = value_done_ = false;
    return true;
  }

  // At the end marker (or at the end of output when `final`), parse the body.
  bool Call(std::vector<OutputEvent>* out, bool final) {
    size_t pos = buf_.find(kEnd, scan_);
    if (pos == std::string::npos && !final) {
      scan_ = buf_.size() >= kEnd.size() ? buf_.size() - kEnd.size() + 1 : 0;
      if (streaming()) StreamPartial(buf_.size() - PartialMarkerSuffix(buf_, kEnd), out);
      return false;
    }
    // Streaming: the same decisions on the complete body as on any prefix of it.
    if (streaming()) StreamPartial(pos == std::string::npos ? buf_.size() : pos, out);
    std::string body = pos == std::string::npos ? buf_ : buf_.substr(0, pos);
    std::string raw =
        std::string(kBegin) + body + (pos == std::string::npos ? "" : std::string(kEnd));
    buf_.erase(0, pos == std::string::npos ? buf_.size() : pos + kEnd.size());
    in_call_ = false;
    std::string name, args;
    bool ok = ParseBody(body, &name, &args);
    if (call_open()) {
      CloseStreamedCall(ok, args, out);
    } else if (ok) {
      EmitCall(name, args, out);
    } else {
      EmitContent(raw, out);
    }
    return true;
  }

  // Streaming: once the body reads {"name": "NAME", "arguments": {...  the arguments object
  // (or array) is emitted as it grows, up to its closing bracket.
  void StreamPartial(size_t limit, std::vector<OutputEvent>* out) {
    if (args_from_ == std::string::npos) {
      if (!LocateArguments(std::string_view(buf_).substr(0, limit))) return;
      value_pos_ = args_from_;
      StreamArguments(name_, "", out);
    }
    size_t start = value_pos_;
    while (value_pos_ < limit && !value_done_) {
      char c = buf_[value_pos_++];
      if (in_string_) {
        if (escape_)
          escape_ = false;
        else if (c == '\\')
          escape_ = true;
        else if (c == '"')
          in_string_ = false;
      } else if (c == '"') {
        in_string_ = true;
      } else if (c == '{' || c == '[') {
        ++depth_;
      } else if ((c == '}' || c == ']') && --depth_ == 0) {
        value_done_ = true;
      }
    }
    if (value_pos_ > start) {
      StreamArguments(name_, std::string_view(buf_).substr(start, value_pos_ - start), out);
    }
  }

  // Matches ws { ws "name" ws : ws "NAME" ws , ws "arguments" ws : ws [{[] at the start of the
  // body. False while more text is needed; no_stream_ when the body has another shape (the call
  // is then sent whole when it ends).
  bool LocateArguments(std::string_view text) {
    if (no_stream_) return false;
    bool found = LocateIn(text.substr(0, kMaxStreamHeader));
    if (!found && text.size() > kMaxStreamHeader) no_stream_ = true;
    return found && !no_stream_;
  }

  bool LocateIn(std::string_view b) {
    size_t i = 0;
    int more = 0;  // 1: ran out of text
    auto ws = [&] {
      while (i < b.size() && IsSpace(b[i])) ++i;
    };
    auto lit = [&](std::string_view s) {
      ws();
      size_t n = std::min(s.size(), b.size() - i);
      if (b.substr(i, n) != s.substr(0, n)) return false;
      if (n < s.size()) {
        more = 1;
        return false;
      }
      i += n;
      return true;
    };
    if (!lit("{") || !lit("\"name\"") || !lit(":") || !lit("\"")) {
      if (!more) no_stream_ = true;
      return false;
    }
    size_t name_end = b.find('"', i);
    if (name_end == std::string_view::npos) return false;
    std::string_view name = b.substr(i, name_end - i);
    i = name_end + 1;
    if (name.empty() || name.find('\\') != std::string_view::npos || !lit(",") ||
        !lit("\"arguments\"") || !lit(":")) {
      if (!more) no_stream_ = true;
      return false;
    }
    ws();
    if (i >= b.size()) return false;
    if (b[i] != '{' && b[i] != '[') {
      no_stream_ = true;
      return false;
    }
    name_ = std::string(name);
    args_from_ = i;
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
  // Streaming state of the current call (offsets into buf_, which only grows during a call).
  size_t args_from_ = std::string::npos;
  size_t value_pos_ = 0;
  bool no_stream_ = false;
  int depth_ = 0;
  bool in_string_ = false, escape_ = false, value_done_ = false;
  std::string name_;
};

}  // namespace

std::unique_ptr<ToolCallParser> MakeQwenParser(std::string id_prefix, bool stream) {
  return std::make_unique<QwenParser>(std::move(id_prefix), stream);
}

}  // namespace cachet::parsers
