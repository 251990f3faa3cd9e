// Filters, tests and global functions (Jinja2's defaults plus Hugging Face's tojson,
// raise_exception and strftime_now).
#include "tokenizer/jinja/builtins.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <map>

#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/strings.h"

namespace cachet::jinja {
namespace {

using FilterFn = Result<Value> (*)(Interpreter& in, Args& a);
using TestFn = Result<bool> (*)(Interpreter& in, Args& a);

const Value& Input(const Args& a) { return a.positional[0]; }

// Filter/test argument i (0 = first after the input) or keyword `name`.
const Value* Arg(const Args& a, size_t i, const char* name) {
  if (i + 1 < a.positional.size()) return &a.positional[i + 1];
  for (const auto& [k, v] : a.keyword) {
    if (k == name) return &v;
  }
  return nullptr;
}

bool ArgBool(const Args& a, size_t i, const char* name, bool def) {
  const Value* v = Arg(a, i, name);
  return v ? v->Truthy() : def;
}

Result<std::vector<Value>> Items(const Value& v) {
  if (v.is_list()) return v.list();
  if (v.is_undefined()) return std::vector<Value>{};
  std::vector<Value> out;
  if (v.is_dict() && !v.is_namespace()) {
    for (const auto& kv : v.dict().items()) out.emplace_back(kv.first);
    return out;
  }
  if (v.is_string()) {
    auto cps = DecodeUtf8(v.str());
    for (size_t i = 0; i < cps.size(); ++i) out.emplace_back(EncodeUtf8(cps, i, i + 1));
    return out;
  }
  return InvalidArgument("'" + v.TypeName() + "' object is not iterable");
}

Result<Value> Length(const Value& v) {
  if (v.is_string()) return Value(static_cast<int64_t>(Utf8Length(v.str())));
  if (v.is_list()) return Value(static_cast<int64_t>(v.list().size()));
  if (v.is_dict()) return Value(static_cast<int64_t>(v.dict().size()));
  if (v.is_undefined()) return Value(int64_t{0});
  return InvalidArgument("object of type '" + v.TypeName() + "' has no len()");
}

// Jinja's attribute getter for filters: "a.b.0" looks up each part as item, then attribute.
Value GetPath(const Value& v, const std::string& path) {
  Value cur = v;
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    std::string part =
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit);
    if (numeric && cur.is_list()) {
      size_t i = std::stoul(part);
      cur = i < cur.list().size() ? cur.list()[i] : Value::Undefined(part);
    } else if (cur.is_undefined()) {
      return cur;
    } else {
      cur = GetAttr(cur, part);
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return cur;
}

// Sort key comparison, case-insensitive for strings unless asked.
Result<bool> Less(const Value& a, const Value& b, bool case_sensitive) {
  if (!case_sensitive && a.is_string() && b.is_string()) {
    return CompareOp("<", Value(UnicodeLower(a.str())), Value(UnicodeLower(b.str())));
  }
  return CompareOp("<", a, b);
}

Result<std::vector<Value>> SortValues(std::vector<Value> items, bool case_sensitive,
                                      const std::string* attribute) {
  Status err;
  std::vector<std::pair<Value, Value>> keyed;
  for (auto& v : items) keyed.emplace_back(attribute ? GetPath(v, *attribute) : v, v);
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
    if (!err.ok()) return false;
    auto r = Less(x.first, y.first, case_sensitive);
    if (!r.ok()) {
      err = r.status();
      return false;
    }
    return *r;
  });
  CACHET_RETURN_IF_ERROR(err);
  std::vector<Value> out;
  for (auto& kv : keyed) out.push_back(std::move(kv.second));
  return out;
}

// --- filters ---

Result<Value> FTrim(Interpreter&, Args& a) {
  const Value* chars = Arg(a, 0, "chars");
  std::string c = chars && chars->is_string() ? chars->str() : "";
  return Value(PyStrip(Input(a).Str(), chars && chars->is_string() ? &c : nullptr, true, true));
}

Result<Value> FLength(Interpreter&, Args& a) { return Length(Input(a)); }

