#include "tokenizer/jinja/interpreter.h"

#include "tokenizer/jinja/builtins.h"

namespace cachet::jinja {
namespace {

Status RuntimeError(int line, const std::string& why) {
  return InvalidArgument("template line " + std::to_string(line) + ": " + why);
}

// Values a for loop iterates: list items, dict keys, string characters; undefined is empty.
Result<std::vector<Value>> Iterate(const Value& v) {
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

}  // namespace

Status UndefinedError(const Value& v) {
  if (v.is_undefined() && !v.str().empty())
    return InvalidArgument("'" + v.str() + "' is undefined");
  return InvalidArgument("undefined value used");
}

Status Interpreter::Tick(int64_t n) {
  iterations_ += n;
  if (iterations_ > limits_.max_iterations) {
    return ResourceExhausted("template exceeded " + std::to_string(limits_.max_iterations) +
                             " loop iterations");
  }
  return Status::Ok();
}

Status Interpreter::Append(std::string* out, const std::string& s) {
  output_bytes_ += s.size();
  if (output_bytes_ > limits_.max_output_bytes) {
    return ResourceExhausted("template output exceeded " +
                             std::to_string(limits_.max_output_bytes) + " bytes");
  }
  *out += s;
  return Status::Ok();
}

Result<std::string> Interpreter::Render(const NodeList& nodes, const Dict& context) {
  frame_ = std::make_shared<Frame>();
  for (const auto& [k, v] : context.items()) frame_->vars[k] = v;
  std::string out;
  auto r = Exec(nodes, &out);
  // Namespaces are the only mutable values, so the only way to build a reference cycle
  // ({% set ns.self = ns %}); emptying them releases everything the render created.
  frame_.reset();
  for (const Value& ns : namespaces_) ns.mutable_namespace()->Clear();
  namespaces_.clear();
  namespace_set_.clear();
  CACHET_RETURN_IF_ERROR(r.status());
  return out;
}

void Interpreter::Track(const Value& ns) {
  if (namespace_set_.insert(ns.mutable_namespace()).second) namespaces_.push_back(ns);
}

Result<Interpreter::Flow> Interpreter::Exec(const NodeList& nodes, std::string* out) {
  for (const auto& n : nodes) {
    CACHET_ASSIGN_OR_RETURN(Flow f, ExecNode(*n, out));
    if (f != Flow::kNormal) return f;
  }
  return Flow::kNormal;
}

Result<Interpreter::Flow> Interpreter::ExecNode(const Node& n, std::string* out) {
  switch (n.kind) {
    case Node::kText:
      CACHET_RETURN_IF_ERROR(Append(out, n.text));
      return Flow::kNormal;
    case Node::kOutput: {
      CACHET_ASSIGN_OR_RETURN(Value v, Eval(*n.expr));
      CACHET_RETURN_IF_ERROR(Append(out, v.Str()));
      return Flow::kNormal;
    }
    case Node::kIf:
      return ExecIf(n, out);
    case Node::kFor:
      return ExecFor(n, out);
    case Node::kSet:
      CACHET_RETURN_IF_ERROR(ExecSet(n));
      return Flow::kNormal;
    case Node::kSetBlock:
      CACHET_RETURN_IF_ERROR(ExecSetBlock(n));
      return Flow::kNormal;
    case Node::kMacro:
      SetVar(n.name, MakeMacro(n, frame_));
      return Flow::kNormal;
    case Node::kCallBlock:
      CACHET_RETURN_IF_ERROR(ExecCallBlock(n, out));
      return Flow::kNormal;
    case Node::kFilterBlock:
      CACHET_RETURN_IF_ERROR(ExecFilterBlock(n, out));
      return Flow::kNormal;
    case Node::kWith:
      return ExecWith(n, out);
    case Node::kBreak:
      return Flow::kBreak;
    case Node::kContinue:
      return Flow::kContinue;
    case Node::kGeneration:
      return Exec(n.body, out);
  }
  return Flow::kNormal;
}

Result<Interpreter::Flow> Interpreter::ExecIf(const Node& n, std::string* out) {
  for (size_t i = 0; i < n.conds.size(); ++i) {
    CACHET_ASSIGN_OR_RETURN(Value c, Eval(*n.conds[i]));
    if (c.Truthy()) return Exec(n.bodies[i], out);
  }
  return Exec(n.else_body, out);
}

Status Interpreter::BindLoopTargets(const Node& n, const Value& item) {
  if (n.targets.size() == 1) {
    SetVar(n.targets[0], item);
    return Status::Ok();
  }
  CACHET_ASSIGN_OR_RETURN(std::vector<Value> parts, Iterate(item));
  if (parts.size() != n.targets.size()) {
    return RuntimeError(n.line, "cannot unpack " + std::to_string(parts.size()) + " values into " +
                                    std::to_string(n.targets.size()));
  }
  for (size_t k = 0; k < parts.size(); ++k) SetVar(n.targets[k], parts[k]);
  return Status::Ok();
}

// {% for x in xs if cond %}: the items for which cond holds (loop.* counts only those).
Result<std::vector<Value>> Interpreter::FilterLoopItems(const Node& n, std::vector<Value> items) {
  auto outer = frame_;
  std::vector<Value> kept;
  for (const Value& item : items) {
    CACHET_RETURN_IF_ERROR(Tick());
    frame_ = std::make_shared<Frame>(Frame{{}, outer});
    Status s = BindLoopTargets(n, item);
    if (s.ok()) {
      auto c = Eval(*n.cond);
      if (!c.ok())
        s = c.status();
      else if (c->Truthy())
        kept.push_back(item);
    }
    frame_ = outer;
    CACHET_RETURN_IF_ERROR(s);
  }
  return kept;
}

static Value MakeLoopObject(const std::vector<Value>& items, int64_t i) {
  const int64_t len = static_cast<int64_t>(items.size());
  Dict loop;
  loop.Reserve(12);
  loop.Set("index", Value(i + 1));
  loop.Set("index0", Value(i));
  loop.Set("revindex", Value(len - i));
  loop.Set("revindex0", Value(len - i - 1));
  loop.Set("first", Value(i == 0));
  loop.Set("last", Value(i == len - 1));
  loop.Set("length", Value(len));
  loop.Set("depth", Value(1));
  loop.Set("depth0", Value(0));
  if (i > 0) loop.Set("previtem", items[i - 1]);
  if (i + 1 < len) loop.Set("nextitem", items[i + 1]);
  loop.Set("cycle", Value::Function("loop.cycle", [i](Interpreter&, Args& a) -> Result<Value> {
             if (a.positional.empty()) return InvalidArgument("no items for cycling given");
             return a.positional[i % a.positional.size()];
           }));
  return Value::MakeDict(std::move(loop));
}

Result<Interpreter::Flow> Interpreter::ExecFor(const Node& n, std::string* out) {
  CACHET_ASSIGN_OR_RETURN(Value seq, Eval(*n.expr));
  auto items_or = Iterate(seq);
  if (!items_or.ok()) return RuntimeError(n.line, items_or.status().message());
  std::vector<Value> items = std::move(items_or).value();
  if (n.cond) {
    CACHET_ASSIGN_OR_RETURN(items, FilterLoopItems(n, std::move(items)));
  }
  if (items.empty()) return Exec(n.else_body, out);
  auto outer = frame_;
  for (size_t i = 0; i < items.size(); ++i) {
    CACHET_RETURN_IF_ERROR(Tick());
    // Each iteration has its own scope: `set` inside the body does not outlive it.
    frame_ = std::make_shared<Frame>(Frame{{}, outer});
    SetVar("loop", MakeLoopObject(items, static_cast<int64_t>(i)));
    Status s = BindLoopTargets(n, items[i]);
    Flow f = Flow::kNormal;
    if (s.ok()) {
      auto r = Exec(n.body, out);
      if (r.ok())
        f = *r;
      else
        s = r.status();
    }
    frame_ = outer;
    CACHET_RETURN_IF_ERROR(s);
    if (f == Flow::kBreak) break;
  }
  return Flow::kNormal;
}

Status Interpreter::ExecSet(const Node& n) {
  CACHET_ASSIGN_OR_RETURN(Value v, Eval(*n.expr));
  if (!n.ns_attr.empty()) {
    const Value* ns = Lookup(n.targets[0]);
    if (!ns || !ns->is_namespace()) {
      return RuntimeError(n.line,
                          "cannot assign attribute on non-namespace object '" + n.targets[0] + "'");
    }
    ns->mutable_namespace()->Set(n.ns_attr, std::move(v));
    return Status::Ok();
  }
  if (n.targets.size() == 1) {
    SetVar(n.targets[0], std::move(v));
    return Status::Ok();
  }
  auto parts = Iterate(v);
  if (!parts.ok()) return RuntimeError(n.line, parts.status().message());
  if (parts->size() != n.targets.size()) return RuntimeError(n.line, "cannot unpack values");
  for (size_t k = 0; k < parts->size(); ++k) SetVar(n.targets[k], (*parts)[k]);
  return Status::Ok();
}

Status Interpreter::ExecSetBlock(const Node& n) {
  std::string body;
  CACHET_ASSIGN_OR_RETURN(Flow f, Exec(n.body, &body));
  (void)f;
  Value v(std::move(body));
  if (n.expr) {
    CACHET_ASSIGN_OR_RETURN(v, EvalFilter(*n.expr, &v));
  }
  SetVar(n.targets[0], std::move(v));
  return Status::Ok();
}

Status Interpreter::ExecFilterBlock(const Node& n, std::string* out) {
  std::string body;
  CACHET_ASSIGN_OR_RETURN(Flow f, Exec(n.body, &body));
  (void)f;
  Value v(std::move(body));
  CACHET_ASSIGN_OR_RETURN(Value r, EvalFilter(*n.expr, &v));
  return Append(out, r.Str());
}

Result<Interpreter::Flow> Interpreter::ExecWith(const Node& n, std::string* out) {
  auto outer = frame_;
  std::vector<Value> vals;
  for (const auto& e : n.with_values) {
    CACHET_ASSIGN_OR_RETURN(Value v, Eval(*e));
    vals.push_back(std::move(v));
  }
  frame_ = std::make_shared<Frame>(Frame{{}, outer});
  for (size_t i = 0; i < vals.size(); ++i) SetVar(n.targets[i], vals[i]);
  auto r = Exec(n.body, out);
  frame_ = outer;
  return r;
}

Value Interpreter::MakeMacro(const Node& n, std::shared_ptr<Frame> closure) {
  const Node* node = &n;
  // A weak reference: the macro is usually stored in the frame it closes over (no cycle).
  std::weak_ptr<Frame> weak = closure;
  return Value::Function(n.name, [node, weak](Interpreter& in, Args& a) {
    return in.InvokeMacro(*node, weak.lock(), a, /*is_caller=*/false);
  });
}

Result<Value> Interpreter::InvokeMacro(const Node& n, const std::shared_ptr<Frame>& closure,
                                       Args& args, bool is_caller) {
  if (call_depth_ >= limits_.max_call_depth) {
    return ResourceExhausted("template macro calls nested deeper than " +
                             std::to_string(limits_.max_call_depth));
  }
  auto frame = std::make_shared<Frame>(Frame{{}, closure});
  std::vector<Value> varargs;
  for (size_t i = 0; i < args.positional.size(); ++i) {
    if (i < n.params.size()) {
      frame->vars[n.params[i].name] = args.positional[i];
    } else {
      varargs.push_back(args.positional[i]);
    }
  }
  Dict kwargs;
  for (auto& [k, v] : args.keyword) {
    bool is_param = false;
    for (const auto& p : n.params) is_param = is_param || p.name == k;
    if (is_param || k == "caller") {
      frame->vars[k] = v;
    } else {
      kwargs.Set(k, v);
    }
  }
  frame->vars["varargs"] = Value::List(std::move(varargs), /*tuple=*/true);
  frame->vars["kwargs"] = Value::MakeDict(std::move(kwargs));
  auto saved = frame_;
  frame_ = frame;
  ++call_depth_;
  Status s;
  for (const auto& p : n.params) {  // defaults are evaluated at call time, in the macro's scope
    if (frame->vars.count(p.name)) continue;
    if (p.default_value) {
      auto d = Eval(*p.default_value);
      if (!d.ok()) {
        s = d.status();
        break;
      }
      frame->vars[p.name] = *d;
    } else {
      frame->vars[p.name] = Value::Undefined(p.name);
    }
  }
  std::string body;
  if (s.ok()) {
    auto r = Exec(n.body, &body);
    if (!r.ok()) s = r.status();
  }
  --call_depth_;
  frame_ = saved;
  (void)is_caller;
  CACHET_RETURN_IF_ERROR(s);
  return Value(std::move(body));
}

Status Interpreter::ExecCallBlock(const Node& n, std::string* out) {
  const Node* node = &n;
  std::weak_ptr<Frame> weak = frame_;
  Value caller = Value::Function("caller", [node, weak](Interpreter& in, Args& a) {
    return in.InvokeMacro(*node, weak.lock(), a, /*is_caller=*/true);
  });
  const Expr& call = *n.expr;
  CACHET_ASSIGN_OR_RETURN(Value fn, Eval(*call.args[0]));
  Args args;
  CACHET_RETURN_IF_ERROR(EvalArgs(call, 1, &args));
  args.keyword.emplace_back("caller", caller);
  CACHET_ASSIGN_OR_RETURN(Value r, Call(fn, args));
  return Append(out, r.Str());
}

Result<Value> Interpreter::Call(const Value& fn, Args& args) {
  if (fn.is_undefined()) return UndefinedError(fn);
  if (!fn.is_function()) return InvalidArgument("'" + fn.TypeName() + "' object is not callable");
  return fn.function()(*this, args);
}

const Value* Interpreter::Lookup(const std::string& name) const {
  for (const Frame* f = frame_.get(); f; f = f->parent.get()) {
    auto it = f->vars.find(name);
    if (it != f->vars.end()) return &it->second;
  }
  return globals_ ? globals_->Find(name) : nullptr;
}

Result<Value> Interpreter::EvalName(const Expr& e) {
  const Value* v = Lookup(e.name);
  if (!v) return Value::Undefined(e.name);
  return *v;
}

Status Interpreter::EvalArgs(const Expr& e, size_t first, Args* args) {
  for (size_t i = first; i < e.args.size(); ++i) {
    CACHET_ASSIGN_OR_RETURN(Value v, Eval(*e.args[i]));
    args->positional.push_back(std::move(v));
  }
  for (const auto& [k, x] : e.kwargs) {
    CACHET_ASSIGN_OR_RETURN(Value v, Eval(*x));
    args->keyword.emplace_back(k, std::move(v));
  }
  return Status::Ok();
}

Result<Value> Interpreter::Eval(const Expr& e) {
  auto r = EvalInner(e);
  if (r.ok() && r->depth() > kMaxValueDepth) {
    return RuntimeError(e.line, "value nested deeper than " + std::to_string(kMaxValueDepth));
  }
  if (r.ok() && r->is_namespace()) Track(*r);
  // Runtime errors name the line of the innermost expression that failed.
  if (!r.ok() && r.status().code() == StatusCode::kInvalidArgument &&
      r.status().message().rfind("template line ", 0) != 0) {
    return RuntimeError(e.line, r.status().message());
  }
  return r;
}

Result<Value> Interpreter::EvalInner(const Expr& e) {
  switch (e.kind) {
    case Expr::kLiteral:
      return e.value;
    case Expr::kName:
      return EvalName(e);
    case Expr::kList:
    case Expr::kTuple:
    case Expr::kDict:
      return EvalDisplay(e);
    case Expr::kAttr: {
      CACHET_ASSIGN_OR_RETURN(Value obj, Eval(*e.args[0]));
      if (obj.is_undefined()) return UndefinedError(obj);
      return GetAttr(obj, e.name);
    }
    case Expr::kItem:
      return EvalItem(e);
    case Expr::kSlice:
      return EvalSlice(e);
    case Expr::kCall:
      return EvalCall(e);
    case Expr::kFilter:
      return EvalFilter(e, nullptr);
    case Expr::kTest:
      return EvalTest(e);
    case Expr::kNeg:
    case Expr::kPos:
      return EvalUnary(e);
    case Expr::kNot:
    case Expr::kAnd:
    case Expr::kOr:
    case Expr::kCondExpr:
      return EvalLogic(e);
    case Expr::kBinary: {
      CACHET_ASSIGN_OR_RETURN(Value l, Eval(*e.args[0]));
      CACHET_ASSIGN_OR_RETURN(Value r, Eval(*e.args[1]));
      return BinaryOp(e.name, l, r);
    }
    case Expr::kCompare:
      return EvalCompare(e);
  }
  return Internal("unknown expression kind");
}

Result<Value> Interpreter::EvalDisplay(const Expr& e) {
  if (e.kind == Expr::kDict) {
    Dict d;
    for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
      CACHET_ASSIGN_OR_RETURN(Value k, Eval(*e.args[i]));
      CACHET_ASSIGN_OR_RETURN(Value v, Eval(*e.args[i + 1]));
      if (!k.is_string()) return Unsupported("dict keys other than strings are not supported");
      d.Set(k.str(), std::move(v));
    }
    return Value::MakeDict(std::move(d));
  }
  std::vector<Value> items;
  for (const auto& a : e.args) {
    CACHET_ASSIGN_OR_RETURN(Value v, Eval(*a));
    items.push_back(std::move(v));
  }
  return Value::List(std::move(items), e.kind == Expr::kTuple);
}

Result<Value> Interpreter::EvalUnary(const Expr& e) {
  CACHET_ASSIGN_OR_RETURN(Value v, Eval(*e.args[0]));
  if (v.is_undefined()) return UndefinedError(v);
  if (!v.is_number()) return InvalidArgument("bad operand type for unary " + v.TypeName());
  if (e.kind == Expr::kPos) return v.is_bool() ? Value(v.as_int()) : v;
  if (v.is_float()) return Value(-v.as_double());
  if (v.as_int() == INT64_MIN) return InvalidArgument("integer overflow");
  return Value(-v.as_int());
}

// not / and / or / inline if: Python semantics (and/or return an operand, short-circuit).
Result<Value> Interpreter::EvalLogic(const Expr& e) {
  CACHET_ASSIGN_OR_RETURN(Value first, Eval(*e.args[0]));
  switch (e.kind) {
    case Expr::kNot:
      return Value(!first.Truthy());
    case Expr::kAnd:
      return first.Truthy() ? Eval(*e.args[1]) : first;
    case Expr::kOr:
      return first.Truthy() ? first : Eval(*e.args[1]);
    default:  // kCondExpr: args = cond, then, else
      if (first.Truthy()) return Eval(*e.args[1]);
      if (!e.args[2]) return Value::Undefined();
      return Eval(*e.args[2]);
  }
}

Result<Value> Interpreter::EvalItem(const Expr& e) {
  CACHET_ASSIGN_OR_RETURN(Value obj, Eval(*e.args[0]));
  CACHET_ASSIGN_OR_RETURN(Value key, Eval(*e.args[1]));
  if (obj.is_undefined()) return UndefinedError(obj);
  if (obj.is_dict()) {
    if (!key.is_string()) return Value::Undefined();
    const Value* v = obj.dict().Find(key.str());
    if (v) return *v;
    if (obj.is_namespace()) return Value::Undefined(key.str());
    return GetAttr(obj, key.str());
  }
  if ((obj.is_list() || obj.is_string()) && (key.is_int() || key.is_bool())) {
    int64_t i = key.as_int();
    if (obj.is_list()) {
      int64_t n = static_cast<int64_t>(obj.list().size());
      if (i < 0) i += n;
      if (i < 0 || i >= n) return Value::Undefined();
      return obj.list()[i];
    }
    auto cps = DecodeUtf8(obj.str());
    int64_t n = static_cast<int64_t>(cps.size());
    if (i < 0) i += n;
    if (i < 0 || i >= n) return Value::Undefined();
    return Value(EncodeUtf8(cps, i, i + 1));
  }
  if (key.is_string()) return GetAttr(obj, key.str());
  return Value::Undefined();
}

Result<Value> Interpreter::EvalSlice(const Expr& e) {
  CACHET_ASSIGN_OR_RETURN(Value obj, Eval(*e.args[0]));
  int64_t bound[3] = {0, 0, 1};
  bool given[3] = {false, false, false};
  for (int k = 0; k < 3; ++k) {
    if (!e.args[k + 1]) continue;
    CACHET_ASSIGN_OR_RETURN(Value v, Eval(*e.args[k + 1]));
    if (v.is_none()) continue;
    if (!v.is_int() && !v.is_bool()) return InvalidArgument("slice indices must be integers");
    bound[k] = v.as_int();
    given[k] = true;
  }
  int64_t step = bound[2];
  if (step == 0) return InvalidArgument("slice step cannot be zero");
  if (obj.is_undefined()) return UndefinedError(obj);
  std::vector<char32_t> cps;
  int64_t n;
  if (obj.is_string()) {
    cps = DecodeUtf8(obj.str());
    n = static_cast<int64_t>(cps.size());
  } else if (obj.is_list()) {
    n = static_cast<int64_t>(obj.list().size());
  } else {
    return InvalidArgument("'" + obj.TypeName() + "' object is not subscriptable");
  }
  auto clamp = [&](int64_t v, bool is_given, int64_t def) {
    if (!is_given) return def;
    if (v < 0) v += n;
    if (step > 0) return std::min(std::max<int64_t>(v, 0), n);
    return std::min(std::max<int64_t>(v, -1), n - 1);
  };
  int64_t start = clamp(bound[0], given[0], step > 0 ? 0 : n - 1);
  int64_t stop = clamp(bound[1], given[1], step > 0 ? n : -1);
  std::vector<int64_t> idx;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) idx.push_back(i);
  CACHET_RETURN_IF_ERROR(Tick(static_cast<int64_t>(idx.size()) / 16));
  if (obj.is_string()) {
    std::string s;
    for (int64_t i : idx) AppendUtf8(cps[i], &s);
    return Value(std::move(s));
  }
  std::vector<Value> items;
  items.reserve(idx.size());
  for (int64_t i : idx) items.push_back(obj.list()[i]);
  return Value::List(std::move(items), obj.is_tuple());
}

