#include "tokenizer/jinja/lexer.h"

#include <cstring>

#include "tokenizer/jinja/value.h"

namespace cachet::jinja {
namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsNameChar(char c) { return IsNameStart(c) || IsDigit(c); }

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string Normalize(const std::string& in) {
  std::string s;
  s.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\r') {
      s += '\n';
      if (i + 1 < in.size() && in[i + 1] == '\n') ++i;
    } else {
      s += in[i];
    }
  }
  if (!s.empty() && s.back() == '\n') s.pop_back();  // keep_trailing_newline=False
  return s;
}

class Lexer {
 public:
  explicit Lexer(std::string src) : s_(std::move(src)) {}
  Result<std::vector<Token>> Run();

 private:
  Status Fail(const std::string& why) const {
    return InvalidArgument("template line " + std::to_string(line_) + ": " + why);
  }
  void Emit(Token::Kind k, std::string text = "") {
    Token t;
    t.kind = k;
    t.text = std::move(text);
    t.line = line_;
    out_.push_back(std::move(t));
  }
  void EmitData(const std::string& text);
  void Advance(size_t to) {
    for (size_t i = pos_; i < to && i < s_.size(); ++i) line_ += s_[i] == '\n';
    pos_ = to;
  }
  bool At(size_t p, const char* lit) const { return s_.compare(p, std::strlen(lit), lit) == 0; }
  // `-` strips all whitespace before the tag; lstrip_blocks strips spaces/tabs between the line
  // start and a block or comment tag (not for `{%+`, not for `{{`).
  void StripBeforeTag(std::string* text, char kind, char sign) const;
  Status Escape(size_t* p, std::string* out) const;
  Status Comment();
  Status Raw(size_t after_open);
  Status Tag(bool block);
  Status ExprToken();
  Status StringLit();
  Status Number();
  // Position of the earliest "{{" "{%" "{#" at or after p, or npos.
  size_t NextTag(size_t p) const;
  // After a block/comment end marker at p of length n: trim_blocks drops one newline.
  void EndBlock(size_t p, size_t n, bool trim_newline);

  std::string s_;
  size_t pos_ = 0;
  int line_ = 1;
  bool line_starting_ = true;
  int depth_ = 0;  // (, [, { nesting inside a tag
  std::vector<Token> out_;
};

size_t Lexer::NextTag(size_t p) const {
  while (true) {
    p = s_.find('{', p);
    if (p == std::string::npos || p + 1 >= s_.size()) return std::string::npos;
    char c = s_[p + 1];
    if (c == '{' || c == '%' || c == '#') return p;
    ++p;
  }
}

void Lexer::StripBeforeTag(std::string* text, char kind, char sign) const {
  if (sign == '-') {
    while (!text->empty() && IsSpace(text->back())) text->pop_back();
    return;
  }
  if (sign == '+' || kind == '{') return;
  size_t l = text->rfind('\n');
  l = l == std::string::npos ? 0 : l + 1;
  if (l == 0 && !line_starting_) return;
  bool ws = l < text->size();
  for (size_t i = l; i < text->size(); ++i) ws = ws && ((*text)[i] == ' ' || (*text)[i] == '\t');
  if (ws) text->resize(l);
}

void Lexer::EmitData(const std::string& text) {
  if (!text.empty()) Emit(Token::kData, text);
}

void Lexer::EndBlock(size_t p, size_t n, bool trim_newline) {
  size_t end = p + n;
  if (s_[p] == '-') {
    while (end < s_.size() && IsSpace(s_[end])) ++end;
  } else if (s_[p] != '+' && trim_newline && end < s_.size() && s_[end] == '\n') {
    ++end;
  }
  line_starting_ = end > 0 && s_[end - 1] == '\n';
  Advance(end);
}

Status Lexer::Comment() {
  for (size_t p = pos_; p + 1 < s_.size(); ++p) {
    if (At(p, "+#}") || At(p, "-#}")) {
      EndBlock(p, 3, true);
      return Status::Ok();
    }
    if (At(p, "#}")) {
      EndBlock(p, 2, true);
      return Status::Ok();
    }
  }
  return Fail("missing end of comment tag");
}