Result<Value> FToJson(Interpreter&, Args& a) {
  JsonOptions o;
  o.ensure_ascii = ArgBool(a, 0, "ensure_ascii", false);
  const Value* indent = Arg(a, 1, "indent");
  if (indent && indent->is_string()) {
    o.indent_str = indent->str();
    o.indent = o.indent_str.empty() ? 0 : -1;
  } else if (indent && (indent->is_int() || indent->is_bool())) {
    o.indent = static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(indent->as_int(), 64)));
  } else if (indent && !indent->is_none()) {
    return InvalidArgument("tojson: indent must be an int or a string");
  }
  if (o.indent >= 0 || !o.indent_str.empty()) o.item_sep = ",";
  const Value* seps = Arg(a, 2, "separators");
  if (seps && !seps->is_none()) {
    if (!seps->is_list() || seps->list().size() != 2 || !seps->list()[0].is_string() ||
        !seps->list()[1].is_string()) {
      return InvalidArgument("tojson: separators must be a pair of strings");
    }
    o.item_sep = seps->list()[0].str();
    o.key_sep = seps->list()[1].str();
  }
  o.sort_keys = ArgBool(a, 3, "sort_keys", false);
  CACHET_ASSIGN_OR_RETURN(std::string s, ToJson(Input(a), o));
  return Value(std::move(s));
}

Result<Value> FItems(Interpreter&, Args& a) {
  const Value& v = Input(a);
  if (v.is_undefined()) return Value::List({});
  if (!v.is_dict()) return InvalidArgument("items: can only get item pairs from a mapping");
  std::vector<Value> out;
  for (const auto& [k, x] : v.dict().items()) out.push_back(Value::List({Value(k), x}, true));
  return Value::List(std::move(out));
}

Result<Value> FList(Interpreter&, Args& a) {
  CACHET_ASSIGN_OR_RETURN(auto items, Items(Input(a)));
  return Value::List(std::move(items));
}

Result<Value> FJoin(Interpreter&, Args& a) {
  const Value* sep = Arg(a, 0, "d");
  const Value* attr = Arg(a, 1, "attribute");
  CACHET_ASSIGN_OR_RETURN(auto items, Items(Input(a)));
  std::string out, s = sep ? sep->Str() : "";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += s;
    out += (attr ? GetPath(items[i], attr->Str()) : items[i]).Str();
  }
  return Value(std::move(out));
}

Result<Value> FDefault(Interpreter&, Args& a) {
  const Value* def = Arg(a, 0, "default_value");
  bool boolean = ArgBool(a, 1, "boolean", false);
  const Value& v = Input(a);
  if (v.is_undefined() || (boolean && !v.Truthy())) return def ? *def : Value("");
  return v;
}

Result<Value> FFirst(Interpreter&, Args& a) {
  CACHET_ASSIGN_OR_RETURN(auto items, Items(Input(a)));
  if (items.empty()) return Value::Undefined("first");
  return items.front();
}

Result<Value> FLast(Interpreter&, Args& a) {
  const Value& v = Input(a);
  if (!v.is_list() && !v.is_string()) return InvalidArgument("last: not a sequence");
  CACHET_ASSIGN_OR_RETURN(auto items, Items(v));
  if (items.empty()) return Value::Undefined("last");
  return items.back();
}

Result<Value> FUpper(Interpreter&, Args& a) { return Value(UnicodeUpper(Input(a).Str())); }
Result<Value> FLower(Interpreter&, Args& a) { return Value(UnicodeLower(Input(a).Str())); }
Result<Value> FTitle(Interpreter&, Args& a) { return Value(JinjaTitle(Input(a).Str())); }
Result<Value> FCapitalize(Interpreter&, Args& a) { return Value(PyCapitalize(Input(a).Str())); }
Result<Value> FString(Interpreter&, Args& a) { return Value(Input(a).Str()); }
Result<Value> FSafe(Interpreter&, Args& a) { return Value(Input(a).Str()); }
Result<Value> FEscape(Interpreter&, Args& a) { return Value(HtmlEscape(Input(a).Str())); }

Result<Value> FReplace(Interpreter&, Args& a) {
  const Value* old = Arg(a, 0, "old");
  const Value* repl = Arg(a, 1, "new");
  const Value* count = Arg(a, 2, "count");
  if (!old || !repl) return InvalidArgument("replace: needs old and new");
  int64_t n = count && !count->is_none() ? count->as_int() : -1;
  return Value(PyReplace(Input(a).Str(), old->Str(), repl->Str(), n));
}

