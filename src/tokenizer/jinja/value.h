// jinja::Value: the dynamic value of the template language, with Python semantics where Jinja2
// inherits them (truthiness, ==, str(), repr(), json.dumps as Hugging Face's tojson calls it).
//
// Lists and dicts are shared, immutable after construction (templates render in an immutable
// sandbox); only a namespace() object's attributes change, through `set ns.attr = ...`.
// Strings are UTF-8; operations that Python defines on code points (len, indexing, slicing,
// strip with a char set) work on code points. Dict keys are strings and keep insertion order.
//
// Thread-safety: a Value is not synchronized; values built for one Render stay on that thread.
// Values held by a parsed Template (literals) are only read.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/status.h"

namespace cachet::jinja {

class Value;
class Interpreter;

struct Args {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

// A callable value: a builtin function, a bound method, a macro or `caller`.
using NativeFn = std::function<Result<Value>(Interpreter&, Args&)>;

class Dict {
 public:
  const Value* Find(const std::string& key) const;
  // Inserts or replaces (keeping the original position on replace).
  void Set(const std::string& key, Value v);
  const std::vector<std::pair<std::string, Value>>& items() const { return items_; }
  size_t size() const { return items_.size(); }
  void Reserve(size_t n) { items_.reserve(n); }
  void Clear() {
    std::vector<std::pair<std::string, Value>> items;
    items.swap(items_);  // destroyed after the dict is consistent again
    index_.clear();
  }

 private:
  std::vector<std::pair<std::string, Value>> items_;
  std::unordered_map<std::string, size_t> index_;  // empty while the dict is small
};

class Value {
 public:
  enum class Kind { kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kDict, kFunction };

  Value() = default;  // undefined
  static Value Undefined(std::string name = "") {
    Value v;
    v.str_ = std::make_shared<const std::string>(std::move(name));
    return v;
  }
  static Value None() { return Value(Kind::kNone); }
  Value(bool b) : kind_(Kind::kBool), i_(b) {}     // NOLINT
  Value(int64_t i) : kind_(Kind::kInt), i_(i) {}   // NOLINT
  Value(int i) : kind_(Kind::kInt), i_(i) {}       // NOLINT
  Value(double d) : kind_(Kind::kFloat), d_(d) {}  // NOLINT
  Value(std::string s);                            // NOLINT
  Value(const char* s) : Value(std::string(s)) {}  // NOLINT
  static Value List(std::vector<Value> items, bool tuple = false);
  static Value MakeDict(Dict d, bool is_namespace = false);
  static Value Function(std::string name, NativeFn fn);

  Kind kind() const { return kind_; }
  // Nesting depth of lists/dicts (0 for scalars), fixed at construction; the interpreter refuses
  // values nested deeper than kMaxValueDepth so recursive printing/destruction stays bounded.
  uint32_t depth() const { return depth_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_int() const { return kind_ == Kind::kInt; }
  bool is_float() const { return kind_ == Kind::kFloat; }
  bool is_number() const { return is_int() || is_float() || is_bool(); }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_list() const { return kind_ == Kind::kList; }
  bool is_tuple() const { return kind_ == Kind::kList && flag_; }
  bool is_dict() const { return kind_ == Kind::kDict; }
  bool is_namespace() const { return kind_ == Kind::kDict && flag_; }
  bool is_function() const { return kind_ == Kind::kFunction; }

  bool as_bool() const { return i_ != 0; }
  int64_t as_int() const { return i_; }  // int or bool
  double as_double() const { return is_float() ? d_ : static_cast<double>(i_); }
  const std::string& str() const { return *str_; }  // string, or an undefined's name
  const std::vector<Value>& list() const { return *list_; }
  const Dict& dict() const { return *dict_; }
  Dict* mutable_namespace() const { return dict_.get(); }  // only for namespaces
  const std::string& function_name() const { return *str_; }
  const NativeFn& function() const { return *fn_; }

  // Python bool(x). Undefined is falsy.
  bool Truthy() const;
  // Python str(x) as Jinja prints it: None -> "None", True -> "True", lists/dicts as repr,
  // floats as repr ("1.0", "1e+20"), undefined -> "".
  std::string Str() const;
  // Python repr(x) (strings quoted with Python's quote choice and escapes).
  std::string Repr() const;
  // Python ==, deep for lists and dicts; 1 == 1.0 == True; undefined == undefined.
  bool Equals(const Value& o) const;
  // Jinja type name for messages: "str", "int", "list", "dict", "undefined", ...
  std::string TypeName() const;

 private:
  explicit Value(Kind k) : kind_(k) {}
  Kind kind_ = Kind::kUndefined;
  bool flag_ = false;  // tuple / namespace
  uint32_t depth_ = 0;
  int64_t i_ = 0;
  double d_ = 0;
  std::shared_ptr<const std::string> str_;
  std::shared_ptr<const std::vector<Value>> list_;
  std::shared_ptr<Dict> dict_;
  std::shared_ptr<const NativeFn> fn_;
};

// Python's repr() of a float ("1.0", "0.1", "1e+16", "1.5e-05", "inf", "nan").
std::string PyFloatRepr(double d);

// json.dumps(v, ensure_ascii, indent, separators, sort_keys) as Hugging Face's tojson filter calls
// it. indent < 0: no newlines; item_sep/key_sep: the separators (defaults ", " / ": ", or "," /
// ": " with an indent). InvalidArgument for values JSON cannot hold (undefined, functions, NaN is
// allowed as Python allows it).
struct JsonOptions {
  bool ensure_ascii = false;
  int indent = -1;
  std::string indent_str;  // used when non-empty (indent given as a string)
  std::string item_sep = ", ";
  std::string key_sep = ": ";
  bool sort_keys = false;
};
Result<std::string> ToJson(const Value& v, const JsonOptions& o);

inline constexpr uint32_t kMaxValueDepth = 256;

// nlohmann json -> Value (objects keep the container's key order; ordered_json keeps input order).
// InvalidArgument when nested deeper than kMaxValueDepth.
Result<Value> FromJson(const nlohmann::json& j);
Result<Value> FromJson(const nlohmann::ordered_json& j);

// UTF-8 <-> code points. Invalid bytes decode as U+FFFD.
std::vector<char32_t> DecodeUtf8(const std::string& s);
std::string EncodeUtf8(const std::vector<char32_t>& cps, size_t begin, size_t end);
void AppendUtf8(char32_t c, std::string* out);
size_t Utf8Length(const std::string& s);

}  // namespace cachet::jinja
