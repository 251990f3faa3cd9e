// The server's configuration file: a small TOML subset, enough for `cachet serve --config`.
//
// Supported: comments (#), blank lines, [section] and [a.b] headers, key = value where value is a
// "basic string" (escapes \" \\ \n \t \r \uXXXX), a 'literal string', an integer (+/-, _ between
// digits), true/false, or a one-line array of those. Keys are bare (A-Za-z0-9_-) and reported as
// "section.key". Anything else (floats, dates, inline tables, multi-line values, duplicate keys)
// is an InvalidArgument naming the line.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace cachet::http {

struct ConfigValue {
  enum class Kind { kString, kInt, kBool, kArray };
  Kind kind = Kind::kString;
  std::string str;               // kString; also the text form of kInt / kBool
  int64_t i = 0;                 // kInt
  bool b = false;                // kBool
  std::vector<ConfigValue> arr;  // kArray
};

using ConfigMap = std::map<std::string, ConfigValue>;

Result<ConfigMap> ParseTomlSubset(std::string_view text);

}  // namespace cachet::http