Result<Value> FInt(Interpreter&, Args& a) {
  const Value& v = Input(a);
  const Value* def = Arg(a, 0, "default");
  Value fallback = def ? *def : Value(int64_t{0});
  if (v.is_int() || v.is_bool()) return Value(v.as_int());
  if (v.is_float()) {
    double d = v.as_double();
    if (!std::isfinite(d) || std::fabs(d) > 9.2e18) return fallback;
    return Value(static_cast<int64_t>(d));
  }
  if (v.is_string()) {
    std::string s = PyStrip(v.str(), nullptr, true, true);
    std::string digits;
    for (char c : s) {
      if (c != '_') digits += c;
    }
    char* end = nullptr;
    errno = 0;
    long long i = std::strtoll(digits.c_str(), &end, 10);
    if (!digits.empty() && end && *end == 0 && errno == 0) return Value(static_cast<int64_t>(i));
    double d = std::strtod(digits.c_str(), &end);
    if (!digits.empty() && end && *end == 0 && std::isfinite(d) && std::fabs(d) < 9.2e18) {
      return Value(static_cast<int64_t>(d));
    }
  }
  return fallback;
}

Result<Value> FFloat(Interpreter&, Args& a) {
  const Value& v = Input(a);
  const Value* def = Arg(a, 0, "default");
  if (v.is_number()) return Value(v.as_double());
  if (v.is_string()) {
    std::string s = PyStrip(v.str(), nullptr, true, true);
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && end && *end == 0) return Value(d);
  }
  return def ? *def : Value(0.0);
}

Result<Value> FAbs(Interpreter&, Args& a) {
  const Value& v = Input(a);
  if (v.is_float()) return Value(std::fabs(v.as_double()));
  if (v.is_int() || v.is_bool()) {
    if (v.as_int() == INT64_MIN) return InvalidArgument("integer overflow");
    return Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
  }
  return InvalidArgument("bad operand type for abs(): '" + v.TypeName() + "'");
}

Result<Value> FRound(Interpreter&, Args& a) {
  const Value& v = Input(a);
  if (!v.is_number()) return InvalidArgument("round: not a number");
  const Value* prec = Arg(a, 0, "precision");
  const Value* method = Arg(a, 1, "method");
  int64_t p = prec ? prec->as_int() : 0;
  std::string m = method ? method->Str() : "common";
  double scale = std::pow(10.0, static_cast<double>(p));
  double x = v.as_double() * scale;
  if (m == "common") {
    x = std::nearbyint(x);  // Python round(): ties to even
  } else if (m == "ceil") {
    x = std::ceil(x);
  } else if (m == "floor") {
    x = std::floor(x);
  } else {
    return InvalidArgument("round: method must be common, ceil or floor");
  }
  return Value(x / scale);
}

Result<Value> FReverse(Interpreter&, Args& a) {
  const Value& v = Input(a);
  CACHET_ASSIGN_OR_RETURN(auto items, Items(v));
  std::reverse(items.begin(), items.end());
  if (v.is_string()) {
    std::string s;
    for (const Value& c : items) s += c.str();
    return Value(std::move(s));
  }
  return Value::List(std::move(items));
}

Result<Value> FSort(Interpreter&, Args& a) {
  CACHET_ASSIGN_OR_RETURN(auto items, Items(Input(a)));
  bool reverse = ArgBool(a, 0, "reverse", false);
  bool cs = ArgBool(a, 1, "case_sensitive", false);
  const Value* attr = Arg(a, 2, "attribute");
  std::string path = attr ? attr->Str() : "";
  CACHET_ASSIGN_OR_RETURN(items, SortValues(std::move(items), cs, attr ? &path : nullptr));
  if (reverse) std::reverse(items.begin(), items.end());
  return Value::List(std::move(items));
}

Result<Value> FDictSort(Interpreter&, Args& a) {
  const Value& v = Input(a);
  if (!v.is_dict()) return InvalidArgument("dictsort: not a mapping");
  bool cs = ArgBool(a, 0, "case_sensitive", false);
  const Value* by = Arg(a, 1, "by");
  bool reverse = ArgBool(a, 2, "reverse", false);
  bool by_value = by && by->Str() == "value";
  std::vector<Value> pairs;
  for (const auto& [k, x] : v.dict().items()) pairs.push_back(Value::List({Value(k), x}, true));
  std::string path = by_value ? "1" : "0";
  CACHET_ASSIGN_OR_RETURN(pairs, SortValues(std::move(pairs), cs, &path));
  if (reverse) std::reverse(pairs.begin(), pairs.end());
  return Value::List(std::move(pairs));
}

