#include "tokenizer/jinja/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace cachet::jinja {

// Small dicts (messages, loop objects) are searched linearly; an index is built past kIndexed.
constexpr size_t kIndexed = 16;

const Value* Dict::Find(const std::string& key) const {
  if (index_.empty()) {
    for (const auto& kv : items_) {
      if (kv.first == key) return &kv.second;
    }
    return nullptr;
  }
  auto it = index_.find(key);
  return it == index_.end() ? nullptr : &items_[it->second].second;
}

void Dict::Set(const std::string& key, Value v) {
  if (const Value* found = Find(key)) {
    *const_cast<Value*>(found) = std::move(v);
    return;
  }
  items_.emplace_back(key, std::move(v));
  if (!index_.empty()) {
    index_.emplace(key, items_.size() - 1);
  } else if (items_.size() > kIndexed) {
    for (size_t i = 0; i < items_.size(); ++i) index_.emplace(items_[i].first, i);
  }
}

Value::Value(std::string s)
    : kind_(Kind::kString), str_(std::make_shared<const std::string>(std::move(s))) {}

Value Value::List(std::vector<Value> items, bool tuple) {
  Value v(Kind::kList);
  v.flag_ = tuple;
  for (const Value& x : items) v.depth_ = std::max(v.depth_, x.depth_ + 1);
  if (items.empty()) v.depth_ = 1;
  v.list_ = std::make_shared<const std::vector<Value>>(std::move(items));
  return v;
}

Value Value::MakeDict(Dict d, bool is_namespace) {
  Value v(Kind::kDict);
  v.flag_ = is_namespace;
  v.depth_ = 1;
  for (const auto& kv : d.items()) v.depth_ = std::max(v.depth_, kv.second.depth_ + 1);
  v.dict_ = std::make_shared<Dict>(std::move(d));
  return v;
}

Value Value::Function(std::string name, NativeFn fn) {
  Value v(Kind::kFunction);
  v.str_ = std::make_shared<const std::string>(std::move(name));
  v.fn_ = std::make_shared<const NativeFn>(std::move(fn));
  return v;
}

bool Value::Truthy() const {
  switch (kind_) {
    case Kind::kUndefined:
    case Kind::kNone:
      return false;
    case Kind::kBool:
    case Kind::kInt:
      return i_ != 0;
    case Kind::kFloat:
      return d_ != 0;
    case Kind::kString:
      return !str_->empty();
    case Kind::kList:
      return !list_->empty();
    case Kind::kDict:
      return flag_ || dict_->size() > 0;
    case Kind::kFunction:
      return true;
  }
  return false;
}

std::string PyFloatRepr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string sci(buf, r.ptr);  // "-d.ddde+XX"
  bool neg = sci[0] == '-';
  if (neg) sci.erase(0, 1);
  size_t e_pos = sci.find('e');
  int exp = std::atoi(sci.c_str() + e_pos + 1);
  std::string digits;
  for (size_t i = 0; i < e_pos; ++i) {
    if (sci[i] != '.') digits += sci[i];
  }
  std::string out = neg ? "-" : "";
  int n = static_cast<int>(digits.size());
  if (exp >= -5 + 1 && exp < 16) {  // Python 'r' format: fixed when -4 <= exp < 16
    if (exp >= 0) {
      if (n <= exp + 1) {
        out += digits + std::string(exp + 1 - n, '0') + ".0";
      } else {
        out += digits.substr(0, exp + 1) + "." + digits.substr(exp + 1);
      }
    } else {
      out += "0." + std::string(-exp - 1, '0') + digits;
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (n > 1) out += "." + digits.substr(1);
  char eb[16];
  std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
  return out + eb;
}

namespace {

void AppendPyStringRepr(const std::string& s, std::string* out) {
  bool has_single = s.find('\'') != std::string::npos;
  bool has_double = s.find('"') != std::string::npos;
  char q = (has_single && !has_double) ? '"' : '\'';
  *out += q;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = s[i];
    if (c == '\\') {
      *out += "\\\\";
    } else if (c == static_cast<unsigned char>(q)) {
      *out += '\\';
      *out += q;
    } else if (c == '\n') {
      *out += "\\n";
    } else if (c == '\r') {
      *out += "\\r";
    } else if (c == '\t') {
      *out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      *out += b;
    } else if (c == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(s[i + 1]) <= 0x9f) {  // C1 controls: not printable
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", static_cast<unsigned char>(s[i + 1]));
      *out += b;
      ++i;
    } else {
      *out += static_cast<char>(c);
    }
  }
  *out += q;
}

void AppendRepr(const Value& v, std::string* out, int depth);

void AppendSeq(const Value& v, std::string* out, int depth) {
  const auto& items = v.list();
  *out += v.is_tuple() ? '(' : '[';
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) *out += ", ";
    AppendRepr(items[i], out, depth + 1);
  }
  if (v.is_tuple() && items.size() == 1) *out += ',';
  *out += v.is_tuple() ? ')' : ']';
}