Result<Value> Interpreter::EvalCall(const Expr& e) {
  CACHET_ASSIGN_OR_RETURN(Value fn, Eval(*e.args[0]));
  Args args;
  CACHET_RETURN_IF_ERROR(EvalArgs(e, 1, &args));
  return Call(fn, args);
}

Result<Value> Interpreter::EvalFilter(const Expr& e, const Value* input) {
  Args args;
  if (e.args[0]) {
    if (e.args[0]->kind == Expr::kFilter) {
      CACHET_ASSIGN_OR_RETURN(Value v, EvalFilter(*e.args[0], input));
      args.positional.push_back(std::move(v));
    } else {
      CACHET_ASSIGN_OR_RETURN(Value v, Eval(*e.args[0]));
      args.positional.push_back(std::move(v));
    }
  } else {
    args.positional.push_back(input ? *input : Value::Undefined());
  }
  CACHET_RETURN_IF_ERROR(EvalArgs(e, 1, &args));
  return ApplyFilter(*this, e.name, args);
}

Result<Value> Interpreter::EvalTest(const Expr& e) {
  Args args;
  CACHET_RETURN_IF_ERROR(EvalArgs(e, 0, &args));
  CACHET_ASSIGN_OR_RETURN(bool r, ApplyTest(*this, e.name, args));
  return Value(r != e.negate);
}

Result<Value> Interpreter::EvalCompare(const Expr& e) {
  CACHET_ASSIGN_OR_RETURN(Value l, Eval(*e.args[0]));
  for (size_t i = 0; i < e.ops.size(); ++i) {
    CACHET_ASSIGN_OR_RETURN(Value r, Eval(*e.args[i + 1]));
    CACHET_ASSIGN_OR_RETURN(bool ok, CompareOp(e.ops[i], l, r));
    if (!ok) return Value(false);
    l = std::move(r);
  }
  return Value(true);
}

}  // namespace cachet::jinja