Result<Value> FUnique(Interpreter&, Args& a) {
  CACHET_ASSIGN_OR_RETURN(auto items, Items(Input(a)));
  bool cs = ArgBool(a, 0, "case_sensitive", false);
  const Value* attr = Arg(a, 1, "attribute");
  std::vector<Value> out, keys;
  for (const Value& v : items) {
    Value k = attr ? GetPath(v, attr->Str()) : v;
    if (!cs && k.is_string()) k = Value(UnicodeLower(k.str()));
    bool seen = false;
    for (const Value& s : keys) seen = seen || s.Equals(k);
    if (!seen) {
      keys.push_back(k);
      out.push_back(v);
    }
  }
  return Value::List(std::move(out));
}

Result<Value> MinMax(Args& a, bool want_max) {
  CACHET_ASSIGN_OR_RETURN(auto items, Items(Input(a)));
  bool cs = ArgBool(a, 0, "case_sensitive", false);
  const Value* attr = Arg(a, 1, "attribute");
  if (items.empty()) return Value::Undefined("min/max of an empty sequence");
  std::string path = attr ? attr->Str() : "";
  CACHET_ASSIGN_OR_RETURN(items, SortValues(std::move(items), cs, attr ? &path : nullptr));
  return want_max ? items.back() : items.front();
}
Result<Value> FMin(Interpreter&, Args& a) { return MinMax(a, false); }
Result<Value> FMax(Interpreter&, Args& a) { return MinMax(a, true); }

Result<Value> FSum(Interpreter&, Args& a) {
  CACHET_ASSIGN_OR_RETURN(auto items, Items(Input(a)));
  const Value* attr = Arg(a, 0, "attribute");
  const Value* start = Arg(a, 1, "start");
  Value acc = start ? *start : Value(int64_t{0});
  for (const Value& v : items) {
    CACHET_ASSIGN_OR_RETURN(acc, BinaryOp("+", acc, attr ? GetPath(v, attr->Str()) : v));
  }
  return acc;
}

Result<Value> FAttr(Interpreter&, Args& a) {
  const Value* name = Arg(a, 0, "name");
  if (!name) return InvalidArgument("attr: needs a name");
  if (Input(a).is_undefined()) return UndefinedError(Input(a));
  return GetAttr(Input(a), name->Str());
}

Result<Value> FIndent(Interpreter&, Args& a) {
  const Value* width = Arg(a, 0, "width");
  std::string ind =
      width && width->is_string() ? width->str() : std::string(width ? width->as_int() : 4, ' ');
  bool first = ArgBool(a, 1, "first", false);
  bool blank = ArgBool(a, 2, "blank", false);
  auto lines = PySplitLines(Input(a).Str() + "\n", false);
  std::string rv;
  if (blank) {
    for (size_t i = 0; i < lines.size(); ++i) rv += (i ? "\n" + ind : "") + lines[i];
  } else if (!lines.empty()) {
    rv = lines[0];
    for (size_t i = 1; i < lines.size(); ++i) rv += "\n" + (lines[i].empty() ? "" : ind) + lines[i];
  }
  if (first) rv = ind + rv;
  return Value(std::move(rv));
}

Result<Value> FFormat(Interpreter&, Args& a) {
  std::vector<Value> args(a.positional.begin() + 1, a.positional.end());
  CACHET_ASSIGN_OR_RETURN(std::string s, PyPercentFormat(Input(a).Str(), args));
  return Value(std::move(s));
}

// map(attribute=...) or map('filter', args...).
Result<Value> FMap(Interpreter& in, Args& a) {
  CACHET_ASSIGN_OR_RETURN(auto items, Items(Input(a)));
  std::vector<Value> out;
  const Value* attr = nullptr;
  for (const auto& [k, v] : a.keyword) {
    if (k == "attribute") attr = &v;
  }
  if (attr) {
    const Value* def = nullptr;
    for (const auto& [k, v] : a.keyword) {
      if (k == "default") def = &v;
    }
    for (const Value& v : items) {
      Value x = GetPath(v, attr->Str());
      out.push_back(x.is_undefined() && def ? *def : x);
    }
    return Value::List(std::move(out));
  }
  if (a.positional.size() < 2 || !a.positional[1].is_string()) {
    return InvalidArgument("map: needs a filter name or attribute=");
  }
  std::string name = a.positional[1].str();
  if (!IsKnownFilter(name)) return Unsupported("map: no filter named '" + name + "'");
  for (const Value& v : items) {
    Args fa;
    fa.positional.push_back(v);
    fa.positional.insert(fa.positional.end(), a.positional.begin() + 2, a.positional.end());
    CACHET_RETURN_IF_ERROR(in.Tick());
    CACHET_ASSIGN_OR_RETURN(Value r, ApplyFilter(in, name, fa));
    out.push_back(std::move(r));
  }
  return Value::List(std::move(out));
}