void AppendRepr(const Value& v, std::string* out, int depth) {
  if (depth > static_cast<int>(kMaxValueDepth)) {  // only reachable through namespace cycles
    *out += "...";
    return;
  }
  switch (v.kind()) {
    case Value::Kind::kString:
      AppendPyStringRepr(v.str(), out);
      return;
    case Value::Kind::kList:
      AppendSeq(v, out, depth);
      return;
    case Value::Kind::kDict: {
      if (v.is_namespace()) *out += "<Namespace ";
      *out += '{';
      bool first = true;
      for (const auto& [k, item] : v.dict().items()) {
        if (!first) *out += ", ";
        first = false;
        AppendPyStringRepr(k, out);
        *out += ": ";
        AppendRepr(item, out, depth + 1);
      }
      *out += '}';
      if (v.is_namespace()) *out += '>';
      return;
    }
    default:
      *out += v.Str();
  }
}

}  // namespace

std::string Value::Str() const {
  switch (kind_) {
    case Kind::kUndefined:
      return "";
    case Kind::kNone:
      return "None";
    case Kind::kBool:
      return i_ ? "True" : "False";
    case Kind::kInt:
      return std::to_string(i_);
    case Kind::kFloat:
      return PyFloatRepr(d_);
    case Kind::kString:
      return *str_;
    case Kind::kFunction:
      return "<function " + *str_ + ">";
    default: {
      std::string out;
      AppendRepr(*this, &out, 0);
      return out;
    }
  }
}

std::string Value::Repr() const {
  std::string out;
  AppendRepr(*this, &out, 0);
  return out;
}

bool Value::Equals(const Value& o) const {
  if (is_number() && o.is_number()) {
    if (is_float() || o.is_float()) return as_double() == o.as_double();
    return i_ == o.i_;
  }
  if (kind_ != o.kind_) return false;
  switch (kind_) {
    case Kind::kUndefined:
    case Kind::kNone:
      return true;
    case Kind::kString:
      return *str_ == *o.str_;
    case Kind::kList: {
      if (is_tuple() != o.is_tuple() || list_->size() != o.list_->size()) return false;
      for (size_t i = 0; i < list_->size(); ++i) {
        if (!(*list_)[i].Equals((*o.list_)[i])) return false;
      }
      return true;
    }
    case Kind::kDict: {
      if (flag_ || o.flag_) return dict_ == o.dict_;
      if (dict_->size() != o.dict_->size()) return false;
      for (const auto& [k, item] : dict_->items()) {
        const Value* other = o.dict_->Find(k);
        if (!other || !item.Equals(*other)) return false;
      }
      return true;
    }
    case Kind::kFunction:
      return fn_ == o.fn_;
    default:
      return false;
  }
}

std::string Value::TypeName() const {
  switch (kind_) {
    case Kind::kUndefined:
      return "undefined";
    case Kind::kNone:
      return "NoneType";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return "int";
    case Kind::kFloat:
      return "float";
    case Kind::kString:
      return "str";
    case Kind::kList:
      return is_tuple() ? "tuple" : "list";
    case Kind::kDict:
      return is_namespace() ? "Namespace" : "dict";
    case Kind::kFunction:
      return "function";
  }
  return "?";
}

