#include "http/config.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>

namespace cachet::http {

namespace {

class LineParser {
 public:
  LineParser(std::string_view s, int line) : s_(s), line_(line) {}

  void SkipSpace() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t')) ++pos_;
  }
  bool AtEndOrComment() {
    SkipSpace();
    return pos_ >= s_.size() || s_[pos_] == '#';
  }
  Status Error(const std::string& what) const {
    return InvalidArgument("config line " + std::to_string(line_) + ": " + what);
  }
  Result<std::string> Key() {
    SkipSpace();
    const size_t start = pos_;
    while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) ||
                                s_[pos_] == '_' || s_[pos_] == '-' || s_[pos_] == '.')) {
      ++pos_;
    }
    if (pos_ == start) return Error("expected a key");
    return std::string(s_.substr(start, pos_ - start));
  }
  bool Consume(char c) {
    SkipSpace();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  Result<ConfigValue> Value();

 private:
  Result<std::string> BasicString();
  Result<ConfigValue> Scalar();

  std::string_view s_;
  size_t pos_ = 0;
  int line_;
};

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    *out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    *out += static_cast<char>(0xC0 | (cp >> 6));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    *out += static_cast<char>(0xE0 | (cp >> 12));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

Result<std::string> LineParser::BasicString() {
  std::string out;
  while (pos_ < s_.size()) {
    char c = s_[pos_++];
    if (c == '"') return out;
    if (c != '\\') {
      out += c;
      continue;
    }
    if (pos_ >= s_.size()) break;
    char e = s_[pos_++];
    switch (e) {
      case '"':
        out += '"';
        break;
      case '\\':
        out += '\\';
        break;
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case 'u': {
        if (pos_ + 4 > s_.size()) return Error("bad \\u escape");
        uint32_t cp = 0;
        for (int k = 0; k < 4; ++k) {
          const char h = s_[pos_++];
          if (!std::isxdigit(static_cast<unsigned char>(h))) return Error("bad \\u escape");
          cp = cp * 16 + static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(h))
                                                   ? h - '0'
                                                   : std::tolower(h) - 'a' + 10);
        }
        AppendUtf8(cp, &out);
        break;
      }
      default:
        return Error(std::string("unknown escape \\") + e);
    }
  }
  return Error("unterminated string");
}

Result<ConfigValue> LineParser::Scalar() {
  SkipSpace();
  ConfigValue v;
  if (pos_ >= s_.size()) return Error("expected a value");
  if (s_[pos_] == '"') {
    ++pos_;
    CACHET_ASSIGN_OR_RETURN(v.str, BasicString());
    return v;
  }
  if (s_[pos_] == '\'') {
    const size_t end = s_.find('\'', pos_ + 1);
    if (end == std::string_view::npos) return Error("unterminated string");
    v.str = std::string(s_.substr(pos_ + 1, end - pos_ - 1));
    pos_ = end + 1;
    return v;
  }
  size_t start = pos_;
  while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) ||
                              s_[pos_] == '_' || s_[pos_] == '+' || s_[pos_] == '-')) {
    ++pos_;
  }
  std::string word(s_.substr(start, pos_ - start));
  if (word == "true" || word == "false") {
    v.kind = ConfigValue::Kind::kBool;
    v.b = word == "true";
    v.str = word;
    return v;
  }
  std::string digits;
  for (size_t k = 0; k < word.size(); ++k) {
    const char c = word[k];
    if ((c == '+' || c == '-') && k == 0) {
      digits += c;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      digits += c;
    } else if (c != '_' || k == 0 || k + 1 == word.size()) {
      return Error("unsupported value '" + word + "' (strings need quotes)");
    }
  }
  if (digits.empty() || digits == "+" || digits == "-" || digits.size() > 19) {
    return Error("bad value '" + word + "'");
  }
  errno = 0;
  const long long parsed = std::strtoll(digits.c_str(), nullptr, 10);
  if (errno == ERANGE) return Error("integer out of range '" + word + "'");
  v.kind = ConfigValue::Kind::kInt;
  v.i = parsed;
  v.str = std::to_string(v.i);
  return v;
}

Result<ConfigValue> LineParser::Value() {
  if (!Consume('[')) return Scalar();
  ConfigValue arr;
  arr.kind = ConfigValue::Kind::kArray;
  if (Consume(']')) return arr;
  while (true) {
    CACHET_ASSIGN_OR_RETURN(ConfigValue item, Scalar());
    arr.arr.push_back(std::move(item));
    if (Consume(']')) return arr;
    if (!Consume(',')) return Error("expected ',' or ']' in array");
    if (Consume(']')) return arr;  // trailing comma
  }
}

}  // namespace

Result<ConfigMap> ParseTomlSubset(std::string_view text) {
  ConfigMap out;
  std::string section;
  int line_no = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = end + 1;
    ++line_no;
    LineParser p(line, line_no);
    if (p.AtEndOrComment()) continue;
    if (p.Consume('[')) {
      CACHET_ASSIGN_OR_RETURN(section, p.Key());
      if (!p.Consume(']') || !p.AtEndOrComment()) return p.Error("bad section header");
      continue;
    }
    CACHET_ASSIGN_OR_RETURN(std::string key, p.Key());
    if (!p.Consume('=')) return p.Error("expected '=' after '" + key + "'");
    CACHET_ASSIGN_OR_RETURN(ConfigValue v, p.Value());
    if (!p.AtEndOrComment()) return p.Error("unexpected text after the value");
    const std::string full = section.empty() ? key : section + "." + key;
    if (!out.emplace(full, std::move(v)).second) return p.Error("duplicate key '" + full + "'");
  }
  return out;
}

}  // namespace cachet::http