// select/reject/selectattr/rejectattr.
Result<Value> SelectImpl(Interpreter& in, Args& a, bool by_attr, bool keep) {
  CACHET_ASSIGN_OR_RETURN(auto items, Items(Input(a)));
  size_t next = 1;
  std::string attr;
  if (by_attr) {
    if (a.positional.size() < 2) return InvalidArgument("selectattr: needs an attribute");
    attr = a.positional[1].Str();
    next = 2;
  }
  std::string test;
  if (next < a.positional.size()) {
    test = a.positional[next].Str();
    if (!IsKnownTest(test)) return Unsupported("no test named '" + test + "'");
    ++next;
  }
  std::vector<Value> out;
  for (const Value& v : items) {
    CACHET_RETURN_IF_ERROR(in.Tick());
    Value x = by_attr ? GetPath(v, attr) : v;
    bool ok;
    if (test.empty()) {
      ok = x.Truthy();
    } else {
      Args ta;
      ta.positional.push_back(x);
      ta.positional.insert(ta.positional.end(), a.positional.begin() + next, a.positional.end());
      CACHET_ASSIGN_OR_RETURN(ok, ApplyTest(in, test, ta));
    }
    if (ok == keep) out.push_back(v);
  }
  return Value::List(std::move(out));
}
Result<Value> FSelect(Interpreter& in, Args& a) { return SelectImpl(in, a, false, true); }
Result<Value> FReject(Interpreter& in, Args& a) { return SelectImpl(in, a, false, false); }
Result<Value> FSelectAttr(Interpreter& in, Args& a) { return SelectImpl(in, a, true, true); }
Result<Value> FRejectAttr(Interpreter& in, Args& a) { return SelectImpl(in, a, true, false); }

Result<Value> FWordCount(Interpreter&, Args& a) {
  int64_t n = 0;
  bool in_word = false;
  for (unsigned char c : Input(a).Str()) {
    bool w = std::isalnum(c) || c == '_' || c >= 0x80;
    n += w && !in_word;
    in_word = w;
  }
  return Value(n);
}

const std::map<std::string, FilterFn>& Filters() {
  static const auto* m = new std::map<std::string, FilterFn>{
      {"abs", FAbs},
      {"attr", FAttr},
      {"capitalize", FCapitalize},
      {"count", FLength},
      {"d", FDefault},
      {"default", FDefault},
      {"dictsort", FDictSort},
      {"e", FEscape},
      {"escape", FEscape},
      {"first", FFirst},
      {"float", FFloat},
      {"format", FFormat},
      {"indent", FIndent},
      {"int", FInt},
      {"items", FItems},
      {"join", FJoin},
      {"last", FLast},
      {"length", FLength},
      {"list", FList},
      {"lower", FLower},
      {"map", FMap},
      {"max", FMax},
      {"min", FMin},
      {"reject", FReject},
      {"rejectattr", FRejectAttr},
      {"replace", FReplace},
      {"reverse", FReverse},
      {"round", FRound},
      {"safe", FSafe},
      {"select", FSelect},
      {"selectattr", FSelectAttr},
      {"sort", FSort},
      {"string", FString},
      {"sum", FSum},
      {"title", FTitle},
      {"tojson", FToJson},
      {"trim", FTrim},
      {"unique", FUnique},
      {"upper", FUpper},
      {"wordcount", FWordCount},
  };
  return *m;
}

// --- tests ---

const Value* TArg(const Args& a) { return a.positional.size() > 1 ? &a.positional[1] : nullptr; }

Result<bool> CmpTest(Args& a, const char* op) {
  const Value* b = TArg(a);
  if (!b) return InvalidArgument(std::string("test '") + op + "' needs an argument");
  return CompareOp(op, Input(a), *b);
}

