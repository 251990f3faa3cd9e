// Python str operations on UTF-8 strings (code-point based where Python is).
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "tokenizer/jinja/value.h"

namespace cachet::jinja {

bool IsPyWhitespace(char32_t c);
// str.strip/lstrip/rstrip; chars == nullptr strips whitespace, else the code points in *chars.
std::string PyStrip(const std::string& s, const std::string* chars, bool left, bool right);
// str.split / str.rsplit; sep == nullptr splits on whitespace runs. maxsplit < 0: no limit.
Result<std::vector<std::string>> PySplit(const std::string& s, const std::string* sep,
                                         int64_t maxsplit, bool from_right);
std::string PyReplace(const std::string& s, const std::string& old, const std::string& repl,
                      int64_t count);
// ASCII case mapping; other code points are left unchanged.
std::string AsciiLower(std::string s);
std::string AsciiUpper(std::string s);
// str.lower() / str.upper() for Latin, Greek, Cyrillic and fullwidth Latin (case_map.cc);
// other scripts are left unchanged.
std::string UnicodeLower(const std::string& s);
std::string UnicodeUpper(const std::string& s);
std::string PyTitle(const std::string& s);       // str.title()
std::string PyCapitalize(const std::string& s);  // str.capitalize()
std::string JinjaTitle(const std::string& s);    // the |title filter
// str.splitlines(keepends).
std::vector<std::string> PySplitLines(const std::string& s, bool keepends);
// str.format with "{}", "{0}", "{name}", "{{", "}}"; format specs/conversions -> Unsupported.
Result<std::string> PyFormat(const std::string& fmt, const Args& args, size_t first_positional);
std::string HtmlEscape(const std::string& s);
// Python printf-style formatting (fmt % args) for %s %r %d %i %%; other conversions, flags and
// widths -> Unsupported; argument count mismatch -> InvalidArgument.
Result<std::string> PyPercentFormat(const std::string& fmt, const std::vector<Value>& args);

}  // namespace cachet::jinja
