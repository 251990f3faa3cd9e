// Filters, tests, global functions and value methods (str.strip, dict.items, ...).
#pragma once

#include <string>

#include "base/status.h"
#include "tokenizer/jinja/value.h"

namespace cachet::jinja {

bool IsKnownFilter(const std::string& name);
bool IsKnownTest(const std::string& name);

// Applies filter `name` to args.positional[0] (the input) and the remaining args.
Result<Value> ApplyFilter(Interpreter& in, const std::string& name, Args& args);
// Applies test `name`; args.positional[0] is the tested value.
Result<bool> ApplyTest(Interpreter& in, const std::string& name, Args& args);
// Attribute lookup that finds methods: str.strip, dict.items, ...; otherwise dict keys.
// Returns Undefined (named `attr`) when nothing matches.
Value GetAttr(const Value& obj, const std::string& attr);
// Global functions: range, namespace, dict, raise_exception, strftime_now.
void AddGlobals(Dict* globals);

}  // namespace cachet::jinja