Result<bool> TDefined(Interpreter&, Args& a) { return !Input(a).is_undefined(); }
Result<bool> TUndefined(Interpreter&, Args& a) { return Input(a).is_undefined(); }
Result<bool> TNone(Interpreter&, Args& a) { return Input(a).is_none(); }
Result<bool> TBoolean(Interpreter&, Args& a) { return Input(a).is_bool(); }
Result<bool> TTrue(Interpreter&, Args& a) { return Input(a).is_bool() && Input(a).as_bool(); }
Result<bool> TFalse(Interpreter&, Args& a) { return Input(a).is_bool() && !Input(a).as_bool(); }
Result<bool> TInteger(Interpreter&, Args& a) { return Input(a).is_int(); }
Result<bool> TFloat(Interpreter&, Args& a) { return Input(a).is_float(); }
Result<bool> TNumber(Interpreter&, Args& a) { return Input(a).is_number(); }
Result<bool> TString(Interpreter&, Args& a) { return Input(a).is_string(); }
Result<bool> TMapping(Interpreter&, Args& a) {
  return Input(a).is_dict() && !Input(a).is_namespace();
}
Result<bool> TIterable(Interpreter&, Args& a) {
  const Value& v = Input(a);
  return v.is_list() || v.is_string() || (v.is_dict() && !v.is_namespace()) || v.is_undefined();
}
Result<bool> TSequence(Interpreter&, Args& a) {
  const Value& v = Input(a);
  return v.is_list() || v.is_string() || (v.is_dict() && !v.is_namespace());
}
Result<bool> TCallable(Interpreter&, Args& a) { return Input(a).is_function(); }
Result<bool> TSameAs(Interpreter&, Args& a) {
  const Value* b = TArg(a);
  if (!b) return InvalidArgument("sameas needs an argument");
  const Value& x = Input(a);
  if (x.kind() != b->kind()) return false;
  if (x.is_none() || x.is_bool()) return x.Equals(*b);
  if (x.is_int()) return x.as_int() == b->as_int() && x.as_int() >= -5 && x.as_int() <= 256;
  return false;  // identity of other objects is not observable here
}
Result<bool> TEq(Interpreter&, Args& a) { return CmpTest(a, "=="); }
Result<bool> TNe(Interpreter&, Args& a) { return CmpTest(a, "!="); }
Result<bool> TLt(Interpreter&, Args& a) { return CmpTest(a, "<"); }
Result<bool> TLe(Interpreter&, Args& a) { return CmpTest(a, "<="); }
Result<bool> TGt(Interpreter&, Args& a) { return CmpTest(a, ">"); }
Result<bool> TGe(Interpreter&, Args& a) { return CmpTest(a, ">="); }
Result<bool> TIn(Interpreter&, Args& a) { return CmpTest(a, "in"); }
Result<bool> TOdd(Interpreter&, Args& a) {
  if (!Input(a).is_int()) return InvalidArgument("odd: not an integer");
  return Input(a).as_int() % 2 != 0;
}
Result<bool> TEven(Interpreter&, Args& a) {
  if (!Input(a).is_int()) return InvalidArgument("even: not an integer");
  return Input(a).as_int() % 2 == 0;
}
Result<bool> TDivisibleBy(Interpreter&, Args& a) {
  const Value* b = TArg(a);
  if (!b || !b->is_int() || b->as_int() == 0 || !Input(a).is_int()) {
    return InvalidArgument("divisibleby needs non-zero integers");
  }
  return Input(a).as_int() % b->as_int() == 0;
}
// str.islower() / str.isupper(): at least one cased character, and none of the other case.
bool HasCased(const std::string& s) { return UnicodeLower(s) != UnicodeUpper(s); }
Result<bool> TLower(Interpreter&, Args& a) {
  const std::string s = Input(a).Str();
  return HasCased(s) && s == UnicodeLower(s);
}
Result<bool> TUpper(Interpreter&, Args& a) {
  const std::string s = Input(a).Str();
  return HasCased(s) && s == UnicodeUpper(s);
}
Result<bool> TEscaped(Interpreter&, Args&) { return false; }
Result<bool> TFilter(Interpreter&, Args& a) { return IsKnownFilter(Input(a).Str()); }
Result<bool> TTest(Interpreter&, Args& a) { return IsKnownTest(Input(a).Str()); }

