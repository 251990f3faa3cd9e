// Syntax tree of a parsed template (built by parser.cc, walked by interpreter.cc).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/jinja/value.h"

namespace cachet::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum Kind {
    kLiteral,   // value
    kName,      // name
    kList,      // args
    kTuple,     // args
    kDict,      // args: key0, value0, key1, value1, ...
    kAttr,      // args[0] . name
    kItem,      // args[0] [ args[1] ]
    kSlice,     // args[0] [ args[1] : args[2] : args[3] ]  (null entries = omitted)
    kCall,      // args[0] ( args[1..], kwargs )
    kFilter,    // name: filter; args[0] = input (null inside {% filter %}); args[1..], kwargs
    kTest,      // name: test; args[0] = input, args[1..], kwargs; negate
    kNeg,       // - args[0]
    kPos,       // + args[0]
    kNot,       // not args[0]
    kAnd,       // args[0] and args[1]
    kOr,        // args[0] or args[1]
    kBinary,    // args[0] name args[1]: + - * / // % ** ~
    kCompare,   // args[0] ops[0] args[1] ops[1] args[2] ...  (==, !=, <, >, <=, >=, in, notin)
    kCondExpr,  // args[1] if args[0] else args[2] (args[2] may be null)
  };
  Kind kind = kLiteral;
  int line = 0;
  Value value;
  std::string name;
  bool negate = false;
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  std::vector<std::string> ops;
};

struct Node;
using NodeList = std::vector<std::unique_ptr<Node>>;

struct MacroParam {
  std::string name;
  ExprPtr default_value;  // may be null
};

struct Node {
  enum Kind {
    kText,         // text
    kOutput,       // {{ expr }}
    kIf,           // conds[i] -> bodies[i]; else_body
    kFor,          // targets in expr [if cond]: body; else_body
    kSet,          // targets (or ns_attr on targets[0]) = expr
    kSetBlock,     // targets[0] = rendered body | filter chain (expr, input null)
    kMacro,        // name(params): body
    kCallBlock,    // caller(params) = body; expr = the call
    kFilterBlock,  // body | filter chain (expr)
    kWith,         // targets[i] = with_values[i]; body
    kBreak,
    kContinue,
    kGeneration,  // {% generation %} body (rendered as is)
  };
  Kind kind = kText;
  int line = 0;
  std::string text;
  std::string name;
  std::string ns_attr;
  ExprPtr expr;
  ExprPtr cond;
  std::vector<std::string> targets;
  std::vector<ExprPtr> conds;
  std::vector<NodeList> bodies;
  NodeList body;
  NodeList else_body;
  std::vector<MacroParam> params;
  std::vector<ExprPtr> with_values;
};

}  // namespace cachet::jinja
