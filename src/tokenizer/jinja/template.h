// Chat templates: a Jinja2 interpreter sufficient for the templates models ship
// (tokenizer_config.json "chat_template", GGUF tokenizer.chat_template), rendering exactly as
// Hugging Face transformers does: jinja2 ImmutableSandboxedEnvironment with trim_blocks=True,
// lstrip_blocks=True, loop controls, and HF's tojson / raise_exception / strftime_now.
//
// Supported: text, {{ }}, {# #}, whitespace control (-, +), raw; if/elif/else, for (else,
// `if` filter, unpacking, loop.*, break/continue), set (names, tuples, namespace attributes,
// block set), macro (defaults, varargs/kwargs, caller), call blocks, filter blocks, with,
// generation; the expression language (literals, lists, dicts, tuples, attribute/item access,
// slices, calls, filters, tests, arithmetic, ~, comparisons, in / not in, and/or/not, inline if);
// the filters and tests listed in builtins.cc; str/dict methods in methods.cc; globals range,
// namespace, dict, raise_exception, strftime_now.
// Not supported (Parse returns Unsupported naming the line): extends/block/include/import/from,
// recursive loops, *args/**kwargs at call sites, unknown filters/tests; at render time `%`
// formatting beyond %s %r %d %i %% and str.format specs are Unsupported.
// Known differences from CPython: upper/lower/title/capitalize map ASCII letters only;
// escape/safe return plain strings (no Markup propagation).
//
// Undefined follows jinja2's default Undefined: prints as "", is falsy, iterates as empty, has
// length 0; attribute/item access on it, calling it, arithmetic and ordering raise an error.
//
// Thread-safety: a Template is immutable after Parse; Render may run concurrently from many
// threads (each call uses its own interpreter state).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "base/status.h"
#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/value.h"

namespace cachet::jinja {

class Template {
 public:
  // InvalidArgument for syntax errors, Unsupported for constructs listed above; both name the
  // template line.
  static Result<Template> Parse(const std::string& source);

  // Renders with `context` (a dict: its keys become variables). Errors: InvalidArgument for
  // runtime errors (undefined attribute access, type errors, raise_exception("msg") -> the
  // message contains "template raised an exception: msg"), ResourceExhausted for limits.
  Result<std::string> Render(const Value& context, const RenderLimits& limits = {}) const;

 private:
  std::shared_ptr<const NodeList> nodes_;
  std::shared_ptr<const Dict> globals_;
};

struct ChatRequest {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  nlohmann::ordered_json tools;      // null (rendered as None) or an array
  nlohmann::ordered_json documents;  // null or an array
  bool add_generation_prompt = true;
  std::string bos_token, eos_token;
  // Extra template variables (enable_thinking, thinking, date_string, ...): an object or null.
  nlohmann::ordered_json extra;
};

// Renders a chat the way transformers' apply_chat_template does: variables messages, tools,
// documents, add_generation_prompt, bos_token, eos_token and every key of `extra`.
// InvalidArgument when messages is not an array or extra is not an object/null; otherwise as
// Template::Render.
Result<std::string> RenderChat(const Template& t, const ChatRequest& req,
                               const RenderLimits& limits = {});

// Convenience for callers holding nlohmann::json (object keys sorted by the container, which
// changes tojson output order compared to the request: prefer ordered_json).
Result<std::string> RenderChat(const Template& t, const nlohmann::json& messages,
                               const nlohmann::json& tools, bool add_generation_prompt,
                               const std::string& bos_token, const std::string& eos_token,
                               const nlohmann::json& extra = nullptr);

}  // namespace cachet::jinja
