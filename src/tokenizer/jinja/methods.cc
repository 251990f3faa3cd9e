// Attribute lookup on values, including the Python methods templates call: str.strip(),
// str.split(), str.startswith(), dict.items(), dict.get(), ...
#include <algorithm>

#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/strings.h"

namespace cachet::jinja {
namespace {

using Method = Result<Value> (*)(const Value& self, Args& a);

// Positional i (0-based, excluding self) or keyword `name`; nullptr when absent.
const Value* Arg(const Args& a, size_t i, const char* name) {
  if (i < a.positional.size()) return &a.positional[i];
  for (const auto& [k, v] : a.keyword) {
    if (k == name) return &v;
  }
  return nullptr;
}

Result<const std::string*> OptStr(const Args& a, size_t i, const char* name) {
  const Value* v = Arg(a, i, name);
  if (!v || v->is_none()) return static_cast<const std::string*>(nullptr);
  if (!v->is_string()) return InvalidArgument(std::string(name) + " must be a string");
  return &v->str();
}

Result<int64_t> OptInt(const Args& a, size_t i, const char* name, int64_t def) {
  const Value* v = Arg(a, i, name);
  if (!v || v->is_none()) return def;
  if (!v->is_int() && !v->is_bool()) return InvalidArgument(std::string(name) + " must be an int");
  return v->as_int();
}

Value StrList(std::vector<std::string> parts) {
  std::vector<Value> out;
  out.reserve(parts.size());
  for (auto& p : parts) out.emplace_back(std::move(p));
  return Value::List(std::move(out));
}

Result<Value> Strip(const Value& s, Args& a, bool l, bool r) {
  CACHET_ASSIGN_OR_RETURN(const std::string* chars, OptStr(a, 0, "chars"));
  return Value(PyStrip(s.str(), chars, l, r));
}

Result<Value> Split(const Value& s, Args& a, bool from_right) {
  CACHET_ASSIGN_OR_RETURN(const std::string* sep, OptStr(a, 0, "sep"));
  CACHET_ASSIGN_OR_RETURN(int64_t maxsplit, OptInt(a, 1, "maxsplit", -1));
  CACHET_ASSIGN_OR_RETURN(auto parts, PySplit(s.str(), sep, maxsplit, from_right));
  return StrList(std::move(parts));
}

Result<Value> AffixTest(const Value& s, Args& a, bool prefix) {
  const Value* p = Arg(a, 0, prefix ? "prefix" : "suffix");
  if (!p) return InvalidArgument("startswith/endswith takes one argument");
  std::vector<Value> options = p->is_list() ? p->list() : std::vector<Value>{*p};
  if (a.positional.size() > 1) return Unsupported("startswith/endswith with start/end");
  const std::string& str = s.str();
  for (const Value& o : options) {
    if (!o.is_string()) return InvalidArgument("startswith/endswith argument must be str");
    const std::string& x = o.str();
    if (x.size() > str.size()) continue;
    if (prefix ? str.compare(0, x.size(), x) == 0
               : str.compare(str.size() - x.size(), x.size(), x) == 0) {
      return Value(true);
    }
  }
  return Value(false);
}

Result<Value> Find(const Value& s, Args& a, bool from_right) {
  CACHET_ASSIGN_OR_RETURN(const std::string* sub, OptStr(a, 0, "sub"));
  if (!sub) return InvalidArgument("find() takes a string");
  size_t f = from_right ? s.str().rfind(*sub) : s.str().find(*sub);
  if (f == std::string::npos) return Value(int64_t{-1});
  return Value(static_cast<int64_t>(Utf8Length(s.str().substr(0, f))));
}

template <typename Pred>
Value AllChars(const std::string& s, Pred pred) {
  if (s.empty()) return Value(false);
  for (char c : s) {
    if (!pred(static_cast<unsigned char>(c))) return Value(false);
  }
  return Value(true);
}

Result<Value> StrMethod(const std::string& name, const Value& s, Args& a) {
  if (name == "strip") return Strip(s, a, true, true);
  if (name == "lstrip") return Strip(s, a, true, false);
  if (name == "rstrip") return Strip(s, a, false, true);
  if (name == "split") return Split(s, a, false);
  if (name == "rsplit") return Split(s, a, true);
  if (name == "startswith") return AffixTest(s, a, true);
  if (name == "endswith") return AffixTest(s, a, false);
  if (name == "lower") return Value(UnicodeLower(s.str()));
  if (name == "upper") return Value(UnicodeUpper(s.str()));
  if (name == "title") return Value(PyTitle(s.str()));
  if (name == "capitalize") return Value(PyCapitalize(s.str()));
  if (name == "find") return Find(s, a, false);
  if (name == "rfind") return Find(s, a, true);
  if (name == "replace") {
    CACHET_ASSIGN_OR_RETURN(const std::string* old, OptStr(a, 0, "old"));
    CACHET_ASSIGN_OR_RETURN(const std::string* repl, OptStr(a, 1, "new"));
    CACHET_ASSIGN_OR_RETURN(int64_t count, OptInt(a, 2, "count", -1));
    if (!old || !repl) return InvalidArgument("replace() takes two strings");
    return Value(PyReplace(s.str(), *old, *repl, count));
  }
  if (name == "count") {
    CACHET_ASSIGN_OR_RETURN(const std::string* sub, OptStr(a, 0, "sub"));
    if (!sub) return InvalidArgument("count() takes a string");
    if (sub->empty()) return Value(static_cast<int64_t>(Utf8Length(s.str()) + 1));
    int64_t n = 0;
    for (size_t p = s.str().find(*sub); p != std::string::npos;
         p = s.str().find(*sub, p + sub->size())) {
      ++n;
    }
    return Value(n);
  }
  if (name == "join") {
    const Value* items = Arg(a, 0, "iterable");
    if (!items || !items->is_list()) return InvalidArgument("join() takes a list");
    std::string out;
    for (size_t i = 0; i < items->list().size(); ++i) {
      const Value& x = items->list()[i];
      if (!x.is_string()) return InvalidArgument("join(): sequence item is not a str");
      if (i) out += s.str();
      out += x.str();
    }
    return Value(std::move(out));
  }
  if (name == "format") {
    CACHET_ASSIGN_OR_RETURN(std::string r, PyFormat(s.str(), a, 0));
    return Value(std::move(r));
  }
  if (name == "splitlines") {
    const Value* keep = Arg(a, 0, "keepends");
    return StrList(PySplitLines(s.str(), keep && keep->Truthy()));
  }
  if (name == "isdigit")
    return AllChars(s.str(), [](unsigned char c) { return c >= '0' && c <= '9'; });
  if (name == "isspace")
    return AllChars(s.str(), [](unsigned char c) { return IsPyWhitespace(c); });
  return InvalidArgument("str has no method '" + name + "'");
}

Result<Value> DictMethod(const std::string& name, const Value& d, Args& a) {
  if (name == "items") {
    std::vector<Value> out;
    for (const auto& [k, v] : d.dict().items()) out.push_back(Value::List({Value(k), v}, true));
    return Value::List(std::move(out));
  }
  if (name == "keys" || name == "values") {
    std::vector<Value> out;
    for (const auto& [k, v] : d.dict().items()) out.push_back(name == "keys" ? Value(k) : v);
    return Value::List(std::move(out));
  }
  if (name == "get") {
    const Value* key = Arg(a, 0, "key");
    const Value* def = Arg(a, 1, "default");
    if (!key) return InvalidArgument("get() takes a key");
    const Value* v = key->is_string() ? d.dict().Find(key->str()) : nullptr;
    if (v) return *v;
    return def ? *def : Value::None();
  }
  return InvalidArgument("dict has no method '" + name + "'");
}

bool IsStrMethod(const std::string& n) {
  static const char* kNames[] = {"strip",      "lstrip",   "rstrip",     "split",   "rsplit",
                                 "startswith", "endswith", "lower",      "upper",   "title",
                                 "capitalize", "find",     "rfind",      "replace", "count",
                                 "join",       "format",   "splitlines", "isdigit", "isspace"};
  return std::find(std::begin(kNames), std::end(kNames), n) != std::end(kNames);
}

bool IsDictMethod(const std::string& n) {
  return n == "items" || n == "keys" || n == "values" || n == "get";
}

// Methods that exist in Python but mutate (the sandbox refuses them) or that we lack.
bool IsUnsupportedMethod(const Value& obj, const std::string& n) {
  if (obj.is_list()) {
    return n == "append" || n == "extend" || n == "pop" || n == "insert" || n == "remove" ||
           n == "sort" || n == "reverse" || n == "clear" || n == "index" || n == "count" ||
           n == "copy";
  }
  if (obj.is_dict() && !obj.is_namespace()) {
    return n == "update" || n == "pop" || n == "setdefault" || n == "clear" || n == "copy" ||
           n == "popitem";
  }
  return false;
}

}  // namespace

Value GetAttr(const Value& obj, const std::string& attr) {
  if (obj.is_string() && IsStrMethod(attr)) {
    Value self = obj;
    return Value::Function(
        "str." + attr, [self, attr](Interpreter&, Args& a) { return StrMethod(attr, self, a); });
  }
  if (obj.is_dict() && !obj.is_namespace() && IsDictMethod(attr)) {
    Value self = obj;
    return Value::Function(
        "dict." + attr, [self, attr](Interpreter&, Args& a) { return DictMethod(attr, self, a); });
  }
  if (IsUnsupportedMethod(obj, attr)) {
    return Value::Function(attr, [attr](Interpreter&, Args&) -> Result<Value> {
      return Unsupported("method '" + attr + "' is not supported (templates are immutable)");
    });
  }
  if (obj.is_dict()) {
    const Value* v = obj.dict().Find(attr);
    if (v) return *v;
  }
  return Value::Undefined(attr);
}

}  // namespace cachet::jinja
