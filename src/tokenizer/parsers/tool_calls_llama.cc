// Llama 3.1 JSON tool calls: the reply is one or more JSON objects
// {"name": "f", "parameters": {...}} (separated by ';' or whitespace), optionally after
// <|python_tag|>. Detected only at the start of the reply, as the model's template teaches it;
// anything else is content. Built-in tool syntax (<|python_tag|>tool.call(...)) stays content.
#include <nlohmann/json.hpp>

#include "tokenizer/parsers/stages.h"

namespace cachet::parsers {
namespace {

constexpr std::string_view kPythonTag = "<|python_tag|>";

class LlamaParser : public ToolCallParser {
 public:
  explicit LlamaParser(std::string id_prefix) : ToolCallParser(std::move(id_prefix), false) {}

  void Feed(std::string_view text, std::vector<OutputEvent>* out) override {
    buf_.append(text);
    bool progress = true;
    while (progress) {
      switch (state_) {
        case State::kStart:
          progress = Start(out);
          break;
        case State::kJson:
          progress = Json(out);
          break;
        case State::kText:
          EmitTrailingContent(buf_, out);
          raw_.clear();
          buf_.clear();
          progress = false;
          break;
      }
    }
  }

  void Finish(std::vector<OutputEvent>* out) override {
    if (state_ == State::kJson && calls() == 0) {
      EmitContent(raw_ + buf_, out);  // an unfinished object: plain text
    } else if (state_ == State::kJson) {
      EmitTrailingContent(buf_, out);
    } else {
      EmitTrailingContent(raw_ + buf_, out);
    }
    buf_.clear();
    raw_.clear();
    DropPendingSpace();
  }

 private:
  enum class State { kStart, kJson, kText };

  bool Start(std::vector<OutputEvent>* out) {
    (void)out;
    size_t i = 0;
    while (i < buf_.size() && IsSpace(buf_[i])) ++i;
    raw_.append(buf_, 0, i);  // leading whitespace: part of the raw text, scanned once
    buf_.erase(0, i);
    std::string_view rest = buf_;
    if (rest.empty()) return false;
    if (rest.substr(0, kPythonTag.size()) == kPythonTag) {
      raw_.append(kPythonTag);
      buf_.erase(0, kPythonTag.size());
      state_ = State::kJson;
      return true;
    }
    if (rest.size() < kPythonTag.size() && kPythonTag.substr(0, rest.size()) == rest) return false;
    if (rest[0] == '{') {
      state_ = State::kJson;
      return true;
    }
    buf_ = raw_ + buf_;
    raw_.clear();
    state_ = State::kText;
    return true;
  }

  // Scans for the end of one top-level JSON object; parses it when complete.
  bool Json(std::vector<OutputEvent>* out) {
    if (!scanning_) {
      size_t i = 0;
      while (i < buf_.size() && (IsSpace(buf_[i]) || (calls() > 0 && buf_[i] == ';'))) ++i;
      if (calls() == 0) raw_.append(buf_, 0, i);  // separators after a call are dropped
      buf_.erase(0, i);
      if (buf_.empty()) return false;
      if (buf_[0] != '{') {
        if (calls() == 0) {
          buf_ = raw_ + buf_;  // not a call after all: everything is content
          raw_.clear();
        }
        state_ = State::kText;
        return true;
      }
      scanning_ = true;
      pos_ = 0;
      depth_ = 0;
      in_string_ = escape_ = false;
    }
    for (; pos_ < buf_.size(); ++pos_) {
      char c = buf_[pos_];
      if (in_string_) {
        if (escape_)
          escape_ = false;
        else if (c == '\\')
          escape_ = true;
        else if (c == '"')
          in_string_ = false;
        continue;
      }
      if (c == '"')
        in_string_ = true;
      else if (c == '{' || c == '[')
        ++depth_;
      else if (c == '}' || c == ']') {
        if (--depth_ == 0) break;
      }
    }
    if (pos_ >= buf_.size()) return false;
    std::string object = buf_.substr(0, pos_ + 1);
    buf_.erase(0, pos_ + 1);
    scanning_ = false;
    std::string name, args;
    if (!ParseCall(object, &name, &args)) {
      buf_ = raw_ + object + buf_;  // not a tool call: content from here on
      raw_.clear();
      state_ = State::kText;
      return true;
    }
    raw_.clear();
    EmitCall(name, args, out);
    return true;
  }

  static bool ParseCall(const std::string& text, std::string* name, std::string* args) {
    auto j = nlohmann::ordered_json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return false;
    auto n = j.find("name");
    if (n == j.end() || !n->is_string() || n->get<std::string>().empty()) return false;
    auto a = j.find("parameters");
    if (a == j.end()) a = j.find("arguments");
    if (a == j.end() || !(a->is_object() || a->is_string())) return false;
    *name = n->get<std::string>();
    std::string_view raw;
    if (!MemberText(text, "parameters", &raw) && !MemberText(text, "arguments", &raw)) return false;
    return ArgumentsText(raw, args);
  }

  State state_ = State::kStart;
  std::string buf_;
  std::string raw_;  // text consumed before the object (spaces, <|python_tag|>)
  bool scanning_ = false;
  size_t pos_ = 0;
  int depth_ = 0;
  bool in_string_ = false, escape_ = false;
};

}  // namespace

std::unique_ptr<ToolCallParser> MakeLlamaParser(std::string id_prefix) {
  return std::make_unique<LlamaParser>(std::move(id_prefix));
}

}  // namespace cachet::parsers