Status Lexer::Raw(size_t body) {
  for (size_t p = s_.find("{%", body); p != std::string::npos; p = s_.find("{%", p + 2)) {
    size_t q = p + 2;
    char sign = q < s_.size() && (s_[q] == '-' || s_[q] == '+') ? s_[q] : 0;
    if (sign) ++q;
    while (q < s_.size() && IsSpace(s_[q])) ++q;
    if (!At(q, "endraw")) continue;
    q += 6;
    while (q < s_.size() && IsSpace(s_[q])) ++q;
    if (!(At(q, "%}") || At(q, "-%}") || At(q, "+%}"))) continue;
    std::string text = s_.substr(body, p - body);
    if (sign == '-') {
      while (!text.empty() && IsSpace(text.back())) text.pop_back();
    } else if (sign != '+') {
      size_t l = text.rfind('\n');
      l = l == std::string::npos ? 0 : l + 1;
      bool ws = l < text.size();
      for (size_t i = l; i < text.size(); ++i) ws = ws && (text[i] == ' ' || text[i] == '\t');
      if (ws) text.resize(l);
    }
    EmitData(text);
    Advance(q);
    EndBlock(q, s_[q] == '%' ? 2 : 3, true);
    return Status::Ok();
  }
  return Fail("missing end of raw directive");
}

Result<std::vector<Token>> Lexer::Run() {
  while (pos_ < s_.size()) {
    size_t t = NextTag(pos_);
    if (t == std::string::npos) {
      EmitData(s_.substr(pos_));
      Advance(s_.size());
      break;
    }
    std::string text = s_.substr(pos_, t - pos_);
    char kind = s_[t + 1];
    char sign = t + 2 < s_.size() && (s_[t + 2] == '-' || s_[t + 2] == '+') ? s_[t + 2] : 0;
    if (kind == '{' && sign == '+') sign = 0;  // "{{+" is "{{" then unary plus
    StripBeforeTag(&text, kind, sign);
    // A raw block: "{%" [-+] ws "raw" ws [-+] "%}".
    if (kind == '%') {
      size_t q = t + 2 + (sign ? 1 : 0);
      while (q < s_.size() && IsSpace(s_[q])) ++q;
      if (At(q, "raw") && !(q + 3 < s_.size() && IsNameChar(s_[q + 3]))) {
        size_t r = q + 3;
        while (r < s_.size() && IsSpace(s_[r])) ++r;
        size_t n = At(r, "%}") ? 2 : (At(r, "-%}") || At(r, "+%}")) ? 3 : 0;
        if (n) {
          EmitData(text);
          Advance(r);
          EndBlock(r, n, true);
          CACHET_RETURN_IF_ERROR(Raw(pos_));
          continue;
        }
      }
    }
    EmitData(text);
    Advance(t + 2 + (sign ? 1 : 0));
    if (kind == '#') {
      CACHET_RETURN_IF_ERROR(Comment());
    } else {
      CACHET_RETURN_IF_ERROR(Tag(kind == '%'));
    }
  }
  Emit(Token::kEof);
  return std::move(out_);
}

Status Lexer::Tag(bool block) {
  Emit(block ? Token::kBlockBegin : Token::kVarBegin);
  depth_ = 0;
  while (true) {
    while (pos_ < s_.size() && IsSpace(s_[pos_])) Advance(pos_ + 1);
    if (pos_ >= s_.size()) return Fail(block ? "missing end of block tag" : "missing '}}'");
    if (depth_ == 0) {
      if (block && (At(pos_, "-%}") || At(pos_, "+%}") || At(pos_, "%}"))) {
        Emit(Token::kBlockEnd);
        EndBlock(pos_, s_[pos_] == '%' ? 2 : 3, true);
        return Status::Ok();
      }
      if (!block && (At(pos_, "-}}") || At(pos_, "}}"))) {
        Emit(Token::kVarEnd);
        EndBlock(pos_, s_[pos_] == '}' ? 2 : 3, false);
        return Status::Ok();
      }
    }
    CACHET_RETURN_IF_ERROR(ExprToken());
  }
}

Status Lexer::ExprToken() {
  char c = s_[pos_];
  if (IsNameStart(c)) {
    size_t e = pos_;
    while (e < s_.size() && IsNameChar(s_[e])) ++e;
    Emit(Token::kName, s_.substr(pos_, e - pos_));
    Advance(e);
    return Status::Ok();
  }
  if (IsDigit(c)) return Number();
  if (c == '\'' || c == '"') return StringLit();
  static const char* kOps[] = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "*",
                               "/",  "%",  "~",  "<",  ">",  "=",  ".", ",", ":",
                               "|",  "(",  ")",  "[",  "]",  "{",  "}"};
  for (const char* op : kOps) {
    if (!At(pos_, op)) continue;
    std::string o = op;
    if (o == "(" || o == "[" || o == "{") ++depth_;
    if (o == ")" || o == "]" || o == "}") {
      if (depth_ == 0) return Fail("unexpected '" + o + "'");
      --depth_;
    }
    Emit(Token::kOp, o);
    Advance(pos_ + o.size());
    return Status::Ok();
  }
  return Fail(std::string("unexpected character '") + c + "'");
}

