#include "tokenizer/jinja/strings.h"

#include <algorithm>

namespace cachet::jinja {

bool IsPyWhitespace(char32_t c) {
  return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
         c == 0x205f || c == 0x3000;
}

std::string PyStrip(const std::string& s, const std::string* chars, bool left, bool right) {
  auto cps = DecodeUtf8(s);
  std::vector<char32_t> set;
  if (chars) set = DecodeUtf8(*chars);
  auto strip = [&](char32_t c) {
    if (!chars) return IsPyWhitespace(c);
    return std::find(set.begin(), set.end(), c) != set.end();
  };
  size_t b = 0, e = cps.size();
  if (left)
    while (b < e && strip(cps[b])) ++b;
  if (right)
    while (e > b && strip(cps[e - 1])) --e;
  if (b == 0 && e == cps.size()) return s;
  return EncodeUtf8(cps, b, e);
}

Result<std::vector<std::string>> PySplit(const std::string& s, const std::string* sep,
                                         int64_t maxsplit, bool from_right) {
  std::vector<std::string> out;
  if (sep) {
    if (sep->empty()) return InvalidArgument("empty separator");
    if (!from_right) {
      size_t pos = 0;
      while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
        size_t f = s.find(*sep, pos);
        if (f == std::string::npos) break;
        out.push_back(s.substr(pos, f - pos));
        pos = f + sep->size();
      }
      out.push_back(s.substr(pos));
      return out;
    }
    size_t end = s.size();
    int64_t n = 0;
    while (maxsplit < 0 || n < maxsplit) {
      if (end < sep->size()) break;
      size_t f = s.rfind(*sep, end - sep->size());
      if (f == std::string::npos) break;
      out.push_back(s.substr(f + sep->size(), end - f - sep->size()));
      end = f;
      ++n;
    }
    out.push_back(s.substr(0, end));
    std::reverse(out.begin(), out.end());
    return out;
  }
  auto cps = DecodeUtf8(s);
  size_t n = cps.size();
  if (!from_right) {
    size_t i = 0;
    while (i < n) {
      while (i < n && IsPyWhitespace(cps[i])) ++i;
      if (i >= n) break;
      if (maxsplit >= 0 && static_cast<int64_t>(out.size()) >= maxsplit) {
        size_t e = n;
        while (e > i && IsPyWhitespace(cps[e - 1])) --e;
        out.push_back(EncodeUtf8(cps, i, e));
        break;
      }
      size_t j = i;
      while (j < n && !IsPyWhitespace(cps[j])) ++j;
      out.push_back(EncodeUtf8(cps, i, j));
      i = j;
    }
    return out;
  }
  size_t e = n;
  while (e > 0) {
    while (e > 0 && IsPyWhitespace(cps[e - 1])) --e;
    if (e == 0) break;
    if (maxsplit >= 0 && static_cast<int64_t>(out.size()) >= maxsplit) {
      size_t b = 0;
      while (b < e && IsPyWhitespace(cps[b])) ++b;
      out.push_back(EncodeUtf8(cps, b, e));
      break;
    }
    size_t b = e;
    while (b > 0 && !IsPyWhitespace(cps[b - 1])) --b;
    out.push_back(EncodeUtf8(cps, b, e));
    e = b;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::string PyReplace(const std::string& s, const std::string& old, const std::string& repl,
                      int64_t count) {
  std::string out;
  if (old.empty()) {  // Python inserts repl between every code point (and at both ends)
    auto cps = DecodeUtf8(s);
    int64_t n = 0;
    for (size_t i = 0; i <= cps.size(); ++i) {
      if (count < 0 || n < count) {
        out += repl;
        ++n;
      }
      if (i < cps.size()) AppendUtf8(cps[i], &out);
    }
    return out;
  }
  size_t pos = 0;
  int64_t n = 0;
  while (count < 0 || n < count) {
    size_t f = s.find(old, pos);
    if (f == std::string::npos) break;
    out.append(s, pos, f - pos);
    out += repl;
    pos = f + old.size();
    ++n;
  }
  out.append(s, pos, std::string::npos);
  return out;
}

std::string AsciiLower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

std::string AsciiUpper(std::string s) {
  for (char& c : s) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return s;
}

std::string JinjaTitle(const std::string& s) {
  // Split into runs of separators ([-\s({[<]) and words; each run: first char upper, rest lower.
  auto is_sep = [](char32_t c) {
    return c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || IsPyWhitespace(c);
  };
  auto cps = DecodeUtf8(s);
  std::string out;
  size_t i = 0;
  while (i < cps.size()) {
    bool sep = is_sep(cps[i]);
    size_t j = i;
    while (j < cps.size() && is_sep(cps[j]) == sep) ++j;
    std::string run = EncodeUtf8(cps, i, j);
    std::string first = EncodeUtf8(cps, i, i + 1);
    out += UnicodeUpper(first) + UnicodeLower(run.substr(first.size()));
    i = j;
  }
  return out;
}

std::vector<std::string> PySplitLines(const std::string& s, bool keepends) {
  auto cps = DecodeUtf8(s);
  std::vector<std::string> out;
  size_t start = 0, i = 0;
  while (i < cps.size()) {
    char32_t c = cps[i];
    bool brk = c == '\n' || c == '\r' || c == 0x0b || c == 0x0c || (c >= 0x1c && c <= 0x1e) ||
               c == 0x85 || c == 0x2028 || c == 0x2029;
    if (!brk) {
      ++i;
      continue;
    }
    size_t eol = i + ((c == '\r' && i + 1 < cps.size() && cps[i + 1] == '\n') ? 2 : 1);
    out.push_back(EncodeUtf8(cps, start, keepends ? eol : i));
    start = i = eol;
  }
  if (start < cps.size()) out.push_back(EncodeUtf8(cps, start, cps.size()));
  return out;
}

Result<std::string> PyFormat(const std::string& fmt, const Args& args, size_t first) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    char c = fmt[i];
    if (c == '}') {
      if (i + 1 < fmt.size() && fmt[i + 1] == '}') {
        out += '}';
        ++i;
        continue;
      }
      return InvalidArgument("format: single '}' encountered");
    }
    if (c != '{') {
      out += c;
      continue;
    }
    if (i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    size_t e = fmt.find('}', i);
    if (e == std::string::npos) return InvalidArgument("format: single '{' encountered");
    std::string field = fmt.substr(i + 1, e - i - 1);
    if (field.find_first_of(":!.[") != std::string::npos) {
      return Unsupported("format: conversions and format specs are not supported");
    }
    const Value* v = nullptr;
    if (field.empty() || std::all_of(field.begin(), field.end(), ::isdigit)) {
      size_t idx = field.empty() ? auto_index++ : std::stoul(field);
      if (first + idx >= args.positional.size())
        return InvalidArgument("format: index out of range");
      v = &args.positional[first + idx];
    } else {
      for (const auto& [k, kv] : args.keyword) {
        if (k == field) v = &kv;
      }
      if (!v) return InvalidArgument("format: missing key '" + field + "'");
    }
    out += v->Str();
    i = e;
  }
  return out;
}

Result<std::string> PyPercentFormat(const std::string& fmt, const std::vector<Value>& args) {
  std::string out;
  size_t next = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out += fmt[i];
      continue;
    }
    if (i + 1 >= fmt.size()) return InvalidArgument("incomplete format");
    char c = fmt[++i];
    if (c == '%') {
      out += '%';
      continue;
    }
    if (c != 's' && c != 'r' && c != 'd' && c != 'i') {
      return Unsupported(std::string("'%") + c + "' string formatting is not supported");
    }
    if (next >= args.size()) return InvalidArgument("not enough arguments for format string");
    const Value& v = args[next++];
    if (c == 's') {
      out += v.Str();
    } else if (c == 'r') {
      out += v.Repr();
    } else if (v.is_float()) {
      double d = v.as_double();
      if (!(d > -9.2e18 && d < 9.2e18)) return InvalidArgument("%d: number out of range");
      out += std::to_string(static_cast<int64_t>(d));
    } else if (v.is_int() || v.is_bool()) {
      out += std::to_string(v.as_int());
    } else {
      return InvalidArgument("%d format: a real number is required, not " + v.TypeName());
    }
  }
  if (next < args.size())
    return InvalidArgument("not all arguments converted during string formatting");
  return out;
}

std::string HtmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace cachet::jinja