const std::map<std::string, TestFn>& Tests() {
  static const auto* m = new std::map<std::string, TestFn>{
      {"defined", TDefined},
      {"undefined", TUndefined},
      {"none", TNone},
      {"boolean", TBoolean},
      {"true", TTrue},
      {"false", TFalse},
      {"integer", TInteger},
      {"float", TFloat},
      {"number", TNumber},
      {"string", TString},
      {"mapping", TMapping},
      {"iterable", TIterable},
      {"sequence", TSequence},
      {"callable", TCallable},
      {"sameas", TSameAs},
      {"equalto", TEq},
      {"eq", TEq},
      {"ne", TNe},
      {"lt", TLt},
      {"lessthan", TLt},
      {"le", TLe},
      {"gt", TGt},
      {"greaterthan", TGt},
      {"ge", TGe},
      {"in", TIn},
      {"odd", TOdd},
      {"even", TEven},
      {"divisibleby", TDivisibleBy},
      {"lower", TLower},
      {"upper", TUpper},
      {"escaped", TEscaped},
      {"filter", TFilter},
      {"test", TTest},
  };
  return *m;
}

// --- globals ---

Result<Value> GRange(Interpreter& in, Args& a) {
  if (!a.keyword.empty() || a.positional.empty() || a.positional.size() > 3) {
    return InvalidArgument("range() takes 1 to 3 integer arguments");
  }
  for (const Value& v : a.positional) {
    if (!v.is_int() && !v.is_bool()) return InvalidArgument("range() arguments must be integers");
  }
  int64_t start = 0, stop, step = 1;
  if (a.positional.size() == 1) {
    stop = a.positional[0].as_int();
  } else {
    start = a.positional[0].as_int();
    stop = a.positional[1].as_int();
    if (a.positional.size() == 3) step = a.positional[2].as_int();
  }
  if (step == 0) return InvalidArgument("range() arg 3 must not be zero");
  std::vector<Value> out;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
    CACHET_RETURN_IF_ERROR(in.Tick());
    out.emplace_back(i);
    if ((step > 0 && i > INT64_MAX - step) || (step < 0 && i < INT64_MIN - step)) break;
  }
  return Value::List(std::move(out));
}

Result<Value> GNamespace(Interpreter&, Args& a) {
  Dict d;
  for (const Value& p : a.positional) {
    if (!p.is_dict()) return InvalidArgument("namespace() positional argument must be a dict");
    for (const auto& [k, v] : p.dict().items()) d.Set(k, v);
  }
  for (const auto& [k, v] : a.keyword) d.Set(k, v);
  return Value::MakeDict(std::move(d), /*is_namespace=*/true);
}

Result<Value> GDict(Interpreter&, Args& a) {
  Dict d;
  for (const Value& p : a.positional) {
    if (!p.is_dict()) return InvalidArgument("dict() positional argument must be a dict");
    for (const auto& [k, v] : p.dict().items()) d.Set(k, v);
  }
  for (const auto& [k, v] : a.keyword) d.Set(k, v);
  return Value::MakeDict(std::move(d));
}

Result<Value> GRaise(Interpreter&, Args& a) {
  std::string msg = a.positional.empty() ? "" : a.positional[0].Str();
  return InvalidArgument("template raised an exception: " + msg);
}

Result<Value> GStrftimeNow(Interpreter&, Args& a) {
  if (a.positional.empty() || !a.positional[0].is_string()) {
    return InvalidArgument("strftime_now() takes a format string");
  }
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char buf[256];
  size_t n = std::strftime(buf, sizeof buf, a.positional[0].str().c_str(), &tm);
  return Value(std::string(buf, n));
}

}  // namespace

bool IsKnownFilter(const std::string& name) { return Filters().count(name) > 0; }
bool IsKnownTest(const std::string& name) { return Tests().count(name) > 0; }

Result<Value> ApplyFilter(Interpreter& in, const std::string& name, Args& args) {
  auto it = Filters().find(name);
  if (it == Filters().end()) return Unsupported("no filter named '" + name + "'");
  return it->second(in, args);
}

Result<bool> ApplyTest(Interpreter& in, const std::string& name, Args& args) {
  auto it = Tests().find(name);
  if (it == Tests().end()) return Unsupported("no test named '" + name + "'");
  return it->second(in, args);
}

void AddGlobals(Dict* g) {
  g->Set("range", Value::Function("range", GRange));
  g->Set("namespace", Value::Function("namespace", GNamespace));
  g->Set("dict", Value::Function("dict", GDict));
  g->Set("raise_exception", Value::Function("raise_exception", GRaise));
  g->Set("strftime_now", Value::Function("strftime_now", GStrftimeNow));
}

}  // namespace cachet::jinja
