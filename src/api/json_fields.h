// Typed access to request JSON with errors that name the field (internal to api/).
// Every accessor returns std::nullopt on success (or when the field is absent/null and optional)
// and an ApiError (400, param = the field's path) when the value has the wrong type or range.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "api/api_error.h"

namespace cachet::api {

using json = nlohmann::ordered_json;
using MaybeError = std::optional<ApiError>;

// Parses a request body: invalid JSON, nesting deeper than max_depth, or a non-object top level
// are 400s. Never throws.
MaybeError ParseBody(std::string_view body, int max_depth, json* out);

MaybeError GetString(const json& obj, const char* key, const std::string& path, std::string* out,
                     bool required = false);
MaybeError GetBool(const json& obj, const char* key, const std::string& path, bool* out);
MaybeError GetNumber(const json& obj, const char* key, const std::string& path, double lo,
                     double hi, double* out, bool* present = nullptr);
MaybeError GetInt(const json& obj, const char* key, const std::string& path, int64_t lo, int64_t hi,
                  int64_t* out, bool* present = nullptr);

// "messages[2].content" style paths.
std::string FieldPath(const std::string& parent, const char* key);
std::string IndexPath(const std::string& parent, size_t i);

// The JSON type name for messages ("a string", "an object", ...).
const char* TypeName(const json& v);

// dump() that never throws on invalid UTF-8 (replaces it).
std::string Dump(const json& j);

}  // namespace cachet::api