Status Lexer::Number() {
  size_t e = pos_;
  std::string digits;
  auto run = [&] {
    while (e < s_.size() && (IsDigit(s_[e]) || (s_[e] == '_' && e + 1 < s_.size() &&
                                                IsDigit(s_[e + 1]) && IsDigit(s_[e - 1])))) {
      if (s_[e] != '_') digits += s_[e];
      ++e;
    }
  };
  run();
  bool is_float = false;
  if (e + 1 < s_.size() && s_[e] == '.' && IsDigit(s_[e + 1])) {
    is_float = true;
    digits += '.';
    ++e;
    run();
  }
  if (e < s_.size() && (s_[e] == 'e' || s_[e] == 'E')) {
    size_t m = e + 1;
    if (m < s_.size() && (s_[m] == '+' || s_[m] == '-')) ++m;
    if (m < s_.size() && IsDigit(s_[m])) {
      is_float = true;
      digits += 'e';
      digits += s_.substr(e + 1, m - e - 1);
      e = m;
      run();
    }
  }
  Token t;
  t.line = line_;
  if (is_float) {
    t.kind = Token::kFloat;
    t.float_value = std::strtod(digits.c_str(), nullptr);
  } else {
    t.kind = Token::kInt;
    errno = 0;
    long long v = std::strtoll(digits.c_str(), nullptr, 10);
    if (errno == ERANGE) return Fail("integer literal out of range: " + digits);
    t.int_value = v;
  }
  t.text = digits;
  out_.push_back(std::move(t));
  Advance(e);
  return Status::Ok();
}

// One escape sequence of a string literal (s_[*p] is the character after the backslash), decoded
// as Python's unicode-escape does it (Jinja2 decodes literals that way).
Status Lexer::Escape(size_t* p, std::string* out) const {
  char e = s_[*p];
  ++*p;
  switch (e) {
    case 'n':
      *out += '\n';
      return Status::Ok();
    case 't':
      *out += '\t';
      return Status::Ok();
    case 'r':
      *out += '\r';
      return Status::Ok();
    case 'b':
      *out += '\b';
      return Status::Ok();
    case 'f':
      *out += '\f';
      return Status::Ok();
    case 'v':
      *out += '\v';
      return Status::Ok();
    case 'a':
      *out += '\a';
      return Status::Ok();
    case '\\':
      *out += '\\';
      return Status::Ok();
    case '\'':
      *out += '\'';
      return Status::Ok();
    case '"':
      *out += '"';
      return Status::Ok();
    case '\n':
      return Status::Ok();  // line continuation
    case 'x':
    case 'u':
    case 'U': {
      int n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
      char32_t v = 0;
      for (int i = 0; i < n; ++i) {
        int h = *p + i < s_.size() ? HexVal(s_[*p + i]) : -1;
        if (h < 0) return Fail(std::string("bad \\") + e + " escape in string literal");
        v = v * 16 + h;
      }
      if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
        return Fail("unsupported code point escape in string literal");
      }
      AppendUtf8(v, out);
      *p += n;
      return Status::Ok();
    }
    default:
      break;
  }
  if (e >= '0' && e <= '7') {
    char32_t v = e - '0';
    for (int i = 0; i < 2 && *p < s_.size() && s_[*p] >= '0' && s_[*p] <= '7'; ++i, ++*p) {
      v = v * 8 + (s_[*p] - '0');
    }
    AppendUtf8(v, out);
    return Status::Ok();
  }
  if (e == 'N') return Fail("\\N{...} escapes are not supported");
  *out += '\\';  // unknown escapes are kept, as Python does
  *out += e;
  return Status::Ok();
}

Status Lexer::StringLit() {
  char q = s_[pos_];
  size_t p = pos_ + 1;
  std::string out;
  while (true) {
    if (p >= s_.size()) return Fail("unterminated string literal");
    char c = s_[p];
    if (c == q) break;
    if (c != '\\') {
      out += c;
      ++p;
      continue;
    }
    if (p + 1 >= s_.size()) return Fail("unterminated string literal");
    ++p;
    CACHET_RETURN_IF_ERROR(Escape(&p, &out));
  }
  Token t;
  t.kind = Token::kString;
  t.text = std::move(out);
  t.line = line_;
  out_.push_back(std::move(t));
  Advance(p + 1);
  return Status::Ok();
}

}  // namespace

Result<std::vector<Token>> Lex(const std::string& source) {
  Lexer lx(Normalize(source));
  return lx.Run();
}

}  // namespace cachet::jinja
