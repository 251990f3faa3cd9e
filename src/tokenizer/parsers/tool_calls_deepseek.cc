// DeepSeek tool calls.
//   V3 / R1:
//   <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME\n```json\nARGS\n```
//            <｜tool▁call▁end｜>\n<｜tool▁call▁begin｜>...<｜tool▁call▁end｜><｜tool▁calls▁end｜>
//   V3.1: <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>NAME<｜tool▁sep｜>ARGS<｜tool▁call▁end｜>...
//            <｜tool▁calls▁end｜>
// A bare <｜tool▁call▁begin｜> (without the section marker) also starts a call.
#include "tokenizer/parsers/stages.h"

namespace cachet::parsers {
namespace {

constexpr std::string_view kCallsBegin = "<｜tool▁calls▁begin｜>";
constexpr std::string_view kCallsEnd = "<｜tool▁calls▁end｜>";
constexpr std::string_view kCallBegin = "<｜tool▁call▁begin｜>";
constexpr std::string_view kCallEnd = "<｜tool▁call▁end｜>";
constexpr std::string_view kSep = "<｜tool▁sep｜>";

class DeepSeekParser : public ToolCallParser {
 public:
  DeepSeekParser(bool v31, std::string id_prefix, bool stream)
      : ToolCallParser(std::move(id_prefix), stream), v31_(v31) {}

  void Feed(std::string_view text, std::vector<OutputEvent>* out) override {
    buf_.append(text);
    bool progress = true;
    while (progress) {
      switch (state_) {
        case State::kText:
          progress = Text(out);
          break;
        case State::kSection:
          progress = Section(out);
          break;
        case State::kCall:
          progress = Call(out);
          break;
      }
    }
  }

  void Finish(std::vector<OutputEvent>* out) override {
    if (state_ == State::kCall && call_open()) {
      CloseStreamedCall(false, "", out);  // streamed call cut off: close it as generated
    } else if (state_ == State::kCall) {
      EmitContent(std::string(kCallBegin) + buf_, out);  // the call never ended: plain text
    } else {
      EmitTrailingContent(buf_, out);
    }
    buf_.clear();
    DropPendingSpace();
  }

 private:
  enum class State { kText, kSection, kCall };

  bool Text(std::vector<OutputEvent>* out) {
    size_t a = buf_.find(kCallsBegin), b = buf_.find(kCallBegin);
    size_t pos = std::min(a, b);
    if (pos == std::string::npos) {
      size_t hold =
          std::max(PartialMarkerSuffix(buf_, kCallsBegin), PartialMarkerSuffix(buf_, kCallBegin));
      EmitTrailingContent(std::string_view(buf_).substr(0, buf_.size() - hold), out);
      buf_.erase(0, buf_.size() - hold);
      return false;
    }
    EmitTrailingContent(std::string_view(buf_).substr(0, pos), out);
    DropPendingSpace();
    bool section = pos == a;
    buf_.erase(0, pos + (section ? kCallsBegin.size() : kCallBegin.size()));
    state_ = section ? State::kSection : State::kCall;
    ResetCall();
    return true;
  }

  bool Section(std::vector<OutputEvent>* out) {
    (void)out;
    size_t i = 0;
    while (i < buf_.size() && IsSpace(buf_[i])) ++i;
    buf_.erase(0, i);  // whitespace between calls means nothing
    i = 0;
    std::string_view rest = buf_;
    if (rest.substr(0, kCallBegin.size()) == kCallBegin) {
      buf_.erase(0, i + kCallBegin.size());
      state_ = State::kCall;
      ResetCall();
      return true;
    }
    if (rest.substr(0, kCallsEnd.size()) == kCallsEnd) {
      buf_.erase(0, i + kCallsEnd.size());
      state_ = State::kText;
      return true;
    }
    if (rest.size() < kCallBegin.size() &&
        (kCallBegin.substr(0, rest.size()) == rest || kCallsEnd.substr(0, rest.size()) == rest)) {
      return false;  // wait for more
    }
    state_ = State::kText;  // unexpected text inside the section: treat the rest as text
    return true;
  }

  bool Call(std::vector<OutputEvent>* out) {
    size_t pos = buf_.find(kCallEnd, call_scan_);
    if (pos == std::string::npos) {
      call_scan_ = buf_.size() >= kCallEnd.size() ? buf_.size() - kCallEnd.size() + 1 : 0;
      if (streaming()) StreamPartial(buf_.size(), /*final=*/false, out);
      return false;
    }
    // Streaming: the same decisions on the complete body as on any prefix of it, so the result
    // does not depend on how the output was chunked.
    if (streaming()) StreamPartial(pos, /*final=*/true, out);
    std::string body = buf_.substr(0, pos);
    buf_.erase(0, pos + kCallEnd.size());
    std::string name, args;
    bool ok = ParseBody(body, &name, &args);
    if (call_open()) {
      CloseStreamedCall(ok, args, out);
    } else if (ok) {
      EmitCall(name, args, out);
    } else {
      EmitContent(std::string(kCallBegin) + body + std::string(kCallEnd), out);
    }
    state_ = State::kSection;
    return true;
  }

