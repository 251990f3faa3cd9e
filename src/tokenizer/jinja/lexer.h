// Jinja2 lexer with the whitespace rules Hugging Face renders chat templates with:
// trim_blocks=True (the first newline after a block or comment tag is removed), lstrip_blocks=True
// (spaces/tabs before a block or comment tag at the start of a line are removed; `{%+` keeps
// them), `-` markers strip all whitespace on that side, keep_trailing_newline=False (one trailing
// newline of the source is dropped), newlines normalized to "\n". Comments are dropped.
// `{% raw %}...{% endraw %}` becomes one data token.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace cachet::jinja {

struct Token {
  enum Kind {
    kData,
    kVarBegin,
    kVarEnd,
    kBlockBegin,
    kBlockEnd,
    kName,
    kString,
    kInt,
    kFloat,
    kOp,
    kEof
  };
  Kind kind = kEof;
  std::string text;  // data, name, operator, or the decoded string literal
  int64_t int_value = 0;
  double float_value = 0;
  int line = 1;
};

// InvalidArgument "line N: ..." for an unterminated tag, comment or string, a bad escape or an
// unexpected character.
Result<std::vector<Token>> Lex(const std::string& source);

}  // namespace cachet::jinja
