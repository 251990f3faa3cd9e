// Tree-walking evaluator for parsed templates (ast.h). One Interpreter renders one template once;
// it is not shared between threads. Limits (RenderLimits) bound what a hostile template can cost:
// output bytes, loop iterations and range() sizes, and call depth (macro recursion).
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/status.h"
#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/value.h"

namespace cachet::jinja {

struct RenderLimits {
  size_t max_output_bytes = size_t{16} << 20;
  int64_t max_iterations = 1'000'000;  // loop iterations + items produced by range()/filters
  int max_call_depth = 64;             // nested macro calls
};

struct Frame {
  std::unordered_map<std::string, Value> vars;
  std::shared_ptr<Frame> parent;
};

class Interpreter {
 public:
  Interpreter(const RenderLimits& limits, const Dict* globals)
      : limits_(limits), globals_(globals) {}

  // Renders `nodes` with `context` as the root variables. Errors: InvalidArgument for a template
  // runtime error (undefined attribute, type error, raise_exception: "...") and
  // ResourceExhausted when a limit is hit.
  Result<std::string> Render(const NodeList& nodes, const Dict& context);

  Result<Value> Call(const Value& fn, Args& args);
  // Counts n units against max_iterations; ResourceExhausted when over.
  Status Tick(int64_t n = 1);
  const RenderLimits& limits() const { return limits_; }
  // Remembers a namespace created during this render (emptied when the render ends).
  void Track(const Value& ns);

 private:
  enum class Flow { kNormal, kBreak, kContinue };
  Result<Flow> Exec(const NodeList& nodes, std::string* out);
  Result<Flow> ExecNode(const Node& n, std::string* out);
  Result<Flow> ExecIf(const Node& n, std::string* out);
  Result<Flow> ExecFor(const Node& n, std::string* out);
  Status BindLoopTargets(const Node& n, const Value& item);
  Result<std::vector<Value>> FilterLoopItems(const Node& n, std::vector<Value> items);
  Status ExecSet(const Node& n);
  Status ExecSetBlock(const Node& n);
  Status ExecCallBlock(const Node& n, std::string* out);
  Status ExecFilterBlock(const Node& n, std::string* out);
  Result<Flow> ExecWith(const Node& n, std::string* out);
  Value MakeMacro(const Node& n, std::shared_ptr<Frame> closure);
  Result<Value> InvokeMacro(const Node& n, const std::shared_ptr<Frame>& closure, Args& args,
                            bool is_caller);
  Status Append(std::string* out, const std::string& s);

  Result<Value> Eval(const Expr& e);
  Result<Value> EvalInner(const Expr& e);
  Result<Value> EvalDisplay(const Expr& e);
  Result<Value> EvalUnary(const Expr& e);
  Result<Value> EvalLogic(const Expr& e);
  Result<Value> EvalName(const Expr& e);
  Result<Value> EvalItem(const Expr& e);
  Result<Value> EvalSlice(const Expr& e);
  Result<Value> EvalCall(const Expr& e);
  Result<Value> EvalFilter(const Expr& e, const Value* input);
  Result<Value> EvalTest(const Expr& e);
  Result<Value> EvalCompare(const Expr& e);
  Status EvalArgs(const Expr& e, size_t first, Args* args);

  void SetVar(const std::string& name, Value v) { frame_->vars[name] = std::move(v); }
  const Value* Lookup(const std::string& name) const;

  RenderLimits limits_;
  const Dict* globals_;
  std::shared_ptr<Frame> frame_;
  size_t output_bytes_ = 0;
  int64_t iterations_ = 0;
  int call_depth_ = 0;
  std::vector<Value> namespaces_;
  std::unordered_set<const Dict*> namespace_set_;
};

// Python binary operators on values (+ - * / // % ** ~) and comparisons (== != < > <= >= in).
Result<Value> BinaryOp(const std::string& op, const Value& a, const Value& b);
Result<bool> CompareOp(const std::string& op, const Value& a, const Value& b);
// Error for using an undefined value: "'name' is undefined".
Status UndefinedError(const Value& v);

}  // namespace cachet::jinja
