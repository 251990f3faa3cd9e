// JsonValue: a small, bounded JSON document tree for the sampling module (schemas, tests).
//
// The sampling module sits below api/ and links no JSON library (conventions: JSON libraries
// only in api/); the API layer hands it schemas as JSON text. Numbers keep their source text
// (schemas only compare them as text or read small integers).
//
// Thread-safety: values are plain data.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace cachet::sampling {

struct JsonValue {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  bool boolean = false;
  std::string text;              // kString: decoded UTF-8; kNumber: the number as written
  std::vector<JsonValue> items;  // kArray
  std::vector<std::pair<std::string, JsonValue>> members;  // kObject, in source order

  // The member named `key`, or nullptr (first one when a key repeats).
  const JsonValue* Find(std::string_view key) const;
};

// Parses one JSON value (RFC 8259; whitespace around it allowed). Errors: InvalidArgument with
// the byte offset for malformed text, nesting deeper than `max_depth`, or trailing bytes.
Result<JsonValue> ParseJson(std::string_view text, int max_depth = 64);

// Compact serialization: no whitespace, members in stored order, strings escaped minimally
// (\" \\ and control characters as \b \f \n \r \t or \u00XX; everything else, including
// non-ASCII UTF-8, written as is). This is the exact text the JSON matcher expects for enum /
// const values.
std::string SerializeJson(const JsonValue& v);
void AppendJsonString(std::string_view s, std::string* out);

}  // namespace cachet::sampling