  // Streaming: emits what became certain of the call's arguments in buf_[0, limit) (buf_ holds
  // everything after <｜tool▁call▁begin｜> and only grows until the end marker). `final`: limit
  // is where the end marker starts.
  void StreamPartial(size_t limit, bool final, std::vector<OutputEvent>* out) {
    std::string_view text = std::string_view(buf_).substr(0, limit);
    // Not final: a possible start of the end marker is not part of the call (yet).
    size_t e = final ? text.size() : text.size() - PartialMarkerSuffix(text, kCallEnd);
    if (args_from_ == std::string::npos && !LocateArguments(text.substr(0, e))) return;
    size_t floor = std::max(args_from_, args_emitted_);
    while (e > floor && (IsSpace(text[e - 1]) || (!v31_ && text[e - 1] == '`'))) --e;
    if (e > floor || !call_open()) {
      StreamArguments(name_, text.substr(floor, std::max(e, floor) - floor), out);
      args_emitted_ = std::max(e, floor);
    }
  }

  // Finds the name and where the arguments start, mirroring ParseBody's trimming (only from the
  // first kMaxStreamHeader bytes of the call). False while unknown; no_stream_ when the call is
  // to be sent whole (header too long, string-encoded arguments: those are unquoted).
  bool LocateArguments(std::string_view text) {
    if (no_stream_) return false;
    std::string_view body = text.substr(0, kMaxStreamHeader);
    bool found = LocateIn(body);
    if (!found && text.size() > kMaxStreamHeader) no_stream_ = true;
    return found && !no_stream_;
  }

  bool LocateIn(std::string_view body) {
    size_t sep = body.find(kSep);
    if (sep == std::string_view::npos) return false;
    size_t from = sep + kSep.size();
    std::string name;
    if (v31_) {
      name = std::string(TrimSpace(body.substr(0, sep)));
    } else {
      size_t nl = body.find('\n', from);
      if (nl == std::string_view::npos) return false;
      name = std::string(TrimSpace(body.substr(from, nl - from)));
      from = nl + 1;
    }
    if (name.empty()) return false;
    while (from < body.size() && IsSpace(body[from])) ++from;
    if (!v31_) {  // the opening fence
      std::string_view r = body.substr(from);
      constexpr std::string_view kFence = "```json";
      if (r.size() < kFence.size() && kFence.substr(0, r.size()) == r) return false;
      from += r.substr(0, 7) == kFence ? 7 : r.substr(0, 3) == "```" ? 3 : 0;
      while (from < body.size() && IsSpace(body[from])) ++from;
    }
    if (from >= body.size()) return false;
    if (body[from] == '"') {
      no_stream_ = true;
      return false;
    }
    name_ = std::move(name);
    args_from_ = from;
    return true;
  }

  void ResetCall() {
    call_scan_ = 0;
    args_from_ = std::string::npos;
    args_emitted_ = 0;
    no_stream_ = false;
    name_.clear();
  }

  bool ParseBody(std::string_view body, std::string* name, std::string* args) const {
    size_t sep = body.find(kSep);
    if (sep == std::string_view::npos) return false;
    std::string_view head = body.substr(0, sep), rest = body.substr(sep + kSep.size());
    std::string_view json;
    if (v31_) {
      *name = std::string(TrimSpace(head));
      json = TrimSpace(rest);
    } else {
      size_t nl = rest.find('\n');
      if (nl == std::string_view::npos) return false;
      *name = std::string(TrimSpace(rest.substr(0, nl)));
      json = TrimSpace(rest.substr(nl + 1));
      if (json.substr(0, 7) == "```json") {
        json.remove_prefix(7);
      } else if (json.substr(0, 3) == "```") {
        json.remove_prefix(3);
      }
      json = TrimSpace(json);
      if (json.size() >= 3 && json.substr(json.size() - 3) == "```") json.remove_suffix(3);
      json = TrimSpace(json);
    }
    if (name->empty()) return false;
    return ArgumentsText(json, args);
  }

  bool v31_;
  State state_ = State::kText;
  std::string buf_;
  size_t call_scan_ = 0;  // kCall: where to resume searching for the end marker
  // Streaming state of the open call (offsets into buf_).
  size_t args_from_ = std::string::npos;  // where the arguments start, once known
  size_t args_emitted_ = 0;               // end of the arguments already emitted
  bool no_stream_ = false;                // this call is sent whole
  std::string name_;
};

}  // namespace

std::unique_ptr<ToolCallParser> MakeDeepSeekParser(bool v31, std::string id_prefix, bool stream) {
  return std::make_unique<DeepSeekParser>(v31, std::move(id_prefix), stream);
}

}  // namespace cachet::parsers
