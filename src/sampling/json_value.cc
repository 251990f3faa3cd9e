#include "sampling/json_value.h"

namespace cachet::sampling {

const JsonValue* JsonValue::Find(std::string_view key) const {
  for (const auto& [k, v] : members) {
    if (k == key) return &v;
  }
  return nullptr;
}

namespace {

class Parser {
 public:
  Parser(std::string_view s, int max_depth) : s_(s), max_depth_(max_depth) {}

  Result<JsonValue> Run() {
    JsonValue v;
    CACHET_RETURN_IF_ERROR(Value(&v, 0));
    SkipWs();
    if (i_ != s_.size()) return Err("trailing bytes");
    return v;
  }

 private:
  Status Err(const std::string& what) const {
    return InvalidArgument("JSON: " + what + " at byte " + std::to_string(i_));
  }
  void SkipWs() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
      ++i_;
  }
  bool Eat(char c) {
    SkipWs();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  Status Literal(std::string_view word) {
    if (s_.substr(i_, word.size()) != word) return Err("bad literal");
    i_ += word.size();
    return Status::Ok();
  }

  Status Value(JsonValue* v, int depth) {
    if (depth > max_depth_) return Err("nesting too deep");
    SkipWs();
    if (i_ >= s_.size()) return Err("unexpected end");
    char c = s_[i_];
    switch (c) {
      case '{':
        return Object(v, depth);
      case '[':
        return Array(v, depth);
      case '"':
        v->kind = JsonValue::Kind::kString;
        return String(&v->text);
      case 't':
        v->kind = JsonValue::Kind::kBool;
        v->boolean = true;
        return Literal("true");
      case 'f':
        v->kind = JsonValue::Kind::kBool;
        return Literal("false");
      case 'n':
        v->kind = JsonValue::Kind::kNull;
        return Literal("null");
      default:
        return Number(v);
    }
  }

  Status Object(JsonValue* v, int depth) {
    v->kind = JsonValue::Kind::kObject;
    ++i_;
    if (Eat('}')) return Status::Ok();
    do {
      SkipWs();
      if (i_ >= s_.size() || s_[i_] != '"') return Err("expected a key");
      std::string key;
      CACHET_RETURN_IF_ERROR(String(&key));
      if (!Eat(':')) return Err("expected ':'");
      v->members.emplace_back(std::move(key), JsonValue());
      CACHET_RETURN_IF_ERROR(Value(&v->members.back().second, depth + 1));
    } while (Eat(','));
    if (!Eat('}')) return Err("expected ',' or '}'");
    return Status::Ok();
  }

  Status Array(JsonValue* v, int depth) {
    v->kind = JsonValue::Kind::kArray;
    ++i_;
    if (Eat(']')) return Status::Ok();
    do {
      v->items.emplace_back();
      CACHET_RETURN_IF_ERROR(Value(&v->items.back(), depth + 1));
    } while (Eat(','));
    if (!Eat(']')) return Err("expected ',' or ']'");
    return Status::Ok();
  }

  static int Hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
  bool Hex4(uint32_t* out) {
    if (i_ + 4 > s_.size()) return false;
    uint32_t u = 0;
    for (int k = 0; k < 4; ++k) {
      int h = Hex(s_[i_ + k]);
      if (h < 0) return false;
      u = u * 16 + static_cast<uint32_t>(h);
    }
    i_ += 4;
    *out = u;
    return true;
  }
  static void AppendUtf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  Status Escape(std::string* out) {
    if (i_ >= s_.size()) return Err("unfinished escape");
    char e = s_[i_++];
    switch (e) {
      case '"':
      case '\\':
      case '/':
        out->push_back(e);
        return Status::Ok();
      case 'b':
        out->push_back('\b');
        return Status::Ok();
      case 'f':
        out->push_back('\f');
        return Status::Ok();
      case 'n':
        out->push_back('\n');
        return Status::Ok();
      case 'r':
        out->push_back('\r');
        return Status::Ok();
      case 't':
        out->push_back('\t');
        return Status::Ok();
      case 'u':
        break;
      default:
        return Err("bad escape");
    }
    uint32_t cp = 0;
    if (!Hex4(&cp)) return Err("bad \\u escape");
    if (cp >= 0xD800 && cp < 0xDC00 && s_.substr(i_, 2) == "\\u") {
      size_t save = i_;
      i_ += 2;
      uint32_t lo = 0;
      if (Hex4(&lo) && lo >= 0xDC00 && lo < 0xE000) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
      } else {
        i_ = save;
      }
    }
    if (cp >= 0xD800 && cp < 0xE000) cp = 0xFFFD;  // lone surrogate
    AppendUtf8(cp, out);
    return Status::Ok();
  }
  Status String(std::string* out) {
    ++i_;  // opening quote
    while (i_ < s_.size()) {
      char c = s_[i_++];
      if (c == '"') return Status::Ok();
      if (static_cast<unsigned char>(c) < 0x20) return Err("control character in string");
      if (c == '\\') {
        CACHET_RETURN_IF_ERROR(Escape(out));
      } else {
        out->push_back(c);
      }
    }
    return Err("unterminated string");
  }
  Status Number(JsonValue* v) {
    size_t start = i_;
    auto digits = [&] {
      size_t b = i_;
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
      return i_ - b;
    };
    if (i_ < s_.size() && s_[i_] == '-') ++i_;
    if (i_ < s_.size() && s_[i_] == '0') {
      ++i_;
    } else if (digits() == 0) {
      return Err("unexpected character");
    }
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      if (digits() == 0) return Err("bad number");
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      if (digits() == 0) return Err("bad number");
    }
    v->kind = JsonValue::Kind::kNumber;
    v->text = std::string(s_.substr(start, i_ - start));
    return Status::Ok();
  }

