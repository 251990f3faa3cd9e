#include "tokenizer/jinja/parser.h"

#include <set>

#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/lexer.h"

namespace cachet::jinja {
namespace {

constexpr int kMaxDepth = 200;  // nesting of expressions and blocks (parser recursion)

class Parser {
 public:
  explicit Parser(std::vector<Token> toks) : t_(std::move(toks)) {}

  Result<NodeList> Template() {
    std::string end;
    CACHET_ASSIGN_OR_RETURN(NodeList nodes, Body({}, &end));
    return nodes;
  }

 private:
  const Token& Cur() const { return t_[i_]; }
  const Token& Peek(size_t k = 1) const { return t_[std::min(i_ + k, t_.size() - 1)]; }
  bool IsOp(const char* op) const { return Cur().kind == Token::kOp && Cur().text == op; }
  bool IsName(const char* n) const { return Cur().kind == Token::kName && Cur().text == n; }
  bool SkipOp(const char* op) {
    if (!IsOp(op)) return false;
    ++i_;
    return true;
  }
  bool SkipName(const char* n) {
    if (!IsName(n)) return false;
    ++i_;
    return true;
  }
  Status Fail(const std::string& why) const {
    return InvalidArgument("template line " + std::to_string(Cur().line) + ": " + why);
  }
  Status Unsup(const std::string& why) const {
    return Unsupported("template line " + std::to_string(Cur().line) + ": " + why);
  }
  Status ExpectOp(const char* op) {
    if (!SkipOp(op)) return Fail(std::string("expected '") + op + "'" + Found());
    return Status::Ok();
  }
  std::string Found() const {
    switch (Cur().kind) {
      case Token::kBlockEnd:
        return ", found end of tag";
      case Token::kVarEnd:
        return ", found '}}'";
      case Token::kEof:
        return ", found end of template";
      default:
        return ", found '" + Cur().text + "'";
    }
  }
  Status ExpectBlockEnd() {
    if (Cur().kind != Token::kBlockEnd) return Fail("expected end of tag" + Found());
    ++i_;
    return Status::Ok();
  }
  Result<std::string> ExpectName() {
    if (Cur().kind != Token::kName) return Fail("expected a name" + Found());
    return t_[i_++].text;
  }
  ExprPtr Make(Expr::Kind k) {
    auto e = std::make_unique<Expr>();
    e->kind = k;
    e->line = Cur().line;
    return e;
  }

  Result<NodeList> Body(const std::set<std::string>& ends, std::string* end);
  Result<std::unique_ptr<Node>> Statement(const std::string& kw);
  Status If(Node* n);
  Status For(Node* n);
  Status Set(Node* n);
  Status Macro(Node* n);
  Status CallBlock(Node* n);
  Status FilterBlock(Node* n);
  Status With(Node* n);
  Result<std::vector<MacroParam>> Params();
  Result<ExprPtr> FilterChain(ExprPtr input);

  Result<ExprPtr> Tuple(bool with_condexpr = true, bool explicit_parens = false);
  Result<ExprPtr> Expression(bool with_condexpr = true);
  Result<ExprPtr> Or();
  Result<ExprPtr> And();
  Result<ExprPtr> Not();
  Result<ExprPtr> Compare();
  Result<ExprPtr> Math1();
  Result<ExprPtr> Concat();
  Result<ExprPtr> Math2();
  Result<ExprPtr> Pow();
  Result<ExprPtr> Unary(bool with_filter);
  Result<ExprPtr> Primary();
  Result<ExprPtr> Postfix(ExprPtr e);
  Result<ExprPtr> FilterExpr(ExprPtr e);
  Result<ExprPtr> Subscript(ExprPtr e);
  Status CallArgs(Expr* call);
  Result<ExprPtr> Binary(ExprPtr l, std::string op, ExprPtr r) {
    auto e = Make(Expr::kBinary);
    e->name = std::move(op);
    e->args.push_back(std::move(l));
    e->args.push_back(std::move(r));
    return e;
  }

