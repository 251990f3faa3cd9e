#include "tokenizer/parsers/output_parser.h"

#include <nlohmann/json.hpp>

#include "tokenizer/parsers/stages.h"

namespace cachet::parsers {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

bool ArgumentsText(std::string_view json, std::string* out) {
  json = TrimSpace(json);
  auto j = nlohmann::ordered_json::parse(json.begin(), json.end(), nullptr, false);
  if (j.is_discarded()) return false;
  *out = j.is_string() ? j.get<std::string>() : std::string(json);
  return true;
}

namespace {

// End (one past) of the JSON value starting at s[i] (s is valid JSON, so this only skips).
size_t SkipValue(std::string_view s, size_t i) {
  int depth = 0;
  bool in_string = false, escape = false;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (in_string) {
      if (escape)
        escape = false;
      else if (c == '\\')
        escape = true;
      else if (c == '"') {
        in_string = false;
        if (depth == 0) return i + 1;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (depth == 0) return i;  // end of the enclosing container
      if (--depth == 0) return i + 1;
    } else if (depth == 0 && (c == ',' || IsSpace(c))) {
      return i;
    }
  }
  return s.size();
}

}  // namespace

bool MemberText(std::string_view obj, std::string_view key, std::string_view* value) {
  obj = TrimSpace(obj);
  if (obj.empty() || obj[0] != '{') return false;
  size_t i = 1;
  while (i < obj.size()) {
    while (i < obj.size() && (IsSpace(obj[i]) || obj[i] == ',')) ++i;
    if (i >= obj.size() || obj[i] != '"') return false;
    size_t key_end = SkipValue(obj, i);
    std::string_view k = obj.substr(i + 1, key_end - i - 2);
    i = key_end;
    while (i < obj.size() && (IsSpace(obj[i]) || obj[i] == ':')) ++i;
    size_t v_end = SkipValue(obj, i);
    if (k == key) {
      *value = obj.substr(i, v_end - i);
      return true;
    }
    i = v_end;
  }
  return false;
}

size_t PartialMarkerSuffix(std::string_view s, std::string_view marker) {
  size_t max = std::min(s.size(), marker.size() - 1);
  for (size_t k = max; k > 0; --k) {
    if (s.substr(s.size() - k) == marker.substr(0, k)) return k;
  }
  return 0;
}

void ToolCallParser::EmitContent(std::string_view text, std::vector<OutputEvent>* out) {
  if (text.empty()) return;
  if (!out->empty() && out->back().kind == OutputEvent::Kind::kContent) {
    out->back().text.append(text);
    return;
  }
  OutputEvent e;
  e.kind = OutputEvent::Kind::kContent;
  e.text = std::string(text);
  out->push_back(std::move(e));
}

void ToolCallParser::EmitTrailingContent(std::string_view text, std::vector<OutputEvent>* out) {
  if (next_index_ == 0) {
    EmitContent(text, out);
    return;
  }
  // After a call, whitespace is held until non-space text follows (so whitespace between calls
  // and at the end of the output is dropped whatever the chunking).
  size_t e = text.size();
  while (e > 0 && IsSpace(text[e - 1])) --e;
  if (e == 0) {
    pending_space_.append(text);
    return;
  }
  EmitContent(pending_space_, out);
  EmitContent(text.substr(0, e), out);
  pending_space_.assign(text.substr(e));
}

void ToolCallParser::EmitStart(const std::string& name, std::vector<OutputEvent>* out) {
  pending_space_.clear();
  OutputEvent start;
  start.kind = OutputEvent::Kind::kToolCallStart;
  start.tool_index = next_index_;
  start.tool_id = id_prefix_ + std::to_string(next_index_);
  start.tool_name = name;
  out->push_back(std::move(start));
}

void ToolCallParser::EmitArguments(std::string_view text, std::vector<OutputEvent>* out) {
  if (text.empty()) return;
  OutputEvent args;
  args.kind = OutputEvent::Kind::kToolCallArguments;
  args.tool_index = next_index_;
  args.text = std::string(text);
  out->push_back(std::move(args));
}

void ToolCallParser::EmitEnd(std::vector<OutputEvent>* out) {
  OutputEvent end;
  end.kind = OutputEvent::Kind::kToolCallEnd;
  end.tool_index = next_index_++;
  out->push_back(std::move(end));
}

void ToolCallParser::EmitCall(const std::string& name, const std::string& arguments,
                              std::vector<OutputEvent>* out) {
  EmitStart(name, out);
  EmitArguments(arguments, out);
  EmitEnd(out);
}

void ToolCallParser::StreamArguments(const std::string& name, std::string_view delta,
                                     std::vector<OutputEvent>* out) {
  if (!open_) {
    EmitStart(name, out);
    open_ = true;
    streamed_.clear();
  }
  EmitArguments(delta, out);
  streamed_.append(delta);
}

void ToolCallParser::CloseStreamedCall(bool ok, const std::string& args,
                                       std::vector<OutputEvent>* out) {
  if (ok && args.size() >= streamed_.size() && args.compare(0, streamed_.size(), streamed_) == 0) {
    EmitArguments(std::string_view(args).substr(streamed_.size()), out);
  }
  EmitEnd(out);
  open_ = false;
  streamed_.clear();
}

namespace {

class PassThrough : public ToolCallParser {
 public:
  using ToolCallParser::ToolCallParser;
  void Feed(std::string_view text, std::vector<OutputEvent>* out) override {
    EmitContent(text, out);
  }
  void Finish(std::vector<OutputEvent>*) override {}
};

// Length of the longest prefix of s made of complete UTF-8 sequences (an incomplete sequence at
// the end is held back; invalid bytes are passed through).
size_t CompleteUtf8Prefix(const std::string& s) {
  size_t n = s.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    unsigned char c = s[n - back];
    if ((c & 0xc0) == 0x80) continue;  // continuation byte: look further back
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    return static_cast<size_t>(len) > back ? n - back : n;
  }
  return n;
}

}  // namespace