  std::string_view s_;
  size_t i_ = 0;
  int max_depth_;
};

}  // namespace

Result<JsonValue> ParseJson(std::string_view text, int max_depth) {
  return Parser(text, max_depth).Run();
}

void AppendJsonString(std::string_view s, std::string* out) {
  static const char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        *out += "\\\"";
        break;
      case '\\':
        *out += "\\\\";
        break;
      case '\b':
        *out += "\\b";
        break;
      case '\f':
        *out += "\\f";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\r':
        *out += "\\r";
        break;
      case '\t':
        *out += "\\t";
        break;
      default:
        if (u < 0x20) {
          *out += "\\u00";
          out->push_back(kHex[u >> 4]);
          out->push_back(kHex[u & 15]);
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

namespace {
void Serialize(const JsonValue& v, std::string* out) {
  switch (v.kind) {
    case JsonValue::Kind::kNull:
      *out += "null";
      break;
    case JsonValue::Kind::kBool:
      *out += v.boolean ? "true" : "false";
      break;
    case JsonValue::Kind::kNumber:
      *out += v.text;
      break;
    case JsonValue::Kind::kString:
      AppendJsonString(v.text, out);
      break;
    case JsonValue::Kind::kArray:
      out->push_back('[');
      for (size_t i = 0; i < v.items.size(); ++i) {
        if (i) out->push_back(',');
        Serialize(v.items[i], out);
      }
      out->push_back(']');
      break;
    case JsonValue::Kind::kObject:
      out->push_back('{');
      for (size_t i = 0; i < v.members.size(); ++i) {
        if (i) out->push_back(',');
        AppendJsonString(v.members[i].first, out);
        out->push_back(':');
        Serialize(v.members[i].second, out);
      }
      out->push_back('}');
      break;
  }
}
}  // namespace

std::string SerializeJson(const JsonValue& v) {
  std::string out;
  Serialize(v, &out);
  return out;
}

}  // namespace cachet::sampling
