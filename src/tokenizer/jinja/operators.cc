// Python semantics of Jinja's binary operators and comparisons.
#include <cmath>

#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/strings.h"

namespace cachet::jinja {
namespace {

Status TypeError(const std::string& op, const Value& a, const Value& b) {
  return InvalidArgument("unsupported operand type(s) for " + op + ": '" + a.TypeName() +
                         "' and '" + b.TypeName() + "'");
}

Result<Value> Repeat(const Value& seq, int64_t n) {
  if (n < 0) n = 0;
  if (seq.is_string()) {
    if (n > 0 && seq.str().size() * static_cast<uint64_t>(n) > (uint64_t{16} << 20)) {
      return ResourceExhausted("string repetition too large");
    }
    std::string out;
    for (int64_t i = 0; i < n; ++i) out += seq.str();
    return Value(std::move(out));
  }
  if (n > 0 && seq.list().size() * static_cast<uint64_t>(n) > 1'000'000) {
    return ResourceExhausted("list repetition too large");
  }
  std::vector<Value> out;
  for (int64_t i = 0; i < n; ++i) out.insert(out.end(), seq.list().begin(), seq.list().end());
  return Value::List(std::move(out), seq.is_tuple());
}

Result<Value> IntArith(const std::string& op, int64_t x, int64_t y) {
  int64_t r = 0;
  if (op == "+") {
    if (__builtin_add_overflow(x, y, &r)) return InvalidArgument("integer overflow");
    return Value(r);
  }
  if (op == "-") {
    if (__builtin_sub_overflow(x, y, &r)) return InvalidArgument("integer overflow");
    return Value(r);
  }
  if (op == "*") {
    if (__builtin_mul_overflow(x, y, &r)) return InvalidArgument("integer overflow");
    return Value(r);
  }
  if (op == "/") {
    if (y == 0) return InvalidArgument("division by zero");
    return Value(static_cast<double>(x) / static_cast<double>(y));
  }
  if (op == "//" || op == "%") {
    if (y == 0) return InvalidArgument("integer division or modulo by zero");
    if (x == INT64_MIN && y == -1) return InvalidArgument("integer overflow");
    int64_t q = x / y, m = x % y;
    if (m != 0 && ((m < 0) != (y < 0))) {
      q -= 1;
      m += y;
    }
    return Value(op == "//" ? q : m);
  }
  if (op == "**") {
    if (y < 0) return Value(std::pow(static_cast<double>(x), static_cast<double>(y)));
    int64_t acc = 1;
    for (int64_t i = 0; i < y; ++i) {
      if (__builtin_mul_overflow(acc, x, &acc)) return InvalidArgument("integer overflow");
      if (acc == 0 || acc == 1) break;
    }
    return Value(acc);
  }
  return InvalidArgument("unknown operator " + op);
}

Result<Value> FloatArith(const std::string& op, double x, double y) {
  if (op == "+") return Value(x + y);
  if (op == "-") return Value(x - y);
  if (op == "*") return Value(x * y);
  if (op == "/") {
    if (y == 0) return InvalidArgument("float division by zero");
    return Value(x / y);
  }
  if (op == "//" || op == "%") {
    if (y == 0) return InvalidArgument("float modulo by zero");
    double m = std::fmod(x, y);
    if (m != 0 && ((m < 0) != (y < 0))) m += y;
    if (op == "%") return Value(m);
    return Value(std::floor(x / y));
  }
  if (op == "**") return Value(std::pow(x, y));
  return InvalidArgument("unknown operator " + op);
}

// Python ordering for <, >, <=, >=: -1 / 0 / 1, or a TypeError.
Result<int> Order(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) {
      double x = a.as_double(), y = b.as_double();
      return x < y ? -1 : x > y ? 1 : 0;
    }
    return a.as_int() < b.as_int() ? -1 : a.as_int() > b.as_int() ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) {
    int c = a.str().compare(b.str());  // UTF-8 byte order == code point order
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
    size_t n = std::min(a.list().size(), b.list().size());
    for (size_t i = 0; i < n; ++i) {
      if (a.list()[i].Equals(b.list()[i])) continue;
      return Order(a.list()[i], b.list()[i]);
    }
    return a.list().size() < b.list().size() ? -1 : a.list().size() > b.list().size() ? 1 : 0;
  }
  if (a.is_undefined()) return UndefinedError(a);
  if (b.is_undefined()) return UndefinedError(b);
  return InvalidArgument("'<' not supported between instances of '" + a.TypeName() + "' and '" +
                         b.TypeName() + "'");
}

}  // namespace

Result<Value> BinaryOp(const std::string& op, const Value& a, const Value& b) {
  if (op == "~") return Value(a.Str() + b.Str());
  if (a.is_undefined()) return UndefinedError(a);
  if (b.is_undefined()) return UndefinedError(b);
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float() || op == "/") {
      if (op == "/" && !a.is_float() && !b.is_float()) return IntArith(op, a.as_int(), b.as_int());
      return FloatArith(op, a.as_double(), b.as_double());
    }
    return IntArith(op, a.as_int(), b.as_int());
  }
  if (op == "+") {
    if (a.is_string() && b.is_string()) return Value(a.str() + b.str());
    if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
      std::vector<Value> out = a.list();
      out.insert(out.end(), b.list().begin(), b.list().end());
      return Value::List(std::move(out), a.is_tuple());
    }
  }
  if (op == "*") {
    if ((a.is_string() || a.is_list()) && (b.is_int() || b.is_bool())) return Repeat(a, b.as_int());
    if ((b.is_string() || b.is_list()) && (a.is_int() || a.is_bool())) return Repeat(b, a.as_int());
  }
  if (op == "%" && a.is_string()) {
    std::vector<Value> args = b.is_tuple() ? b.list() : std::vector<Value>{b};
    CACHET_ASSIGN_OR_RETURN(std::string s, PyPercentFormat(a.str(), args));
    return Value(std::move(s));
  }
  return TypeError(op, a, b);
}

Result<bool> CompareOp(const std::string& op, const Value& a, const Value& b) {
  if (op == "==") return a.Equals(b);
  if (op == "!=") return !a.Equals(b);
  if (op == "in" || op == "notin") {
    bool found = false;
    if (b.is_string()) {
      if (!a.is_string()) {
        return InvalidArgument("'in <string>' requires string as left operand, not " +
                               a.TypeName());
      }
      found = b.str().find(a.str()) != std::string::npos;
    } else if (b.is_list()) {
      for (const Value& x : b.list()) found = found || x.Equals(a);
    } else if (b.is_dict()) {
      found = a.is_string() && b.dict().Find(a.str()) != nullptr;
    } else if (!b.is_undefined()) {
      return InvalidArgument("argument of type '" + b.TypeName() + "' is not iterable");
    }
    return op == "in" ? found : !found;
  }
  CACHET_ASSIGN_OR_RETURN(int c, Order(a, b));
  if (op == "<") return c < 0;
  if (op == ">") return c > 0;
  if (op == "<=") return c <= 0;
  if (op == ">=") return c >= 0;
  return InvalidArgument("unknown comparison " + op);
}

}  // namespace cachet::jinja