// --- UTF-8 ---

std::vector<char32_t> DecodeUtf8(const std::string& s) {
  std::vector<char32_t> out;
  out.reserve(s.size());
  size_t i = 0, n = s.size();
  while (i < n) {
    unsigned char c = s[i];
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > n) {
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    char32_t cp = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
    bool ok = true;
    for (int k = 1; k < len; ++k) {
      unsigned char cc = s[i + k];
      if ((cc & 0xc0) != 0x80) ok = false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (!ok) {
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    out.push_back(cp);
    i += len;
  }
  return out;
}

void AppendUtf8(char32_t c, std::string* out) {
  if (c < 0x80) {
    *out += static_cast<char>(c);
  } else if (c < 0x800) {
    *out += static_cast<char>(0xc0 | (c >> 6));
    *out += static_cast<char>(0x80 | (c & 0x3f));
  } else if (c < 0x10000) {
    *out += static_cast<char>(0xe0 | (c >> 12));
    *out += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
    *out += static_cast<char>(0x80 | (c & 0x3f));
  } else {
    *out += static_cast<char>(0xf0 | (c >> 18));
    *out += static_cast<char>(0x80 | ((c >> 12) & 0x3f));
    *out += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
    *out += static_cast<char>(0x80 | (c & 0x3f));
  }
}

std::string EncodeUtf8(const std::vector<char32_t>& cps, size_t begin, size_t end) {
  std::string out;
  for (size_t i = begin; i < end; ++i) AppendUtf8(cps[i], &out);
  return out;
}

size_t Utf8Length(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xc0) != 0x80;
  return n;
}

// --- JSON (Python json.dumps) ---

namespace {

void AppendJsonString(const std::string& s, bool ensure_ascii, std::string* out) {
  *out += '"';
  auto put_u = [&](unsigned v) {
    char b[8];
    std::snprintf(b, sizeof b, "\\u%04x", v);
    *out += b;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = s[i];
    switch (c) {
      case '"':
        *out += "\\\"";
        continue;
      case '\\':
        *out += "\\\\";
        continue;
      case '\n':
        *out += "\\n";
        continue;
      case '\r':
        *out += "\\r";
        continue;
      case '\t':
        *out += "\\t";
        continue;
      case '\b':
        *out += "\\b";
        continue;
      case '\f':
        *out += "\\f";
        continue;
      default:
        break;
    }
    if (c < 0x20 || (ensure_ascii && c == 0x7f)) {
      put_u(c);
    } else if (c < 0x80 || !ensure_ascii) {
      *out += static_cast<char>(c);
    } else {
      size_t start = i;
      int len = (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
      if (start + len > s.size()) len = 1;
      auto cps = DecodeUtf8(s.substr(start, len));
      char32_t cp = cps.empty() ? 0xFFFD : cps[0];
      i = start + len - 1;
      if (cp >= 0x10000) {
        cp -= 0x10000;
        put_u(0xd800 + (cp >> 10));
        put_u(0xdc00 + (cp & 0x3ff));
      } else {
        put_u(cp);
      }
    }
  }
  *out += '"';
}

Status AppendJson(const Value& v, const JsonOptions& o, int level, std::string* out);

void Newline(const JsonOptions& o, int level, std::string* out) {
  *out += '\n';
  for (int i = 0; i < level; ++i) {
    if (!o.indent_str.empty()) {
      *out += o.indent_str;
    } else {
      out->append(o.indent, ' ');
    }
  }
}

bool Indented(const JsonOptions& o) { return o.indent >= 0 || !o.indent_str.empty(); }

Status AppendJsonDict(const Value& v, const JsonOptions& o, int level, std::string* out) {
  std::vector<const std::pair<std::string, Value>*> items;
  for (const auto& kv : v.dict().items()) items.push_back(&kv);
  if (items.empty()) {
    *out += "{}";
    return Status::Ok();
  }
  if (o.sort_keys) {
    std::stable_sort(items.begin(), items.end(),
                     [](const auto* a, const auto* b) { return a->first < b->first; });
  }
  *out += '{';
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) *out += o.item_sep;
    if (Indented(o)) Newline(o, level + 1, out);
    AppendJsonString(items[i]->first, o.ensure_ascii, out);
    *out += o.key_sep;
    CACHET_RETURN_IF_ERROR(AppendJson(items[i]->second, o, level + 1, out));
  }
  if (Indented(o)) Newline(o, level, out);
  *out += '}';
  return Status::Ok();
}

Status AppendJson(const Value& v, const JsonOptions& o, int level, std::string* out) {
  if (level > 256) return InvalidArgument("tojson: value nested too deeply");
  switch (v.kind()) {
    case Value::Kind::kNone:
      *out += "null";
      return Status::Ok();
    case Value::Kind::kBool:
      *out += v.as_bool() ? "true" : "false";
      return Status::Ok();
    case Value::Kind::kInt:
      *out += std::to_string(v.as_int());
      return Status::Ok();
    case Value::Kind::kFloat: {
      double d = v.as_double();
      if (std::isnan(d)) {
        *out += "NaN";
      } else if (std::isinf(d)) {
        *out += d < 0 ? "-Infinity" : "Infinity";
      } else {
        *out += PyFloatRepr(d);
      }
      return Status::Ok();
    }
    case Value::Kind::kString:
      AppendJsonString(v.str(), o.ensure_ascii, out);
      return Status::Ok();
    case Value::Kind::kList: {
      const auto& items = v.list();
      if (items.empty()) {
        *out += "[]";
        return Status::Ok();
      }
      *out += '[';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) *out += o.item_sep;
        if (Indented(o)) Newline(o, level + 1, out);
        CACHET_RETURN_IF_ERROR(AppendJson(items[i], o, level + 1, out));
      }
      if (Indented(o)) Newline(o, level, out);
      *out += ']';
      return Status::Ok();
    }
    case Value::Kind::kDict:
      if (v.is_namespace()) break;
      return AppendJsonDict(v, o, level, out);
    default:
      break;
  }
  return InvalidArgument("tojson: object of type " + v.TypeName() + " is not JSON serializable");
}

