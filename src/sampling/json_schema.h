// JSON schema subset -> JsonGrammar: the node graph the byte-level JSON matcher walks.
//
// Supported (everything else is refused with InvalidArgument naming the schema path, e.g.
// "response_format.json_schema.schema.properties.age.type: unsupported type 'date'"):
//   type: object | array | string | number | integer | boolean | null (a list of types = anyOf)
//   object: properties, required, additionalProperties (true/false/absent)
//   array: items
//   enum, const (any JSON values), anyOf (alternatives must start with different bytes,
//   e.g. a string and a number, an object and null), {} / true = any JSON value.
// Ignored annotations: title, description, default, examples, $schema, format, strict, and the
// length/range/pattern keywords (they narrow the set; the matcher does not enforce them).
//
// Output policy (what the matcher accepts, so outputs stay short and deterministic):
//   - no whitespace anywhere (compact JSON);
//   - objects with `properties` emit them in schema order; optional ones may be skipped,
//     required ones may not; no other keys are produced even when additionalProperties allows
//     them (the output is still valid under the schema). An object schema without properties
//     (and additionalProperties not false) accepts any JSON object;
//   - enum/const values must appear exactly as SerializeJson writes them.
// Limits: schema nesting <= kMaxSchemaDepth, <= kMaxSchemaNodes nodes, <= 64 properties per
// object, <= kMaxEnumValues enum values; the matched value nests at most
// kMaxFrames (json_matcher.h) containers deep.
//
// Thread-safety: a JsonGrammar is immutable after compilation and may be shared.
#pragma once

#include <bitset>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "sampling/json_value.h"

namespace cachet::sampling {

inline constexpr int kMaxSchemaDepth = 16;
inline constexpr int kMaxSchemaNodes = 2048;
inline constexpr int kMaxProperties = 64;
inline constexpr int kMaxEnumValues = 1024;

struct JsonGrammar {
  enum class Kind : uint8_t {
    kAny,        // any JSON value (dispatches on the first byte to the nodes below)
    kAnyOf,      // alternatives, chosen by the first byte
    kObject,     // properties in order
    kAnyObject,  // any keys, values kAny
    kArray,      // items = child
    kString,
    kNumber,
    kInteger,
    kLiterals,  // exact texts (enum/const/true/false/null), sorted
  };
  struct Property {
    std::string key;  // serialized, with quotes: "\"name\""
    int32_t node = 0;
    bool required = false;
  };
  struct Node {
    Kind kind = Kind::kAny;
    int32_t child = -1;             // kArray items
    std::vector<int32_t> alts;      // kAnyOf
    std::vector<Property> props;    // kObject
    std::vector<std::string> lits;  // kLiterals, sorted, distinct
    std::bitset<256> first;         // bytes that can start this value
  };
  std::vector<Node> nodes;
  int32_t root = 0;
  // Shared nodes of the any-value machinery.
  int32_t any = -1, any_object = -1, any_array = -1, string = -1, number = -1, keywords = -1;
};

// A grammar accepting any JSON object (response_format json_object).
JsonGrammar JsonObjectGrammar();

// Compiles `schema` (JSON text). `path` prefixes error messages (the request field holding the
// schema). Errors: InvalidArgument for malformed JSON, unsupported keywords/values, ambiguous
// anyOf, or limits exceeded.
Result<JsonGrammar> CompileJsonSchema(std::string_view schema, std::string_view path);
Result<JsonGrammar> CompileJsonSchema(const JsonValue& schema, std::string_view path);

}  // namespace cachet::sampling
