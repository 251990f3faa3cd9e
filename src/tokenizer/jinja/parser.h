// Jinja2 parser: tokens (lexer.h) -> syntax tree (ast.h).
//
// Every construct is checked here, so a template that parses renders without "unsupported"
// surprises: unknown filters and tests, and tags we do not implement (extends, block, include,
// import, from, recursive loops, ...) are Unsupported errors naming the line; syntax errors are
// InvalidArgument naming the line.
#pragma once

#include <string>

#include "base/status.h"
#include "tokenizer/jinja/ast.h"

namespace cachet::jinja {

Result<NodeList> ParseTemplate(const std::string& source);

}  // namespace cachet::jinja