template <typename J>
Result<Value> FromJsonImpl(const J& j, uint32_t depth) {
  if (depth > kMaxValueDepth) return InvalidArgument("JSON value nested too deeply");
  switch (j.type()) {
    case nlohmann::json::value_t::null:
      return Value::None();
    case nlohmann::json::value_t::boolean:
      return Value(j.template get<bool>());
    case nlohmann::json::value_t::number_integer:
      return Value(j.template get<int64_t>());
    case nlohmann::json::value_t::number_unsigned: {
      uint64_t u = j.template get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return Value(static_cast<double>(u));
      return Value(static_cast<int64_t>(u));
    }
    case nlohmann::json::value_t::number_float:
      return Value(j.template get<double>());
    case nlohmann::json::value_t::string:
      return Value(j.template get<std::string>());
    case nlohmann::json::value_t::array: {
      std::vector<Value> items;
      items.reserve(j.size());
      for (const auto& e : j) {
        CACHET_ASSIGN_OR_RETURN(Value v, FromJsonImpl(e, depth + 1));
        items.push_back(std::move(v));
      }
      return Value::List(std::move(items));
    }
    case nlohmann::json::value_t::object: {
      Dict d;
      for (auto it = j.begin(); it != j.end(); ++it) {
        CACHET_ASSIGN_OR_RETURN(Value v, FromJsonImpl(it.value(), depth + 1));
        d.Set(it.key(), std::move(v));
      }
      return Value::MakeDict(std::move(d));
    }
    default:
      return Value::None();
  }
}

}  // namespace

Result<std::string> ToJson(const Value& v, const JsonOptions& o) {
  std::string out;
  CACHET_RETURN_IF_ERROR(AppendJson(v, o, 0, &out));
  return out;
}

Result<Value> FromJson(const nlohmann::json& j) { return FromJsonImpl(j, 0); }
Result<Value> FromJson(const nlohmann::ordered_json& j) { return FromJsonImpl(j, 0); }

}  // namespace cachet::jinja