  std::vector<Token> t_;
  size_t i_ = 0;
  int depth_ = 0;
};

struct DepthGuard {
  explicit DepthGuard(int* d) : d_(d) { ++*d_; }
  ~DepthGuard() { --*d_; }
  int* d_;
};

Result<NodeList> Parser::Body(const std::set<std::string>& ends, std::string* end) {
  DepthGuard g(&depth_);
  if (depth_ > kMaxDepth) return Unsup("blocks nested too deeply");
  NodeList nodes;
  while (true) {
    const Token& tok = Cur();
    if (tok.kind == Token::kEof) {
      if (!ends.empty())
        return Fail("unexpected end of template, expected '" + *ends.begin() + "'");
      return nodes;
    }
    if (tok.kind == Token::kData) {
      auto n = std::make_unique<Node>();
      n->kind = Node::kText;
      n->text = tok.text;
      nodes.push_back(std::move(n));
      ++i_;
    } else if (tok.kind == Token::kVarBegin) {
      auto n = std::make_unique<Node>();
      n->kind = Node::kOutput;
      n->line = tok.line;
      ++i_;
      CACHET_ASSIGN_OR_RETURN(n->expr, Tuple());
      if (Cur().kind != Token::kVarEnd) return Fail("expected '}}'" + Found());
      ++i_;
      nodes.push_back(std::move(n));
    } else if (tok.kind == Token::kBlockBegin) {
      ++i_;
      CACHET_ASSIGN_OR_RETURN(std::string kw, ExpectName());
      if (ends.count(kw)) {
        *end = kw;
        return nodes;
      }
      CACHET_ASSIGN_OR_RETURN(auto n, Statement(kw));
      nodes.push_back(std::move(n));
    } else {
      return Fail("unexpected token" + Found());
    }
  }
}

Result<std::unique_ptr<Node>> Parser::Statement(const std::string& kw) {
  auto n = std::make_unique<Node>();
  n->line = Cur().line;
  if (kw == "if") {
    n->kind = Node::kIf;
    CACHET_RETURN_IF_ERROR(If(n.get()));
  } else if (kw == "for") {
    n->kind = Node::kFor;
    CACHET_RETURN_IF_ERROR(For(n.get()));
  } else if (kw == "set") {
    CACHET_RETURN_IF_ERROR(Set(n.get()));
  } else if (kw == "macro") {
    n->kind = Node::kMacro;
    CACHET_RETURN_IF_ERROR(Macro(n.get()));
  } else if (kw == "call") {
    n->kind = Node::kCallBlock;
    CACHET_RETURN_IF_ERROR(CallBlock(n.get()));
  } else if (kw == "filter") {
    n->kind = Node::kFilterBlock;
    CACHET_RETURN_IF_ERROR(FilterBlock(n.get()));
  } else if (kw == "with") {
    n->kind = Node::kWith;
    CACHET_RETURN_IF_ERROR(With(n.get()));
  } else if (kw == "break" || kw == "continue") {
    n->kind = kw == "break" ? Node::kBreak : Node::kContinue;
    CACHET_RETURN_IF_ERROR(ExpectBlockEnd());
  } else if (kw == "generation") {
    n->kind = Node::kGeneration;
    CACHET_RETURN_IF_ERROR(ExpectBlockEnd());
    std::string end;
    CACHET_ASSIGN_OR_RETURN(n->body, Body({"endgeneration"}, &end));
    CACHET_RETURN_IF_ERROR(ExpectBlockEnd());
  } else {
    --i_;
    return Unsup("tag '" + kw + "' is not supported");
  }
  return n;
}

Status Parser::If(Node* n) {
  std::string end = "elif";
  while (end == "elif") {
    CACHET_ASSIGN_OR_RETURN(ExprPtr cond, Tuple(true));
    CACHET_RETURN_IF_ERROR(ExpectBlockEnd());
    CACHET_ASSIGN_OR_RETURN(NodeList body, Body({"elif", "else", "endif"}, &end));
    n->conds.push_back(std::move(cond));
    n->bodies.push_back(std::move(body));
  }
  if (end == "else") {
    CACHET_RETURN_IF_ERROR(ExpectBlockEnd());
    CACHET_ASSIGN_OR_RETURN(n->else_body, Body({"endif"}, &end));
  }
  return ExpectBlockEnd();
}

Status Parser::For(Node* n) {
  do {
    CACHET_ASSIGN_OR_RETURN(std::string t, ExpectName());
    n->targets.push_back(std::move(t));
  } while (SkipOp(","));
  if (!SkipName("in")) return Fail("expected 'in'" + Found());
  CACHET_ASSIGN_OR_RETURN(n->expr, Tuple(/*with_condexpr=*/false));
  if (SkipName("if")) {
    CACHET_ASSIGN_OR_RETURN(n->cond, Expression());
  }
  if (IsName("recursive")) return Unsup("recursive loops are not supported");
  CACHET_RETURN_IF_ERROR(ExpectBlockEnd());
  std::string end;
  CACHET_ASSIGN_OR_RETURN(n->body, Body({"endfor", "else"}, &end));
  if (end == "else") {
    CACHET_RETURN_IF_ERROR(ExpectBlockEnd());
    CACHET_ASSIGN_OR_RETURN(n->else_body, Body({"endfor"}, &end));
  }
  return ExpectBlockEnd();
}

Status Parser::Set(Node* n) {
  n->kind = Node::kSet;
  CACHET_ASSIGN_OR_RETURN(std::string first, ExpectName());
  n->targets.push_back(first);
  if (SkipOp(".")) {
    CACHET_ASSIGN_OR_RETURN(n->ns_attr, ExpectName());
  } else {
    while (SkipOp(",")) {
      CACHET_ASSIGN_OR_RETURN(std::string t, ExpectName());
      n->targets.push_back(std::move(t));
    }
  }
  if (SkipOp("=")) {
    CACHET_ASSIGN_OR_RETURN(n->expr, Tuple());
    return ExpectBlockEnd();
  }
  if (n->targets.size() != 1 || !n->ns_attr.empty()) return Fail("expected '='" + Found());
  n->kind = Node::kSetBlock;
  if (IsOp("|")) {
    CACHET_ASSIGN_OR_RETURN(n->expr, FilterChain(nullptr));
  }
  CACHET_RETURN_IF_ERROR(ExpectBlockEnd());
  std::string end;
  CACHET_ASSIGN_OR_RETURN(n->body, Body({"endset"}, &end));
  return ExpectBlockEnd();
}

Result<std::vector<MacroParam>> Parser::Params() {
  std::vector<MacroParam> params;
  CACHET_RETURN_IF_ERROR(ExpectOp("("));
  while (!SkipOp(")")) {
    if (!params.empty()) CACHET_RETURN_IF_ERROR(ExpectOp(","));
    if (SkipOp(")")) break;
    MacroParam p;
    CACHET_ASSIGN_OR_RETURN(p.name, ExpectName());
    if (SkipOp("=")) {
      CACHET_ASSIGN_OR_RETURN(p.default_value, Expression());
    } else if (!params.empty() && params.back().default_value) {
      return Fail("non-default argument follows default argument");
    }
    params.push_back(std::move(p));
  }
  return params;
}

Status Parser::Macro(Node* n) {
  CACHET_ASSIGN_OR_RETURN(n->name, ExpectName());
  CACHET_ASSIGN_OR_RETURN(n->params, Params());
  CACHET_RETURN_IF_ERROR(ExpectBlockEnd());
  std::string end;
  CACHET_ASSIGN_OR_RETURN(n->body, Body({"endmacro"}, &end));
  if (Cur().kind == Token::kName) ++i_;  // {% endmacro name %}
  return ExpectBlockEnd();
}

Status Parser::CallBlock(Node* n) {
  if (IsOp("(")) {
    CACHET_ASSIGN_OR_RETURN(n->params, Params());
  }
  CACHET_ASSIGN_OR_RETURN(n->expr, Expression());
  if (n->expr->kind != Expr::kCall) return Fail("expected a call after 'call'");
  CACHET_RETURN_IF_ERROR(ExpectBlockEnd());
  std::string end;
  CACHET_ASSIGN_OR_RETURN(n->body, Body({"endcall"}, &end));
  return ExpectBlockEnd();
}

// "| f(args) | g" with a null input (filled in at render time).
Result<ExprPtr> Parser::FilterChain(ExprPtr input) {
  bool first = true;
  while (first ? true : IsOp("|")) {
    if (!first || IsOp("|")) SkipOp("|");
    first = false;
    auto f = Make(Expr::kFilter);
    CACHET_ASSIGN_OR_RETURN(f->name, ExpectName());
    if (!IsKnownFilter(f->name)) return Unsup("no filter named '" + f->name + "'");
    f->args.push_back(std::move(input));
    if (IsOp("(")) CACHET_RETURN_IF_ERROR(CallArgs(f.get()));
    input = std::move(f);
  }
  return input;
}

Status Parser::FilterBlock(Node* n) {
  CACHET_ASSIGN_OR_RETURN(n->expr, FilterChain(nullptr));
  CACHET_RETURN_IF_ERROR(ExpectBlockEnd());
  std::string end;
  CACHET_ASSIGN_OR_RETURN(n->body, Body({"endfilter"}, &end));
  return ExpectBlockEnd();
}

Status Parser::With(Node* n) {
  while (Cur().kind != Token::kBlockEnd) {
    if (!n->targets.empty()) CACHET_RETURN_IF_ERROR(ExpectOp(","));
    CACHET_ASSIGN_OR_RETURN(std::string t, ExpectName());
    CACHET_RETURN_IF_ERROR(ExpectOp("="));
    CACHET_ASSIGN_OR_RETURN(ExprPtr v, Expression());
    n->targets.push_back(std::move(t));
    n->with_values.push_back(std::move(v));
  }
  CACHET_RETURN_IF_ERROR(ExpectBlockEnd());
  std::string end;
  CACHET_ASSIGN_OR_RETURN(n->body, Body({"endwith"}, &end));
  return ExpectBlockEnd();
}

// --- expressions ---

Result<ExprPtr> Parser::Tuple(bool with_condexpr, bool explicit_parens) {
  std::vector<ExprPtr> items;
  bool saw_comma = false;
  while (true) {
    if (!items.empty()) {
      if (!SkipOp(",")) break;
      saw_comma = true;
    }
    if (Cur().kind == Token::kVarEnd || Cur().kind == Token::kBlockEnd || IsOp(")") ||
        (IsName("if") && !with_condexpr) || IsOp("=")) {
      if (items.empty() && !explicit_parens) return Fail("expected an expression" + Found());
      break;
    }
    CACHET_ASSIGN_OR_RETURN(ExprPtr e, Expression(with_condexpr));
    items.push_back(std::move(e));
  }
  if (items.size() == 1 && !saw_comma) return std::move(items[0]);
  auto t = Make(Expr::kTuple);
  t->args = std::move(items);
  return t;
}

Result<ExprPtr> Parser::Expression(bool with_condexpr) {
  DepthGuard g(&depth_);
  if (depth_ > kMaxDepth) return Unsup("expression nested too deeply");
  CACHET_ASSIGN_OR_RETURN(ExprPtr e, Or());
  while (with_condexpr && SkipName("if")) {
    auto c = Make(Expr::kCondExpr);
    CACHET_ASSIGN_OR_RETURN(ExprPtr cond, Or());
    ExprPtr other;
    if (SkipName("else")) {
      CACHET_ASSIGN_OR_RETURN(other, Expression());
    }
    c->args.push_back(std::move(cond));
    c->args.push_back(std::move(e));
    c->args.push_back(std::move(other));
    e = std::move(c);
  }
  return e;
}

Result<ExprPtr> Parser::Or() {
  CACHET_ASSIGN_OR_RETURN(ExprPtr l, And());
  while (SkipName("or")) {
    auto e = Make(Expr::kOr);
    CACHET_ASSIGN_OR_RETURN(ExprPtr r, And());
    e->args.push_back(std::move(l));
    e->args.push_back(std::move(r));
    l = std::move(e);
  }
  return l;
}

Result<ExprPtr> Parser::And() {
  CACHET_ASSIGN_OR_RETURN(ExprPtr l, Not());
  while (SkipName("and")) {
    auto e = Make(Expr::kAnd);
    CACHET_ASSIGN_OR_RETURN(ExprPtr r, Not());
    e->args.push_back(std::move(l));
    e->args.push_back(std::move(r));
    l = std::move(e);
  }
  return l;
}

Result<ExprPtr> Parser::Not() {
  if (SkipName("not")) {
    DepthGuard g(&depth_);
    if (depth_ > kMaxDepth) return Unsup("expression nested too deeply");
    auto e = Make(Expr::kNot);
    CACHET_ASSIGN_OR_RETURN(ExprPtr x, Not());
    e->args.push_back(std::move(x));
    return e;
  }
  return Compare();
}

Result<ExprPtr> Parser::Compare() {
  CACHET_ASSIGN_OR_RETURN(ExprPtr l, Math1());
  ExprPtr cmp;
  while (true) {
    std::string op;
    if (Cur().kind == Token::kOp &&
        (IsOp("==") || IsOp("!=") || IsOp("<") || IsOp(">") || IsOp("<=") || IsOp(">="))) {
      op = Cur().text;
      ++i_;
    } else if (SkipName("in")) {
      op = "in";
    } else if (IsName("not") && Peek().kind == Token::kName && Peek().text == "in") {
      i_ += 2;
      op = "notin";
    } else {
      break;
    }
    if (!cmp) {
      cmp = Make(Expr::kCompare);
      cmp->args.push_back(std::move(l));
    }
    CACHET_ASSIGN_OR_RETURN(ExprPtr r, Math1());
    cmp->ops.push_back(op);
    cmp->args.push_back(std::move(r));
  }
  return cmp ? std::move(cmp) : std::move(l);
}

Result<ExprPtr> Parser::Math1() {
  CACHET_ASSIGN_OR_RETURN(ExprPtr l, Concat());
  while (IsOp("+") || IsOp("-")) {
    std::string op = t_[i_++].text;
    CACHET_ASSIGN_OR_RETURN(ExprPtr r, Concat());
    CACHET_ASSIGN_OR_RETURN(l, Binary(std::move(l), op, std::move(r)));
  }
  return l;
}

Result<ExprPtr> Parser::Concat() {
  CACHET_ASSIGN_OR_RETURN(ExprPtr l, Math2());
  while (SkipOp("~")) {
    CACHET_ASSIGN_OR_RETURN(ExprPtr r, Math2());
    CACHET_ASSIGN_OR_RETURN(l, Binary(std::move(l), "~", std::move(r)));
  }
  return l;
}

Result<ExprPtr> Parser::Math2() {
  CACHET_ASSIGN_OR_RETURN(ExprPtr l, Pow());
  while (IsOp("*") || IsOp("/") || IsOp("//") || IsOp("%")) {
    std::string op = t_[i_++].text;
    CACHET_ASSIGN_OR_RETURN(ExprPtr r, Pow());
    CACHET_ASSIGN_OR_RETURN(l, Binary(std::move(l), op, std::move(r)));
  }
  return l;
}

Result<ExprPtr> Parser::Pow() {
  CACHET_ASSIGN_OR_RETURN(ExprPtr l, Unary(true));
  while (SkipOp("**")) {
    CACHET_ASSIGN_OR_RETURN(ExprPtr r, Unary(true));
    CACHET_ASSIGN_OR_RETURN(l, Binary(std::move(l), "**", std::move(r)));
  }
  return l;
}

Result<ExprPtr> Parser::Unary(bool with_filter) {
  DepthGuard g(&depth_);
  if (depth_ > kMaxDepth) return Unsup("expression nested too deeply");
  ExprPtr e;
  if (IsOp("-") || IsOp("+")) {
    e = Make(IsOp("-") ? Expr::kNeg : Expr::kPos);
    ++i_;
    CACHET_ASSIGN_OR_RETURN(ExprPtr x, Unary(false));
    e->args.push_back(std::move(x));
  } else {
    CACHET_ASSIGN_OR_RETURN(e, Primary());
  }
  CACHET_ASSIGN_OR_RETURN(e, Postfix(std::move(e)));
  if (with_filter) return FilterExpr(std::move(e));
  return e;
}

Result<ExprPtr> Parser::Primary() {
  const Token& tok = Cur();
  auto lit = Make(Expr::kLiteral);
  switch (tok.kind) {
    case Token::kName: {
      const std::string& n = tok.text;
      ++i_;
      if (n == "true" || n == "True") {
        lit->value = Value(true);
      } else if (n == "false" || n == "False") {
        lit->value = Value(false);
      } else if (n == "none" || n == "None") {
        lit->value = Value::None();
      } else {
        auto e = Make(Expr::kName);
        e->name = n;
        return e;
      }
      return lit;
    }
    case Token::kString: {
      std::string s;
      while (Cur().kind == Token::kString) s += t_[i_++].text;
      lit->value = Value(std::move(s));
      return lit;
    }
    case Token::kInt:
      lit->value = Value(tok.int_value);
      ++i_;
      return lit;
    case Token::kFloat:
      lit->value = Value(tok.float_value);
      ++i_;
      return lit;
    default:
      break;
  }
  if (SkipOp("(")) {
    CACHET_ASSIGN_OR_RETURN(ExprPtr e, Tuple(true, true));
    CACHET_RETURN_IF_ERROR(ExpectOp(")"));
    return e;
  }
  if (SkipOp("[")) {
    auto e = Make(Expr::kList);
    while (!SkipOp("]")) {
      if (!e->args.empty()) CACHET_RETURN_IF_ERROR(ExpectOp(","));
      if (SkipOp("]")) break;
      CACHET_ASSIGN_OR_RETURN(ExprPtr x, Expression());
      e->args.push_back(std::move(x));
    }
    return e;
  }
  if (SkipOp("{")) {
    auto e = Make(Expr::kDict);
    while (!SkipOp("}")) {
      if (!e->args.empty()) CACHET_RETURN_IF_ERROR(ExpectOp(","));
      if (SkipOp("}")) break;
      CACHET_ASSIGN_OR_RETURN(ExprPtr k, Expression());
      CACHET_RETURN_IF_ERROR(ExpectOp(":"));
      CACHET_ASSIGN_OR_RETURN(ExprPtr v, Expression());
      e->args.push_back(std::move(k));
      e->args.push_back(std::move(v));
    }
    return e;
  }
  return Fail("unexpected token" + Found());
}

Result<ExprPtr> Parser::Postfix(ExprPtr e) {
  while (true) {
    if (SkipOp(".")) {
      if (Cur().kind == Token::kInt) {
        auto item = Make(Expr::kItem);
        auto idx = Make(Expr::kLiteral);
        idx->value = Value(Cur().int_value);
        ++i_;
        item->args.push_back(std::move(e));
        item->args.push_back(std::move(idx));
        e = std::move(item);
        continue;
      }
      auto a = Make(Expr::kAttr);
      CACHET_ASSIGN_OR_RETURN(a->name, ExpectName());
      a->args.push_back(std::move(e));
      e = std::move(a);
    } else if (SkipOp("[")) {
      CACHET_ASSIGN_OR_RETURN(e, Subscript(std::move(e)));
    } else if (IsOp("(")) {
      auto c = Make(Expr::kCall);
      c->args.push_back(std::move(e));
      CACHET_RETURN_IF_ERROR(CallArgs(c.get()));
      e = std::move(c);
    } else {
      return e;
    }
  }
}

Result<ExprPtr> Parser::Subscript(ExprPtr e) {
  ExprPtr parts[3];
  int n = 0;
  bool is_slice = false;
  while (true) {
    if (IsOp(":")) {
      is_slice = true;
      ++i_;
      if (++n > 2) return Fail("too many ':' in subscript");
      continue;
    }
    if (IsOp("]")) break;
    if (parts[n]) return Fail("expected ']'" + Found());
    CACHET_ASSIGN_OR_RETURN(parts[n], Expression());
  }
  ++i_;  // ]
  if (!is_slice) {
    if (!parts[0]) return Fail("empty subscript");
    auto item = Make(Expr::kItem);
    item->args.push_back(std::move(e));
    item->args.push_back(std::move(parts[0]));
    return item;
  }
  auto s = Make(Expr::kSlice);
  s->args.push_back(std::move(e));
  for (auto& p : parts) s->args.push_back(std::move(p));
  return s;
}

Status Parser::CallArgs(Expr* call) {
  CACHET_RETURN_IF_ERROR(ExpectOp("("));
  bool first = true;
  while (!SkipOp(")")) {
    if (!first) CACHET_RETURN_IF_ERROR(ExpectOp(","));
    first = false;
    if (SkipOp(")")) break;
    if (IsOp("*") || IsOp("**")) return Unsup("*args / **kwargs in calls are not supported");
    if (Cur().kind == Token::kName && Peek().kind == Token::kOp && Peek().text == "=") {
      std::string key = Cur().text;
      i_ += 2;
      CACHET_ASSIGN_OR_RETURN(ExprPtr v, Expression());
      call->kwargs.emplace_back(std::move(key), std::move(v));
      continue;
    }
    if (!call->kwargs.empty()) return Fail("positional argument follows keyword argument");
    CACHET_ASSIGN_OR_RETURN(ExprPtr v, Expression());
    call->args.push_back(std::move(v));
  }
  return Status::Ok();
}

Result<ExprPtr> Parser::FilterExpr(ExprPtr e) {
  while (true) {
    if (SkipOp("|")) {
      auto f = Make(Expr::kFilter);
      CACHET_ASSIGN_OR_RETURN(f->name, ExpectName());
      if (!IsKnownFilter(f->name)) return Unsup("no filter named '" + f->name + "'");
      f->args.push_back(std::move(e));
      if (IsOp("(")) CACHET_RETURN_IF_ERROR(CallArgs(f.get()));
      e = std::move(f);
    } else if (SkipName("is")) {
      auto t = Make(Expr::kTest);
      t->negate = SkipName("not");
      CACHET_ASSIGN_OR_RETURN(t->name, ExpectName());
      if (!IsKnownTest(t->name)) return Unsup("no test named '" + t->name + "'");
      t->args.push_back(std::move(e));
      if (IsOp("(")) {
        CACHET_RETURN_IF_ERROR(CallArgs(t.get()));
      } else if ((Cur().kind == Token::kName || Cur().kind == Token::kString ||
                  Cur().kind == Token::kInt || Cur().kind == Token::kFloat || IsOp("[") ||
                  IsOp("{")) &&
                 !IsName("else") && !IsName("or") && !IsName("and")) {
        if (IsName("is")) return Fail("you cannot chain multiple tests with is");
        CACHET_ASSIGN_OR_RETURN(ExprPtr arg, Primary());
        CACHET_ASSIGN_OR_RETURN(arg, Postfix(std::move(arg)));
        t->args.push_back(std::move(arg));
      }
      e = std::move(t);
    } else if (IsOp("(")) {
      auto c = Make(Expr::kCall);
      c->args.push_back(std::move(e));
      CACHET_RETURN_IF_ERROR(CallArgs(c.get()));
      e = std::move(c);
    } else {
      return e;
    }
  }
}

}  // namespace

Result<NodeList> ParseTemplate(const std::string& source) {
  CACHET_ASSIGN_OR_RETURN(std::vector<Token> toks, Lex(source));
  Parser p(std::move(toks));
  return p.Template();
}

}  // namespace cachet::jinja