std::unique_ptr<ToolCallParser> MakeToolCallParser(ToolCallFormat format, std::string id_prefix,
                                                   bool stream) {
  switch (format) {
    case ToolCallFormat::kDeepSeekV3:
      return MakeDeepSeekParser(false, std::move(id_prefix), stream);
    case ToolCallFormat::kDeepSeekV31:
      return MakeDeepSeekParser(true, std::move(id_prefix), stream);
    case ToolCallFormat::kQwen:
      return MakeQwenParser(std::move(id_prefix), stream);
    case ToolCallFormat::kLlama31:
      return MakeLlamaParser(std::move(id_prefix));
    case ToolCallFormat::kNone:
      break;
  }
  return std::make_unique<PassThrough>(std::move(id_prefix), false);
}

struct OutputParser::Impl {
  std::unique_ptr<ReasoningSplitter> reasoning;
  std::unique_ptr<ToolCallParser> tools;
  std::string utf8_pending;

  void Run(std::string_view text, std::vector<OutputEvent>* out, bool finish) {
    std::string content;
    if (reasoning) {
      std::vector<OutputEvent> events;
      reasoning->Feed(text, &events, &content);
      if (finish) reasoning->Finish(&events, &content);
      // Reasoning precedes the content that followed it in this delta.
      for (auto& e : events) out->push_back(std::move(e));
    } else {
      content.assign(text);
    }
    tools->Feed(content, out);
    if (finish) tools->Finish(out);
  }
};

OutputParser::OutputParser(OutputParserConfig config) : impl_(std::make_unique<Impl>()) {
  if (config.reasoning) {
    impl_->reasoning = std::make_unique<ReasoningSplitter>(config.think_start, config.think_end,
                                                           config.starts_in_reasoning);
  }
  impl_->tools =
      MakeToolCallParser(config.tools, config.tool_id_prefix, config.stream_tool_arguments);
}

OutputParser::~OutputParser() = default;

void OutputParser::Feed(std::string_view delta, std::vector<OutputEvent>* out) {
  impl_->utf8_pending.append(delta);
  size_t n = CompleteUtf8Prefix(impl_->utf8_pending);
  if (n == 0) return;
  std::string ready = impl_->utf8_pending.substr(0, n);
  impl_->utf8_pending.erase(0, n);
  impl_->Run(ready, out, false);
}

void OutputParser::Finish(std::vector<OutputEvent>* out) {
  std::string rest;
  rest.swap(impl_->utf8_pending);
  impl_->Run(rest, out, true);
}

ToolCallFormat ToolCallFormatForTemplate(const std::string& t) {
  if (t.find("<｜tool▁call▁begin｜>") != std::string::npos) {
    // V3/R1 write "type<｜tool▁sep｜>name\n```json"; V3.1 writes "name<｜tool▁sep｜>arguments".
    bool v3 = t.find("```json") != std::string::npos;
    return v3 ? ToolCallFormat::kDeepSeekV3 : ToolCallFormat::kDeepSeekV31;
  }
  if (t.find("<tool_call>") != std::string::npos) return ToolCallFormat::kQwen;
  if (t.find("<|python_tag|>") != std::string::npos ||
      (t.find("\"parameters\"") != std::string::npos &&
       t.find("<|eot_id|>") != std::string::npos)) {
    return ToolCallFormat::kLlama31;
  }
  return ToolCallFormat::kNone;
}

bool PromptOpensReasoning(const std::string& prompt, const std::string& think_start,
                          const std::string& think_end) {
  std::string_view p = prompt;
  while (!p.empty() && IsSpace(p.back())) p.remove_suffix(1);
  if (p.size() < think_start.size() || p.substr(p.size() - think_start.size()) != think_start) {
    return false;
  }
  (void)think_end;
  return true;
}

}  // namespace cachet::parsers
