#include "api/json_fields.h"

#include <cmath>

namespace cachet::api {

namespace {

// Nesting depth of JSON text, scanning brackets outside strings (the parser itself would accept
// any depth; rejecting early bounds its memory and keeps recursive consumers safe).
int MaxDepth(std::string_view s) {
  int depth = 0, max_depth = 0;
  bool in_string = false, escaped = false;
  for (char c : s) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      max_depth = std::max(max_depth, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return max_depth;
}

ApiError TypeError(const std::string& path, const char* want, const json& got) {
  return InvalidRequest("'" + path + "' must be " + want + ", got " + TypeName(got), path);
}

}  // namespace

const char* TypeName(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    case json::value_t::string:
      return "a string";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "an integer";
    case json::value_t::number_float:
      return "a number";
    default:
      return "an unknown value";
  }
}

MaybeError ParseBody(std::string_view body, int max_depth, json* out) {
  if (MaxDepth(body) > max_depth) {
    return InvalidRequest("request body is nested deeper than " + std::to_string(max_depth));
  }
  *out = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (out->is_discarded()) {
    return InvalidRequest(body.empty() ? "request body is empty"
                                       : "request body is not valid JSON");
  }
  if (!out->is_object()) return InvalidRequest("request body must be a JSON object");
  return std::nullopt;
}

std::string FieldPath(const std::string& parent, const char* key) {
  return parent.empty() ? std::string(key) : parent + "." + key;
}

std::string IndexPath(const std::string& parent, size_t i) {
  return parent + "[" + std::to_string(i) + "]";
}

MaybeError GetString(const json& obj, const char* key, const std::string& path, std::string* out,
                     bool required) {
  auto it = obj.find(key);
  const std::string p = FieldPath(path, key);
  if (it == obj.end() || it->is_null()) {
    if (required) return InvalidRequest("'" + p + "' is required", p);
    return std::nullopt;
  }
  if (!it->is_string()) return TypeError(p, "a string", *it);
  *out = it->get<std::string>();
  return std::nullopt;
}

MaybeError GetBool(const json& obj, const char* key, const std::string& path, bool* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean()) return TypeError(FieldPath(path, key), "a boolean", *it);
  *out = it->get<bool>();
  return std::nullopt;
}

MaybeError GetNumber(const json& obj, const char* key, const std::string& path, double lo,
                     double hi, double* out, bool* present) {
  auto it = obj.find(key);
  if (present) *present = false;
  if (it == obj.end() || it->is_null()) return std::nullopt;
  const std::string p = FieldPath(path, key);
  if (!it->is_number()) return TypeError(p, "a number", *it);
  const double v = it->get<double>();
  if (!std::isfinite(v) || v < lo || v > hi) {
    char buf[160];
    std::snprintf(buf, sizeof(buf), "'%s' must be between %g and %g, got %g", p.c_str(), lo, hi, v);
    return InvalidRequest(buf, p);
  }
  *out = v;
  if (present) *present = true;
  return std::nullopt;
}

MaybeError GetInt(const json& obj, const char* key, const std::string& path, int64_t lo, int64_t hi,
                  int64_t* out, bool* present) {
  auto it = obj.find(key);
  if (present) *present = false;
  if (it == obj.end() || it->is_null()) return std::nullopt;
  const std::string p = FieldPath(path, key);
  int64_t v = 0;
  if (it->is_number_integer()) {
    v = it->get<int64_t>();
  } else if (it->is_number_unsigned()) {
    const uint64_t u = it->get<uint64_t>();
    v = u > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(u);
  } else if (it->is_number_float() && std::floor(it->get<double>()) == it->get<double>() &&
             std::fabs(it->get<double>()) < 9e15) {
    v = static_cast<int64_t>(it->get<double>());
  } else {
    return TypeError(p, "an integer", *it);
  }
  if (v < lo || v > hi) {
    return InvalidRequest("'" + p + "' must be between " + std::to_string(lo) + " and " +
                              std::to_string(hi) + ", got " + std::to_string(v),
                          p);
  }
  *out = v;
  if (present) *present = true;
  return std::nullopt;
}

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace cachet::api
