#include "api/api_error.h"

#include <nlohmann/json.hpp>

namespace cachet::api {

namespace {

struct ErrorRow {
  ErrorKind kind;
  int openai_status;
  const char* openai_type;
  const char* openai_code;  // default code, may be ""
  int anthropic_status;
  const char* anthropic_type;
};

// The one table: error kind -> each protocol's status and type.
constexpr ErrorRow kErrors[] = {
    {ErrorKind::kInvalidRequest, 400, "invalid_request_error", "", 400, "invalid_request_error"},
    {ErrorKind::kAuthentication, 401, "invalid_request_error", "invalid_api_key", 401,
     "authentication_error"},
    {ErrorKind::kInsufficientBalance, 402, "insufficient_quota", "insufficient_quota", 402,
     "billing_error"},
    {ErrorKind::kPermission, 403, "permission_error", "", 403, "permission_error"},
    {ErrorKind::kNotFound, 404, "invalid_request_error", "unknown_url", 404, "not_found_error"},
    {ErrorKind::kModelNotFound, 404, "invalid_request_error", "model_not_found", 404,
     "not_found_error"},
    {ErrorKind::kRequestTooLarge, 413, "invalid_request_error", "request_too_large", 413,
     "request_too_large"},
    {ErrorKind::kUnprocessable, 422, "invalid_request_error", "", 422, "invalid_request_error"},
    {ErrorKind::kRateLimit, 429, "rate_limit_error", "rate_limit_exceeded", 429,
     "rate_limit_error"},
    {ErrorKind::kInternal, 500, "server_error", "", 500, "api_error"},
    {ErrorKind::kOverloaded, 503, "server_error", "overloaded", 529, "overloaded_error"},
};

const ErrorRow& Row(ErrorKind kind) {
  for (const ErrorRow& r : kErrors) {
    if (r.kind == kind) return r;
  }
  return kErrors[9];  // kInternal
}

}  // namespace

int HttpStatus(Protocol protocol, ErrorKind kind) {
  const ErrorRow& r = Row(kind);
  return protocol == Protocol::kOpenAI ? r.openai_status : r.anthropic_status;
}

std::string ErrorType(Protocol protocol, ErrorKind kind) {
  const ErrorRow& r = Row(kind);
  return protocol == Protocol::kOpenAI ? r.openai_type : r.anthropic_type;
}

std::string RenderError(Protocol protocol, const ApiError& e) {
  using nlohmann::json;
  const ErrorRow& r = Row(e.kind);
  if (protocol == Protocol::kAnthropic) {
    json j = {{"type", "error"}, {"error", {{"type", r.anthropic_type}, {"message", e.message}}}};
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
  }
  const std::string code = e.code.empty() ? r.openai_code : e.code;
  json err = {{"message", e.message}, {"type", r.openai_type}};
  err["param"] = e.param.empty() ? json(nullptr) : json(e.param);
  err["code"] = code.empty() ? json(nullptr) : json(code);
  return json{{"error", err}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

ApiError FromStatus(const Status& s) {
  switch (s.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kOutOfRange:
    case StatusCode::kUnsupported:
      return ApiError{ErrorKind::kInvalidRequest, s.message(), "", "", 0};
    case StatusCode::kNotFound:
      return ApiError{ErrorKind::kNotFound, s.message(), "", "", 0};
    case StatusCode::kUnauthenticated:
      return ApiError{ErrorKind::kAuthentication, s.message(), "", "", 0};
    case StatusCode::kPermissionDenied:
      return ApiError{ErrorKind::kPermission, s.message(), "", "", 0};
    case StatusCode::kResourceExhausted:
    case StatusCode::kUnavailable:
    case StatusCode::kDeadlineExceeded:
      return ApiError{ErrorKind::kOverloaded,
                      "the server is overloaded (" + s.message() + "); retry later", "", "", 1};
    default:
      return ApiError{ErrorKind::kInternal,
                      "internal error: " + std::string(StatusCodeText(s.code())), "", "", 0};
  }
}

Protocol ProtocolForPath(const std::string& path) {
  if (path.rfind("/anthropic/", 0) == 0 || path.rfind("/v1/messages", 0) == 0) {
    return Protocol::kAnthropic;
  }
  return Protocol::kOpenAI;
}

}  // namespace cachet::api
